"""Vehicles of a batch: the ambulances and buses that take its people from the staging facility to
the crossing, and who sits (or lies) in which.

Rules, checked by `vehicle_assign` and again when the batch departs:
- vehicles are added, removed and filled while the batch is a draft, prepared, submitted or
  cleared; not once it is on the road, crossed or cancelled;
- a patient who needs a stretcher or an incubator takes a stretcher place, everyone else a seat;
- a patient who needs a stretcher, an incubator, oxygen or an escort nurse travels by ambulance;
- capacity is counted over the open lines only (people not cleared to travel free their place).

Removing a vehicle takes its people out of it (they have no vehicle until they are assigned
again; departure refuses while anyone has none). A batch with no vehicle recorded departs as
before: vehicles are optional until the first one is added.
"""

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from casetracker.audit.models import Action
from casetracker.errors import TransitionRefused

from ..models import VEHICLE_STATUSES, Batch, BatchMember, Vehicle, VehicleKind
from .common import batch_occurred_at, lock_batch, record_batch_event, too_long

# Bounds on what a coordinator types: a large bus seats about 60; an ambulance carries one or two
# stretchers. Anything above is a typing mistake, not a vehicle.
MAX_SEATS = 80
MAX_STRETCHERS = 4

# Needs that take a stretcher place; needs that only an ambulance serves.
STRETCHER_NEEDS = ("needs_stretcher", "needs_incubator")
AMBULANCE_NEEDS = ("needs_stretcher", "needs_incubator", "needs_oxygen", "needs_escort_nurse")

# The columns the checks read: decrypting every patient's national ID for this would cost per row.
_LINE_COLUMNS = (
    "id",
    "batch_id",
    "patient_id",
    "companion_id",
    "returnee_id",
    "is_open",
    "vehicle_id",
    "patient__case_reference",
    *(f"patient__{need}" for need in AMBULANCE_NEEDS),
)


def _require_vehicle_status(batch: Batch) -> None:
    if batch.status not in VEHICLE_STATUSES:
        raise TransitionRefused(
            _(
                "Batch %(code)s is %(status)s: vehicles can be changed only before it leaves "
                "(draft, prepared, submitted or cleared)."
            )
            % {"code": batch.code, "status": batch.get_status_display()}
        )


def travel_lines(batch: Batch) -> list[BatchMember]:
    """The open lines of a batch with what the vehicle checks read, in manifest order."""
    return list(
        BatchMember.objects.filter(batch=batch, is_open=True)
        .select_related("patient")
        .only(*_LINE_COLUMNS)
        .order_by("id")
    )


def takes_stretcher(line: BatchMember) -> bool:
    return bool(line.patient_id) and any(getattr(line.patient, n) for n in STRETCHER_NEEDS)


def ambulance_needs(line: BatchMember) -> list[str]:
    """The needs of the line's patient that only an ambulance serves, as translated labels."""
    if not line.patient_id:
        return []
    fields = line.patient._meta
    return [
        str(fields.get_field(name).verbose_name)
        for name in AMBULANCE_NEEDS
        if getattr(line.patient, name)
    ]


def vehicle_problems(
    lines: list[BatchMember], vehicles: list[Vehicle], placement: Mapping[int, int | None]
) -> list[str]:
    """Every capacity and ambulance problem of `placement` (line id -> vehicle id or None)
    over the open `lines`."""
    problems = []
    by_id = {v.pk: v for v in vehicles}
    seated: Counter = Counter()
    lying: Counter = Counter()
    for line in lines:
        vehicle = by_id.get(placement.get(line.pk))
        if vehicle is None:
            continue
        (lying if takes_stretcher(line) else seated)[vehicle.pk] += 1
        needs = ambulance_needs(line)
        if needs and vehicle.kind != VehicleKind.AMBULANCE:
            problems.append(
                _("Patient %(ref)s (%(needs)s) needs an ambulance, not a bus: %(vehicle)s.")
                % {
                    "ref": line.patient.case_reference,
                    "needs": ", ".join(needs),
                    "vehicle": vehicle.name,
                }
            )
    for vehicle in vehicles:
        if lying[vehicle.pk] > vehicle.stretchers:
            problems.append(
                ngettext(
                    "%(vehicle)s has %(places)s stretcher place, %(people)s patients need one.",
                    "%(vehicle)s has %(places)s stretcher places, %(people)s patients need one.",
                    vehicle.stretchers,
                )
                % {
                    "vehicle": vehicle.name,
                    "places": vehicle.stretchers,
                    "people": lying[vehicle.pk],
                }
            )
        if seated[vehicle.pk] > vehicle.seats:
            problems.append(
                ngettext(
                    "%(vehicle)s has %(places)s seat, %(people)s people need one.",
                    "%(vehicle)s has %(places)s seats, %(people)s people need one.",
                    vehicle.seats,
                )
                % {"vehicle": vehicle.name, "places": vehicle.seats, "people": seated[vehicle.pk]}
            )
    return problems


def departure_problems(batch: Batch) -> list[str]:
    """What stops a batch with vehicles from leaving: anyone without a vehicle, and the rules
    above checked again (a patient's needs may have changed since the seats were assigned).
    A batch with no vehicle recorded has none of these problems."""
    vehicles = list(batch.vehicles.all())
    if not vehicles:
        return []
    lines = travel_lines(batch)
    problems = []
    unassigned = sum(1 for line in lines if line.vehicle_id is None)
    if unassigned:
        problems.append(
            ngettext(
                "%(count)s person has no vehicle.", "%(count)s people have no vehicle.", unassigned
            )
            % {"count": unassigned}
        )
    placement = {line.pk: line.vehicle_id for line in lines}
    return problems + vehicle_problems(lines, vehicles, placement)


def _check_vehicle_fields(kind: str, seats, stretchers, label: str) -> dict[str, str]:
    errors = {}
    if kind not in VehicleKind.values:
        errors["kind"] = _("Choose an ambulance or a bus.")
    for field, value, limit in (
        ("seats", seats, MAX_SEATS),
        ("stretchers", stretchers, MAX_STRETCHERS),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
            errors[field] = _("A whole number from 0 to %(limit)s.") % {"limit": limit}
    if not errors and seats + stretchers < 1:
        errors["seats"] = _("A vehicle carries at least one person.")
    if "stretchers" not in errors and kind == VehicleKind.BUS and stretchers:
        errors["stretchers"] = _("A bus has no stretcher places: use an ambulance.")
    if problem := too_long(Vehicle, "label", label):
        errors["label"] = problem
    return errors


@transaction.atomic
def vehicle_add(
    *,
    batch: Batch,
    actor,
    kind: str,
    seats: int,
    stretchers: int = 0,
    label: str = "",
    occurred_at: datetime | None = None,
) -> Vehicle:
    """Add an ambulance or a bus to a batch that has not left yet. It takes the next number of
    the batch (1, 2, ...); numbers of removed vehicles are not reused while a higher one exists.
    Each vehicle service takes `occurred_at` (default now; see `common.batch_occurred_at`)."""
    label = (label or "").strip()
    errors = _check_vehicle_fields(kind, seats, stretchers, label)
    if errors:
        raise ValidationError(errors)
    batch = lock_batch(batch)
    _require_vehicle_status(batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    # Under the batch lock: two coordinators adding at once get 1 and 2 (PostgreSQL); the unique
    # constraint is the last word where the lock is a no-op (SQLite).
    number = (batch.vehicles.aggregate(n=Max("number"))["n"] or 0) + 1
    try:
        with transaction.atomic():
            vehicle = Vehicle.objects.create(
                batch=batch,
                number=number,
                kind=kind,
                label=label,
                seats=seats,
                stretchers=stretchers,
            )
    except IntegrityError as exc:
        raise TransitionRefused(
            _("Another vehicle was added at the same moment: try again.")
        ) from exc
    record_batch_event(
        batch,
        action=Action.VEHICLE_ADD,
        actor=actor,
        from_state=batch.status,
        notify=False,
        details={"vehicle": number, "kind": kind, "seats": seats, "stretchers": stretchers},
        occurred_at=occurred_at,
    )
    return vehicle


def _vehicle_of(batch: Batch, vehicle: Vehicle) -> Vehicle:
    found = Vehicle.objects.filter(pk=vehicle.pk, batch=batch).first()
    if found is None:
        raise ValidationError(
            {"vehicle": _("This vehicle is not on batch %(code)s.") % {"code": batch.code}}
        )
    return found


@transaction.atomic
def vehicle_remove(
    *, batch: Batch, vehicle: Vehicle, actor, occurred_at: datetime | None = None
) -> None:
    """Take a vehicle off a batch that has not left yet. The people assigned to it are left
    without a vehicle (the event counts them); assign them again before the batch departs."""
    batch = lock_batch(batch)
    _require_vehicle_status(batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    vehicle = _vehicle_of(batch, vehicle)
    passengers = BatchMember.objects.filter(vehicle=vehicle)
    unassigned = passengers.filter(is_open=True).count()
    # Closed lines too (people not cleared to travel): the row goes, nothing may point at it.
    passengers.update(vehicle=None)
    record_batch_event(
        batch,
        action=Action.VEHICLE_REMOVE,
        actor=actor,
        from_state=batch.status,
        notify=False,
        details={"vehicle": vehicle.number, "kind": vehicle.kind, "unassigned": unassigned},
        occurred_at=occurred_at,
    )
    vehicle.delete()


@transaction.atomic
def vehicle_assign(
    *,
    batch: Batch,
    actor,
    assignments: Mapping[int, int | None],
    occurred_at: datetime | None = None,
) -> list[BatchMember]:
    """Put people in vehicles: `assignments` maps a manifest line id to a vehicle number of the
    batch, or None for no vehicle. Lines left out keep their vehicle. All or nothing: unknown
    lines or vehicles raise a ValidationError (key "assignments"), broken rules (capacity, an
    ambulance needed) a TransitionRefused; either way every problem is named and nothing changes.

    Returns the lines whose vehicle changed. Nothing changed writes no event."""
    batch = lock_batch(batch)
    _require_vehicle_status(batch)
    occurred_at = batch_occurred_at(batch, occurred_at)
    lines = travel_lines(batch)
    vehicles = list(batch.vehicles.all())
    by_number = {v.number: v for v in vehicles}
    on_board = {line.pk: line for line in lines}
    errors = []
    closed = set(
        batch.members.filter(
            pk__in=[k for k in assignments if isinstance(k, int)], is_open=False
        ).values_list("pk", flat=True)
    )
    for line_id, number in assignments.items():
        if line_id in closed:
            errors.append(
                _("Line %(line)s no longer travels with batch %(code)s.")
                % {"line": line_id, "code": batch.code}
            )
        elif line_id not in on_board:
            errors.append(
                _("Line %(line)s is not on batch %(code)s.") % {"line": line_id, "code": batch.code}
            )
        if number is not None and number not in by_number:
            errors.append(
                _("Batch %(code)s has no vehicle %(number)s.")
                % {"code": batch.code, "number": number}
            )
    if errors:
        raise ValidationError({"assignments": errors})
    placement = {line.pk: line.vehicle_id for line in lines}
    for line_id, number in assignments.items():
        placement[line_id] = by_number[number].pk if number is not None else None
    problems = vehicle_problems(lines, vehicles, placement)
    if problems:
        raise TransitionRefused(problems)
    changed = [line for line in lines if line.vehicle_id != placement[line.pk]]
    if not changed:
        return []
    for line in changed:
        line.vehicle_id = placement[line.pk]
    BatchMember.objects.bulk_update(changed, ["vehicle"])
    numbers = {v.pk: v.number for v in vehicles}
    record_batch_event(
        batch,
        action=Action.VEHICLE_ASSIGN,
        actor=actor,
        from_state=batch.status,
        notify=False,
        details={
            "changed": len(changed),
            "without_vehicle": sum(1 for line in lines if placement[line.pk] is None),
            "people_per_vehicle": {
                str(numbers[vehicle_id]): count
                for vehicle_id, count in sorted(
                    Counter(v for v in placement.values() if v is not None).items(),
                    key=lambda item: numbers[item[0]],
                )
            },
        },
        occurred_at=occurred_at,
    )
    return changed
