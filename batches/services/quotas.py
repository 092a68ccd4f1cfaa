"""The agreed daily quota: setting it, and how many places are left."""

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

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
        errors["crossing"] = f"must be one of {Crossing.values}"
    if direction not in Direction.values:
        errors["direction"] = f"must be one of {Direction.values}"
    for name, value in (
        ("agreed_patients", agreed_patients),
        ("agreed_companions", agreed_companions),
    ):
        if value < 0:
            errors[name] = "must be zero or more"
    if errors:
        raise ValidationError(errors)
    quota, _ = CrossingQuota.objects.select_for_update().update_or_create(
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
    quotas = CrossingQuota.objects.filter(
        crossing=batch.crossing, date=batch.planned_date, direction=batch.direction
    )
    quota = (quotas.select_for_update() if lock else quotas).first()
    if quota is None:
        return None
    taken = (
        BatchMember.objects.filter(
            batch__crossing=batch.crossing,
            batch__planned_date=batch.planned_date,
            batch__direction=batch.direction,
            batch__status__in=HOLDS_PLACES,
        )
        .exclude(batch=batch)
        .filter(Q(is_open=True) | Q(outcome=Outcome.CROSSED))
    )
    if batch.direction == Direction.EXIT:
        people = taken.filter(patient__isnull=False).count()
    else:
        people = taken.filter(returnee__isnull=False).count()
    companions = taken.filter(companion__isnull=False).count()
    return PlacesLeft(
        quota=quota,
        patients=quota.agreed_patients - people,
        companions=quota.agreed_companions - companions,
    )
