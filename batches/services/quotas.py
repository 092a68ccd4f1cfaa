"""The agreed daily quota: setting it, and how many places are left."""

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event

from ..models import (
    Batch,
    BatchMember,
    BatchStatus,
    Crossing,
    CrossingQuota,
    Direction,
    InformationSource,
    Outcome,
)
from .crossings import crossing_of

# Batches that hold places: prepared and later, but not drafts (not yet a plan) or cancelled ones.
HOLDS_PLACES = (
    BatchStatus.PREPARED,
    BatchStatus.SUBMITTED,
    BatchStatus.CLEARED,
    BatchStatus.IN_TRANSIT,
    BatchStatus.CROSSED,
)
QUOTA_NOTE_MAX_LENGTH = 2000


def _numbers(quota: CrossingQuota) -> dict[str, int]:
    """The agreed numbers as events keep them, in the words of the quota's direction."""
    if quota.direction == Direction.EXIT:
        return {"patients": quota.agreed_patients, "companions": quota.agreed_companions}
    return {"returnees": quota.agreed_patients}


@transaction.atomic
def quota_set(
    *,
    actor,
    crossing: Crossing | str | None,
    day: date,
    direction: str,
    agreed_patients: int | None = None,
    agreed_companions: int | None = None,
    agreed_returnees: int | None = None,
    source: str = "",
    reason_text: str = "",
) -> CrossingQuota:
    """Create or change the agreed numbers of one day, crossing and direction.

    Out (exit): `agreed_patients` and `agreed_companions`, both required. Back in (return):
    `agreed_returnees` only; a return quota has no companions, and giving some (or
    `agreed_patients`) is refused naming the field. Each creation and each change is an event
    with the old and new numbers, who agreed them (`source`: required for a change, as a
    changed number must say who changed the agreement) and an optional note. Setting the same
    numbers again changes nothing and records nothing."""
    errors = {}
    try:
        crossing = crossing_of(crossing)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if direction not in Direction.values:
        errors["direction"] = _("must be one of %(values)s") % {"values": Direction.values}
    if direction == Direction.RETURN:
        for name, value in (
            ("agreed_companions", agreed_companions),
            ("agreed_patients", agreed_patients),
        ):
            if value is not None:
                errors[name] = _(
                    "a return quota counts returnees only: give agreed_returnees, "
                    "and no patients or companions"
                )
        numbers = {"agreed_returnees": agreed_returnees}
    else:
        if agreed_returnees is not None:
            errors["agreed_returnees"] = _(
                "an exit quota counts patients and companions: give agreed_patients "
                "and agreed_companions"
            )
        numbers = {"agreed_patients": agreed_patients, "agreed_companions": agreed_companions}
    for name, value in numbers.items():
        if value is None:
            errors.setdefault(name, _("this field is required"))
        elif value < 0:
            errors.setdefault(name, _("must be zero or more"))
    if source and source not in InformationSource.values:
        errors["source"] = _("must be one of %(values)s") % {"values": InformationSource.values}
    reason_text = (reason_text or "").strip()
    if len(reason_text) > QUOTA_NOTE_MAX_LENGTH:
        errors["reason_text"] = _("at most %(limit)d characters, not %(length)d") % {
            "limit": QUOTA_NOTE_MAX_LENGTH,
            "length": len(reason_text),
        }
    if errors:
        raise ValidationError(errors)
    if direction == Direction.RETURN:
        agreed_patients, agreed_companions = agreed_returnees, 0
    key = {"crossing": crossing, "date": day, "direction": direction}
    quota = CrossingQuota.objects.select_for_update().filter(**key).first()
    old = None
    if quota is None:
        try:
            with transaction.atomic():
                quota = CrossingQuota.objects.create(
                    **key, agreed_patients=agreed_patients, agreed_companions=agreed_companions
                )
        except IntegrityError:
            # Someone set the day's first numbers meanwhile: this call changes them.
            quota = CrossingQuota.objects.select_for_update().get(**key)
            old = _numbers(quota)
    else:
        old = _numbers(quota)
    if old is not None:
        if (quota.agreed_patients, quota.agreed_companions) == (
            agreed_patients,
            agreed_companions,
        ):
            return quota
        if not source:
            raise ValidationError({"source": _("say who agreed the new numbers (who informed us)")})
        quota.agreed_patients = agreed_patients
        quota.agreed_companions = agreed_companions
        quota.save(update_fields=["agreed_patients", "agreed_companions"])
    record_event(
        subject_type=SubjectType.QUOTA,
        subject_ref=quota.reference,
        action=Action.CREATE if old is None else Action.QUOTA_CHANGE,
        actor=actor,
        reason_text=reason_text,
        source=source,
        details={
            "crossing": crossing.code,
            "date": day.isoformat(),
            "direction": direction,
            "old": old,
            "new": _numbers(quota),
        },
    )
    return quota


@dataclass(frozen=True)
class PlacesLeft:
    quota: CrossingQuota
    patients: int
    companions: int


def places_left(batch: Batch, *, lock: bool = False) -> PlacesLeft | None:
    """Places left on the batch's day, not counting the batch itself; None without a quota.
    With `lock`, the quota row is locked so two batches of one day are prepared one at a time."""
    return places_left_on(
        crossing=batch.crossing_id,
        day=batch.planned_date,
        direction=batch.direction,
        exclude=batch,
        lock=lock,
    )


def places_left_on(
    *,
    crossing: Crossing | str,
    day: date,
    direction: str,
    exclude: Batch | None = None,
    lock: bool = False,
) -> PlacesLeft | None:
    """Places left in the agreed quota of one day, crossing (instance or code) and direction,
    after the batches that hold places (prepared and later; `exclude` left out); None without
    a quota. For a return direction `patients` counts returnees."""
    quotas = CrossingQuota.objects.filter(crossing=crossing, date=day, direction=direction)
    quota = (quotas.select_for_update() if lock else quotas).first()
    if quota is None:
        return None
    taken = BatchMember.objects.filter(
        batch__crossing=crossing,
        batch__planned_date=day,
        batch__direction=direction,
        batch__status__in=HOLDS_PLACES,
    ).filter(Q(is_open=True) | Q(outcome=Outcome.CROSSED))
    if exclude is not None:
        taken = taken.exclude(batch=exclude)
    if direction == Direction.EXIT:
        people = taken.filter(patient__isnull=False).count()
    else:
        people = taken.filter(returnee__isnull=False).count()
    companions = taken.filter(companion__isnull=False).count()
    return PlacesLeft(
        quota=quota,
        patients=quota.agreed_patients - people,
        companions=quota.agreed_companions - companions,
    )
