"""One batch's story, step by step, as the services write it (batches/services/lifecycle.py,
members.py): the rows it changes, its events with the details each service records, and who
is notified of each step. People taken off a batch go back to the queue (`Pools.back`)."""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from random import Random

from batches.models import (
    Batch,
    BatchMember,
    BatchStatus,
    CancelReason,
    Clearance,
    Direction,
    EndReason,
    Outcome,
)
from casetracker.audit.models import Action, SubjectType
from casetracker.notifications.audiences import Audience, audiences_for
from patients.models import PatientStatus, ReturneeStatus

from .chain import EventStream, Spec
from .copy import Ids
from .setup import Setting

CANCEL_TEXTS = {
    CancelReason.NO_REASON_GIVEN: "Cancelled at the last minute, no reason given.",
    CancelReason.COORDINATION_INCOMPLETE: "Coordination details reported missing.",
    CancelReason.SECURITY: "Crossing closed for security reasons.",
    CancelReason.WEATHER: "Road impassable after the storm.",
    CancelReason.LOGISTICS: "Ambulances not available at the staging point.",
    CancelReason.MEDICAL: "Receiving hospital asked for a delay.",
    CancelReason.OTHER: "See the statement of the coordinating agency.",
}
CANCEL_REASONS = [
    (reason, w) for reason, w in zip(CANCEL_TEXTS, (30, 25, 20, 5, 10, 5, 5), strict=True)
]
SOURCES = [("border_authority", 60), ("who", 20), ("internal", 10), ("red_crescent", 10)]
OUTCOMES = [(Outcome.CROSSED, 960), (Outcome.TURNED_BACK, 15), (Outcome.HELD, 15)]
OUTCOMES.append((Outcome.NO_SHOW, 10))
REJECTED_NOTE = "Not on the cleared list."


def person_reference(line: BatchMember) -> str:
    if line.patient_id:
        return line.patient.case_reference
    if line.companion_id:
        return f"companion #{line.companion_id} of {line.companion.patient.case_reference}"
    return line.returnee.reference


def counts(lines: Iterable[BatchMember]) -> dict[str, int]:
    lines = list(lines)
    return {
        "patients": sum(1 for line in lines if line.patient_id),
        "companions": sum(1 for line in lines if line.companion_id),
        "returnees": sum(1 for line in lines if line.returnee_id),
    }


class Story:
    """Writes the steps of batches into the event stream and the rows."""

    def __init__(self, rng: Random, ids: Ids, setting: Setting, stream: EventStream, back):
        self.rng, self.ids, self.setting, self.stream = rng, ids, setting, stream
        # back(kind, person, at): the person waits in the queue again from `at`.
        self.back: Callable[[str, object, datetime], None] = back
        self.lines: list[BatchMember] = []
        self._audiences: dict[tuple[str, int], tuple] = {}

    def weighted(self, pairs):
        return self.rng.choices([v for v, _w in pairs], weights=[w for _v, w in pairs])[0]

    def recipients(self, action: str, staging_id: int) -> tuple:
        key = (action, staging_id)
        if key not in self._audiences:
            wanted = audiences_for(action)
            users = []
            if Audience.COORDINATORS in wanted:
                users += self.setting.coordinators
            if Audience.STAGING_STAFF in wanted:
                users += self.setting.staff_of(staging_id)
            if Audience.AUDITORS in wanted:
                users += self.setting.auditors
            self._audiences[key] = tuple({user.pk: user for user in users}.values())
        return self._audiences[key]

    def batch_event(self, batch: Batch, at: datetime, action: str, *, notify=True, **fields):
        spec = self.stream.add(
            at,
            actor=batch.created_by,
            subject_type=SubjectType.BATCH,
            subject_ref=batch.code,
            batch_ref=batch.code,
            subject_facility_id=batch.staging_facility_id,
            action=action,
            to_state=batch.status,
            **fields,
        )
        if notify:
            spec.recipients = self.recipients(action, batch.staging_facility_id)
        return spec

    def line_event(self, line: BatchMember, at: datetime, action: str, **fields) -> Spec:
        batch = line.batch
        details = {"person": person_reference(line), "kind": _kind(line)}
        details.update(fields.pop("details", {}))
        return self.stream.add(
            at,
            actor=batch.created_by,
            subject_type=SubjectType.MEMBER,
            subject_ref=f"{batch.code}#{line.pk}",
            batch_ref=batch.code,
            subject_facility_id=None if line.returnee_id else batch.staging_facility_id,
            action=action,
            details=details,
            **fields,
        )

    def new_line(self, batch: Batch, at: datetime, **person) -> BatchMember:
        line = BatchMember(id=self.ids.take(BatchMember), batch=batch, added_at=at, **person)
        self.lines.append(line)
        batch.story_lines.append(line)
        return line

    # --- steps ------------------------------------------------------------------------------

    def add_people(self, batch: Batch, at: datetime, groups: list[tuple]) -> None:
        """`groups`: (patient, companions) or (returnee,), each added in one step."""
        for number, group in enumerate(groups):
            when = at + timedelta(seconds=20 * (number + 1))
            if batch.direction == Direction.EXIT:
                patient, companions = group
                first = self.new_line(batch, when, patient=patient)
                others = [self.new_line(batch, when, companion=c) for c in companions]
                patient.status = PatientStatus.SCHEDULED
                extra = {"companions": [line.pk for line in others]}
                self.line_event(first, when, Action.ADD_MEMBER, to_state="open", details=extra)
            else:
                (returnee,) = group
                line = self.new_line(batch, when, returnee=returnee)
                returnee.status = ReturneeStatus.SCHEDULED
                self.line_event(line, when, Action.ADD_MEMBER, to_state="open")

    def move(self, batch: Batch, at: datetime, action: str, target: str, **details) -> Spec:
        before, batch.status = batch.status, target
        lines = [line for line in self.lines_of(batch) if line.is_open]
        return self.batch_event(
            batch, at, action, from_state=before, details={**counts(lines), **details}
        )

    def decide(self, batch: Batch, at: datetime, share: float = 1.0) -> None:
        """The border's vetting decisions on the open lines (a share of them, still coming)."""
        lines = [line for line in self.lines_of(batch) if line.is_open]
        for number, line in enumerate(lines[: max(1, round(len(lines) * share))]):
            guardian = line.companion_id and line.companion.is_guardian
            rejected = self.rng.random() < 0.03 and not guardian
            line.clearance = Clearance.REJECTED if rejected else Clearance.APPROVED
            line.clearance_note = REJECTED_NOTE if rejected else ""
            line.clearance_recorded_at = at
            self.line_event(
                line,
                at + timedelta(seconds=number + 1),
                Action.CLEARANCE,
                occurred_at=at,
                from_state=Clearance.PENDING,
                to_state=line.clearance,
                text=line.clearance_note,
            )

    def clear(self, batch: Batch, at: datetime) -> None:
        lines = [line for line in self.lines_of(batch) if line.is_open]
        rejected = {line.patient_id for line in lines if line.patient_id and _refused(line)}
        staying = [
            line
            for line in lines
            if _refused(line) or (line.companion_id and line.companion.patient_id in rejected)
        ]
        self.close(staying, EndReason.REJECTED, at)
        not_cleared = [person_reference(line) for line in staying]
        self.move(batch, at, Action.CLEAR, BatchStatus.CLEARED, not_cleared=not_cleared)

    def cross(self, batch: Batch, at: datetime) -> None:
        lines = [line for line in self.lines_of(batch) if line.is_open]
        for line in lines:
            line.outcome = self.weighted(OUTCOMES)
        outcomes = {o: sum(1 for line in lines if line.outcome == o) for o in Outcome.values}
        self.move(batch, at, Action.CROSS, BatchStatus.CROSSED, outcomes=outcomes)
        self.close(lines, EndReason.COMPLETED, at)

    def cancel(self, batch: Batch, at: datetime, recorded_at: datetime, *, hold: bool) -> Spec:
        """Cancel with a reason; the people wait again, unless `hold`: kept for the batch it is
        rescheduled as."""
        reason = self.weighted(CANCEL_REASONS)
        source = self.weighted(SOURCES)
        relayed = "who" if source == "border_authority" and self.rng.random() < 0.7 else ""
        batch.cancel_reason_code, batch.cancel_reason_text = reason, CANCEL_TEXTS[reason]
        batch.cancel_source, batch.cancel_relayed_by = source, relayed
        batch.cancelled_from, batch.cancelled_at = batch.status, at
        lines = [line for line in self.lines_of(batch) if line.is_open]
        spec = self.move(
            batch, recorded_at, Action.CANCEL, BatchStatus.CANCELLED, relayed_by=relayed
        )
        spec.fields.update(occurred_at=at, reason_code=reason, source=source)
        spec.text = batch.cancel_reason_text
        self.close(lines, EndReason.CANCELLED, at, back=not hold)
        return spec

    def close(self, lines: list[BatchMember], reason: str, at: datetime, back=True) -> None:
        for line in lines:
            line.is_open, line.end_reason = False, reason
            person = line.patient or line.returnee
            if person is None:
                continue
            if line.outcome == Outcome.CROSSED:
                person.status = (
                    PatientStatus.EVACUATED if line.patient_id else ReturneeStatus.RETURNED
                )
            else:
                person.status = PatientStatus.WAITING if line.patient_id else ReturneeStatus.WAITING
                if back:
                    self.back("patient" if line.patient_id else "returnee", person, at)

    def lines_of(self, batch: Batch) -> list[BatchMember]:
        return batch.story_lines


def _kind(line: BatchMember) -> str:
    if line.patient_id:
        return "patient"
    return "companion" if line.companion_id else "returnee"


def _refused(line: BatchMember) -> bool:
    return line.clearance == Clearance.REJECTED
