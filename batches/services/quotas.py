"""The agreed daily quota: setting it, and how many places are left."""

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from ..models import (
    Batch,
    BatchMember,
    BatchStatus,
    Crossing,
    CrossingQuota,
    Direction,
    Outcome,
)

# Batches that hold places: prepared and later, but not drafts (not yet a plan) or cancelled ones.
HOLDS_PLACES = (
    BatchStatus.PREPARED,
    BatchStatus.SUBMITTED,
    BatchStatus.CLEARED,
    BatchStatus.IN_TRANSIT,
    BatchStatus.CROSSED,
)


@transaction.atomic
def quota_set(
    *, crossing: str, day: date, direction: str, agreed_patients: int, agreed_companions: int
) -> CrossingQuota:
    """Create or change the agreed numbers for one day, crossing and direction."""
    errors = {}
    if crossing not in Crossing.values:
        errors["crossing"] = _("must be one of %(values)s") % {"values": Crossing.values}
    if direction not in Direction.values:
        errors["direction"] = _("must be one of %(values)s") % {"values": Direction.values}
    for name, value in (
        ("agreed_patients", agreed_patients),
        ("agreed_companions", agreed_companions),
    ):
        if value < 0:
            errors[name] = _("must be zero or more")
    if errors:
        raise ValidationError(errors)
    quota, _created = CrossingQuota.objects.select_for_update().update_or_create(
        crossing=crossing,
        date=day,
        direction=direction,
        defaults={"agreed_patients": agreed_patients, "agreed_companions": agreed_companions},
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
        crossing=batch.crossing,
        day=batch.planned_date,
        direction=batch.direction,
        exclude=batch,
        lock=lock,
    )


def places_left_on(
    *, crossing: str, day: date, direction: str, exclude: Batch | None = None, lock: bool = False
) -> PlacesLeft | None:
    """Places left in the agreed quota of one day, crossing and direction, after the batches
    that hold places (prepared and later; `exclude` left out); None without a quota. For a
    return direction `patients` counts returnees."""
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
