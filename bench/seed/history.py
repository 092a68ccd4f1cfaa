"""The batches of the history, day after day: each built from the queue as it stood (waiting
patients with an approved referral, most urgent first; returnees by registration), then taken
through its steps to the crossing, or cancelled on the way and sometimes rescheduled; the
open batches of today and the next six days; then deaths and withdrawals while waiting."""

import heapq
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from batches.models import Batch, BatchStatus, Direction, Statement
from casetracker.audit.models import Action, SubjectType
from patients.models import PatientStatus

from . import figures as shape
from .chain import Spec
from .lifecycle import Story, counts
from .people import People, queue_key

# Who is still waiting at the end dies or withdraws with these words.
LEAVING = {
    PatientStatus.DECEASED: "Died at the referring hospital while waiting for a place.",
    PatientStatus.WITHDRAWN: "The family withdrew the request.",
}
STATEMENT_TEXT = "Coordination details were missing."
CANCELLED_AT = [("draft", 10), ("prepared", 30), ("submitted", 30), ("cleared", 30)]
# The open batches' state by how many days ahead they leave (0: today).
OPEN_STATES = ["in_transit", "cleared", "submitted", "prepared", "draft", "draft", "draft"]
COMBOS = [("rafah", Direction.EXIT), ("rafah", Direction.RETURN)]
COMBOS += [("kerem-shalom", Direction.EXIT), ("kerem-shalom", Direction.RETURN)]
# Of the manifest lines, the share that are returnees (31,000 of 151,000).
RETURNEE_LINES = 31 / 151


def local(day: date, hours: float) -> datetime:
    midnight = datetime.combine(day, time(), tzinfo=ZoneInfo(settings.TIME_ZONE))
    return midnight + timedelta(hours=hours)


class Pools:
    """Who may be put on a batch, and from when."""

    def __init__(self, people: People):
        self.people = {("patient", p.pk): p for p in people.patients}
        self.people |= {("returnee", r.pk): r for r in people.returnees}
        self.pending: list[tuple] = []
        self.queues: dict[str, list] = {"patient": [], "returnee": []}
        for pk, approved_at in people.approved_at.items():
            self.pending.append((approved_at, "patient", pk))
        self.pending += [(r.registered_at, "returnee", r.pk) for r in people.returnees]
        heapq.heapify(self.pending)
        self.last_back: dict[tuple[str, int], datetime] = {}

    def back(self, kind: str, person, at: datetime) -> None:
        heapq.heappush(self.pending, (at, kind, person.pk))
        self.last_back[(kind, person.pk)] = at

    def take(self, kind: str, until: datetime):
        while self.pending and self.pending[0][0] <= until:
            _at, who, pk = heapq.heappop(self.pending)
            person = self.people[(who, pk)]
            key = queue_key(person) if who == "patient" else (person.registered_at, pk)
            heapq.heappush(self.queues[who], (key, pk))
        if not self.queues[kind]:
            return None
        return self.people[(kind, heapq.heappop(self.queues[kind])[1])]


@dataclass
class History:
    batches: list[Batch] = field(default_factory=list)
    statements: list[tuple[Statement, Spec]] = field(default_factory=list)
    # When each patient was first put on a batch (their readiness was reported before).
    first_batch: dict[int, datetime] = field(default_factory=dict)


class HistoryMaker:
    def __init__(self, story: Story, people: People, figures, now: datetime):
        self.story, self.people, self.figures, self.now = story, people, figures, now
        self.today = timezone.localdate(now)
        self.rng = story.rng
        self.pools = Pools(people)
        story.back = self.pools.back
        self.history = History()
        self.numbers: dict[tuple[str, date], int] = {}
        self.companions = people.companions
        self.open_count = min(4 * shape.OPEN_DAYS, max(4, figures.batches // 20))
        self.past_count = figures.batches - self.open_count
        returnee_lines = round(figures.lines * RETURNEE_LINES)
        self.budget = {Direction.EXIT: figures.lines - returnee_lines}
        self.budget[Direction.RETURN] = returnee_lines
        self.carried: dict[date, list[tuple]] = {}
        self.waiting_carries = 0
        self.stepped = 0

    def run(self) -> History:
        today = self.today
        open_slots = [
            (today + timedelta(days=k % 7), COMBOS[(k // 7) % 4]) for k in range(self.open_count)
        ]
        exits = round(self.figures.batches * shape.EXIT_SHARE)
        exits -= sum(1 for _day, (_c, d) in open_slots if d == Direction.EXIT)
        directions = [Direction.EXIT] * exits + [Direction.RETURN] * (self.past_count - exits)
        self.rng.shuffle(directions)
        open_exits = sum(1 for _day, (_c, d) in open_slots if d == Direction.EXIT)
        self.slots = {Direction.EXIT: exits + open_exits}
        self.slots[Direction.RETURN] = self.figures.batches - self.slots[Direction.EXIT]
        first = today - timedelta(days=self.figures.days)
        created = 0
        for offset in range(self.figures.days):
            day = first + timedelta(days=offset)
            due = round(self.past_count * (offset + 1) / self.figures.days)
            for old, groups in self.carried.pop(day, []):
                self._rescheduled(old, groups, day)
                created += 1
            while created < due:
                crossing = "rafah" if self.rng.random() < 0.7 else "kerem-shalom"
                direction = directions[created] if created < len(directions) else Direction.EXIT
                self._past(day, crossing, direction)
                created += 1
        for number, (day, (crossing, direction)) in enumerate(open_slots):
            self._open(day, crossing, direction, number)
        self._leaving()
        return self.history

    # --- batches --------------------------------------------------------------------------

    def _batch(self, day: date, crossing: str, direction: str, at: datetime, **fields) -> Batch:
        crossing_row = self.story.setting.crossings[crossing]
        number = self.numbers.get((crossing, day), 0) + 1
        self.numbers[(crossing, day)] = number
        staging = self.story.setting.staging[0 if self.rng.random() < 0.7 else 1]
        batch = Batch(
            id=self.story.ids.take(Batch),
            code=f"{crossing_row.prefix}-{day.isoformat()}-{number}",
            crossing=crossing_row,
            direction=direction,
            planned_date=day,
            staging_facility=staging,
            status=BatchStatus.DRAFT,
            created_by=self.rng.choice(self.story.setting.coordinators),
            created_at=at,
            **fields,
        )
        batch.story_lines = []
        self.history.batches.append(batch)
        self.slots[direction] -= 1
        return batch

    def _groups(self, direction: str, at: datetime) -> list[tuple]:
        """People for one batch from the queue as it stands at `at`, about the batch's share
        of the lines still to be made."""
        share = self.budget[direction] / max(1, self.slots[direction] + 1)
        groups, lines = [], 0
        while lines < share - 0.5 and len(groups) < 45:
            if direction == Direction.EXIT:
                patient = self.pools.take("patient", at)
                if patient is None:
                    break
                theirs = self.companions[patient.pk][: settings.MAX_COMPANIONS_PER_PATIENT]
                groups.append((patient, theirs))
                self.history.first_batch.setdefault(patient.pk, at)
                lines += 1 + len(theirs)
            else:
                returnee = self.pools.take("returnee", at)
                if returnee is None:
                    break
                groups.append((returnee,))
                lines += 1
        self.budget[direction] -= lines
        return groups

    def _past(self, day: date, crossing: str, direction: str) -> None:
        created = local(day - timedelta(days=3), 9 + 5 * self.rng.random())
        batch = self._batch(day, crossing, direction, created)
        self.story.batch_event(batch, created, Action.CREATE, notify=False, from_state="")
        self.story.add_people(batch, created, self._groups(direction, created))
        self._steps(batch, day)

    def _rescheduled(self, old: Batch, groups: list[tuple], day: date) -> None:
        at = old.rescheduled_at
        batch = self._batch(day, old.crossing.code, old.direction, at, rescheduled_from=old)
        lines = len(groups) + sum(len(g[1]) for g in groups if len(g) == 2)
        self.budget[old.direction] -= lines
        story = self.story
        for group in groups:
            person = group[0]
            kind = "patient" if old.direction == Direction.EXIT else "returnee"
            story.new_line(batch, at, **{kind: person})
            person.status = "scheduled"  # PatientStatus and ReturneeStatus alike
        for group in groups:
            for companion in group[1] if len(group) == 2 else ():
                story.new_line(batch, at, companion=companion)
        details = {**counts(batch.story_lines), "rescheduled_from": old.code, "left_out": []}
        story.batch_event(batch, at, Action.RESCHEDULE, from_state="", details=details)
        self.waiting_carries -= 1
        self._steps(batch, day)

    def _steps(self, batch: Batch, day: date) -> None:
        """Through the crossing, or cancelled at some stage (then perhaps rescheduled)."""
        rng, story = self.rng, self.story
        if not batch.story_lines:
            self._cancel(batch, batch.created_at + timedelta(hours=2))
            return
        # Every so many batches is cancelled, evenly: the smallest seeds have some too.
        self.stepped += 1
        share = shape.CANCELLED_SHARE
        cancelled = int(self.stepped * share) > int((self.stepped - 1) * share)
        stage = story.weighted(CANCELLED_AT) if cancelled else None
        times = [local(day - timedelta(days=2), 10 + 2 * rng.random())]
        times.append(local(day - timedelta(days=2), 14 + 2 * rng.random()))
        times.append(local(day - timedelta(days=1), 11 + 2 * rng.random()))
        times.append(local(day - timedelta(days=1), 16 + 2 * rng.random()))
        if stage == "draft":
            self._cancel(batch, batch.created_at + timedelta(hours=2 + 20 * rng.random()))
            return
        story.move(batch, times[0], Action.PREPARE, BatchStatus.PREPARED)
        if stage == "prepared":
            self._cancel(batch, times[0] + timedelta(hours=1 + 3 * rng.random()))
            return
        story.move(batch, times[1], Action.SUBMIT, BatchStatus.SUBMITTED)
        if stage == "submitted":
            self._cancel(batch, times[1] + timedelta(hours=1 + 16 * rng.random()))
            return
        story.decide(batch, times[2])
        story.clear(batch, times[3])
        main = "patient_id" if batch.direction == Direction.EXIT else "returnee_id"
        if stage == "cleared" or not any(getattr(x, main) for x in batch.story_lines if x.is_open):
            self._cancel(batch, local(day, 5.5 + 3 * rng.random()))
            return
        story.move(batch, local(day, 7 + rng.random()), Action.DEPART, BatchStatus.IN_TRANSIT)
        story.cross(batch, local(day, 13 + 2 * rng.random()))

    def _cancel(self, batch: Batch, at: datetime) -> None:
        rng = self.rng
        recorded = at + timedelta(hours=10 + 20 * rng.random()) if rng.random() < 0.1 else at
        recorded = min(recorded, self.now - timedelta(minutes=5))
        later = batch.planned_date + timedelta(days=rng.randint(3, 5))
        hold = (
            rng.random() < shape.RESCHEDULED_SHARE
            and later < self.today
            and len(self.history.batches) + self.waiting_carries < self.past_count
        )
        lines = [line for line in batch.story_lines if line.is_open]
        self.story.cancel(batch, at, recorded, hold=hold)
        if rng.random() < 0.3:
            self._statement(batch, at)
        if hold:
            batch.rescheduled_at = recorded + timedelta(hours=1 + 3 * rng.random())
            groups = self._regrouped(lines)
            self.carried.setdefault(later, []).append((batch, groups))
            self.waiting_carries += 1

    @staticmethod
    def _regrouped(lines) -> list[tuple]:
        groups = [(line.returnee,) for line in lines if line.returnee_id]
        theirs: dict[int, list] = {}
        for line in lines:
            if line.companion_id:
                theirs.setdefault(line.companion.patient_id, []).append(line.companion)
        groups += [(x.patient, theirs.get(x.patient_id, [])) for x in lines if x.patient_id]
        return groups

    def _statement(self, batch: Batch, cancelled: datetime) -> None:
        said = min(cancelled + timedelta(hours=18 + 20 * self.rng.random()), self.now)
        recorded = min(said + timedelta(hours=0.5 + 5 * self.rng.random()), self.now)
        said = min(said, recorded)
        details = {"relayed_by": "who", "about_cancellation": True}
        spec = self.story.batch_event(
            batch, recorded, Action.STATEMENT, occurred_at=said, details=details
        )
        # `statement_add` records no state change.
        spec.fields.update(source="border_authority", to_state="")
        spec.text = STATEMENT_TEXT
        statement = Statement(
            batch=batch,
            about_cancellation=True,
            source="border_authority",
            relayed_by="who",
            said_at=said,
            text=STATEMENT_TEXT,
            recorded_by=batch.created_by,
            recorded_at=recorded,
        )
        self.history.statements.append((statement, spec))

    def _open(self, day: date, crossing: str, direction: str, number: int) -> None:
        """Today's and the coming days' batches, part way through their steps."""
        at = self.now - timedelta(days=2) + timedelta(minutes=7 * number)
        batch = self._batch(day, crossing, direction, at)
        story = self.story
        story.batch_event(batch, at, Action.CREATE, notify=False, from_state="")
        story.add_people(batch, at, self._groups(direction, at))
        state = OPEN_STATES[(day - self.today).days]
        if state == "draft" or not batch.story_lines:
            return
        story.move(batch, at + timedelta(hours=2), Action.PREPARE, BatchStatus.PREPARED)
        if state == "prepared":
            return
        story.move(batch, at + timedelta(hours=4), Action.SUBMIT, BatchStatus.SUBMITTED)
        story.decide(batch, at + timedelta(hours=6), share=0.5 if state == "submitted" else 1)
        if state == "submitted":
            return
        story.clear(batch, at + timedelta(hours=8))
        if state == "in_transit":
            left = min(
                max(at + timedelta(hours=10), local(day, 7)), self.now - timedelta(minutes=5)
            )
            story.move(batch, left, Action.DEPART, BatchStatus.IN_TRANSIT)

    # --- leaving the queue ----------------------------------------------------------------

    def _leaving(self) -> None:
        waiting = [p for p in self.people.patients if p.status == PatientStatus.WAITING]
        self.rng.shuffle(waiting)
        deaths = round(len(self.people.patients) * shape.DEATH_SHARE)
        withdrawals = round(len(self.people.patients) * shape.WITHDRAWN_SHARE)
        leaving = [PatientStatus.DECEASED] * deaths + [PatientStatus.WITHDRAWN] * withdrawals
        for patient, status in zip(waiting, leaving, strict=False):
            since = max(
                patient.registered_at,
                self.pools.last_back.get(("patient", patient.pk), patient.registered_at),
            )
            at = since + (self.now - timedelta(hours=1) - since) * self.rng.random()
            patient.status = status
            self.story.stream.add(
                at + timedelta(minutes=30 * self.rng.random()),
                actor=self.rng.choice(self.story.setting.coordinators),
                occurred_at=at,
                text=LEAVING[status],
                subject_type=SubjectType.PATIENT,
                subject_ref=patient.case_reference,
                subject_facility_id=patient.facility_id,
                action=Action.STATUS_CHANGE,
                from_state=PatientStatus.WAITING,
                to_state=status,
            )
