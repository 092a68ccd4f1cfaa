"""The proposal itself: the walk along the queue, chunk by chunk, within the places left in
the day's quota, and what it found."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from casetracker.accounts.models import Facility
from patients.models import Patient, PatientStatus, Returnee, ReturneeStatus

from ..models import Crossing, Direction
from ..services.crossings import crossing_of
from ..services.quotas import PlacesLeft, places_left_on
from .candidates import (
    ProposedPatient,
    ProposedReturnee,
    evaluate_patient,
    evaluate_returnee,
    exit_candidates,
    open_batches,
    return_candidates,
)
from .reasons import Reason, Why, _day, _no_companion_place, _no_patient_place

# Queue rows read per query, and at most per proposal.
CHUNK = 100
SCAN_LIMIT = 400
# Once every place is taken, this many more people are looked at (and listed as skipped, so
# the coordinator sees who comes next), then the walk stops.
LOOK_AFTER_FULL = 10


@dataclass
class Skipped:
    """A person the proposal left out, with every reason."""

    reasons: list[Why]
    patient: Patient | None = None
    returnee: Returnee | None = None
    age: int | None = None

    @property
    def reference(self) -> str:
        return self.patient.case_reference if self.patient else self.returnee.reference

    @property
    def person(self) -> Patient | Returnee:
        return self.patient or self.returnee


@dataclass
class Proposal:
    crossing: str  # its code
    direction: str
    day: date
    staging_facility: Facility | None
    places: PlacesLeft | None  # left before this batch; None: no quota agreed
    patients: list[ProposedPatient] = field(default_factory=list)
    returnees: list[ProposedReturnee] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Why] = field(default_factory=list)  # about the proposal as a whole
    looked_at: int = 0
    truncated: bool = False  # stopped at the hard limit with more people waiting

    @property
    def is_exit(self) -> bool:
        return self.direction == Direction.EXIT

    @property
    def people(self) -> int:
        """Patient places (returnee places on a return batch) the proposal takes."""
        return len(self.patients) if self.is_exit else len(self.returnees)

    @property
    def companions(self) -> int:
        return sum(len(p.travelling) for p in self.patients)

    def places_after(self) -> tuple[int, int] | None:
        """(patients or returnees, companions) left once this batch holds its places."""
        if self.places is None:
            return None
        return self.places.patients - self.people, self.places.companions - self.companions


def _chunks(queryset) -> Iterator[list]:
    """The rows in chunks of CHUNK (each one query plus its prefetches), up to SCAN_LIMIT."""
    for start in range(0, SCAN_LIMIT, CHUNK):
        end = min(start + CHUNK, SCAN_LIMIT)
        rows = list(queryset[start:end])
        if rows:
            yield rows
        if len(rows) < end - start:
            return


def propose(
    *,
    user,
    crossing: Crossing | str | None,
    direction: str,
    day: date,
    staging_facility: Facility | None = None,
) -> Proposal:
    """Who the next batch of `day` should take, within the places left in the day's quota,
    and every person it skipped with the reasons (see the module docstring). A closed or
    restricted crossing is said in a note; the proposal is made all the same (a draft may
    wait for the crossing to open, `prepare` refuses it while it is closed)."""
    crossing = crossing_of(crossing)
    places = places_left_on(crossing=crossing, day=day, direction=direction)
    proposal = Proposal(
        crossing=crossing.code,
        direction=direction,
        day=day,
        staging_facility=staging_facility,
        places=places,
    )
    if crossing.is_closed or crossing.is_restricted:
        code = Reason.CROSSING_CLOSED if crossing.is_closed else Reason.CROSSING_RESTRICTED
        proposal.notes.append(Why(code, crossing.state_sentence()))
    if places is None:
        proposal.notes.append(
            Why(
                Reason.NO_QUOTA,
                _("No quota is agreed for %(day)s yet: nobody can be proposed.")
                % {"day": _day(day)},
            )
        )
        return proposal
    if direction == Direction.EXIT:
        _walk_exit(proposal, user)
    else:
        _walk_return(proposal, user)
    if proposal.truncated:
        proposal.notes.append(
            Why(
                Reason.LIMIT_REACHED,
                _("Only the first %(count)d people in the queue were looked at.")
                % {"count": SCAN_LIMIT},
            )
        )
    return proposal


def _walk(proposal: Proposal, rows, take, full) -> None:
    """Feed the queue to `take(person, on_batch)` chunk by chunk; once `full()`, look at
    LOOK_AFTER_FULL more people, then stop."""
    after_full = 0
    field_name = "patient" if proposal.is_exit else "returnee"
    for chunk in _chunks(rows):
        on_batches = open_batches(field_name, [p for p in chunk if p.status == "scheduled"])
        for person in chunk:
            if full():
                if after_full >= LOOK_AFTER_FULL:
                    return
                after_full += 1
            proposal.looked_at += 1
            take(person, on_batches.get(person.pk))
    proposal.truncated = proposal.looked_at >= SCAN_LIMIT and rows[SCAN_LIMIT:].exists()


def _walk_exit(proposal: Proposal, user) -> None:
    day = proposal.day
    left = [proposal.places.patients, proposal.places.companions]
    rows = (
        exit_candidates(user, day)
        .filter(status__in=(PatientStatus.WAITING, PatientStatus.SCHEDULED))
        .queue_order()
    )

    def take(patient: Patient, on_batch: str | None) -> None:
        candidate, reasons = evaluate_patient(patient, day, on_batch=on_batch)
        if not reasons:
            needed = len(candidate.travelling)
            if left[0] <= 0:
                reasons.append(_no_patient_place(proposal.direction))
            elif needed > left[1]:
                reasons.append(_no_companion_place(needed, left[1]))
            else:
                left[0] -= 1
                left[1] -= needed
                proposal.patients.append(candidate)
        if reasons:
            proposal.skipped.append(Skipped(reasons, patient=patient, age=candidate.age))

    _walk(proposal, rows, take, full=lambda: left[0] <= 0)


def _walk_return(proposal: Proposal, user) -> None:
    day = proposal.day
    left = [proposal.places.patients]
    rows = (
        return_candidates(user)
        .filter(status__in=(ReturneeStatus.WAITING, ReturneeStatus.SCHEDULED))
        .order_by("registered_at", "id")
    )

    def take(returnee: Returnee, on_batch: str | None) -> None:
        candidate, reasons = evaluate_returnee(returnee, day, on_batch=on_batch)
        if not reasons:
            if left[0] <= 0:
                reasons.append(_no_patient_place(proposal.direction))
            else:
                left[0] -= 1
                proposal.returnees.append(candidate)
        if reasons:
            proposal.skipped.append(Skipped(reasons, returnee=returnee, age=candidate.age))

    _walk(proposal, rows, take, full=lambda: left[0] <= 0)
