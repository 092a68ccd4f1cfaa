"""Random sequences of the real batch services, with the rules of DESIGN section 4 checked after
every step: terminal batches stay terminal, one batch Event per successful transition and none
for a refusal, nobody on two open manifests, patient and returnee statuses that agree with the
manifest lines, and a queue place (`registered_at`) that never moves."""

import datetime as dt
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from batches import services
from batches.models import (
    Batch,
    BatchMember,
    BatchStatus,
    CancelReason,
    Clearance,
    CrossingQuota,
    Direction,
    InformationSource,
    Outcome,
)
from batches.services.quotas import HOLDS_PLACES
from batches.states import TRANSITIONS
from casetracker.audit.models import Action, Event, SubjectType
from casetracker.errors import TransitionRefused
from casetracker.notifications.models import Notification
from patients.models import Companion, Patient, PatientStatus, Returnee, ReturneeStatus
from tests import factories

TERMINAL = {BatchStatus.CROSSED, BatchStatus.CANCELLED}
REFUSALS = (TransitionRefused, ValidationError)


def build_world() -> dict:
    """People and places shared by every example; each example's changes are rolled back."""
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    facility = factories.FacilityFactory(code="al-amal", kind="staging")
    coordinator = factories.UserFactory(username="sm-coordinator", role="coordinator")
    factories.UserFactory(username="sm-nurse", role="hospital_staff", facility=facility)
    factories.UserFactory(username="sm-auditor", role="auditor")
    # Tight today, so `prepare` meets a full quota; roomy tomorrow.
    for day, patients, companions in ((today, 4, 3), (tomorrow, 50, 100)):
        factories.QuotaFactory(
            date=day, direction="exit", agreed_patients=patients, agreed_companions=companions
        )
        factories.QuotaFactory(
            date=day, direction="return", agreed_patients=patients // 2, agreed_companions=0
        )

    def patient(referral="approved", **fields):
        made = factories.PatientFactory(facility=facility, **fields)
        factories.ReferralFactory(patient=made, status=referral)
        return made

    adults = [patient() for _ in range(5)]
    child = patient(date_of_birth=dt.date(today.year - 9, 1, 1), clinical_category="paediatric")
    # May join a draft, never be prepared: not fit to travel.
    unfit = patient(readiness__fit_to_travel=False)
    # May not even join: the referral is still pending.
    no_referral = patient(referral="pending")

    # Three companions for the first adult: one more than may travel.
    for _ in range(3):
        factories.CompanionFactory(patient=adults[0])
    factories.CompanionFactory(patient=adults[1], relationship="wife", sex="female")
    factories.CompanionFactory(patient=child, relationship="mother", sex="female", is_guardian=True)
    factories.CompanionFactory(
        patient=child, relationship="brother", date_of_birth=dt.date(today.year - 16, 1, 1)
    )
    returnees = [factories.ReturneeFactory() for _ in range(3)]
    return {
        "today": today,
        "tomorrow": tomorrow,
        "facility": facility,
        "coordinator": coordinator,
        "patient_ids": [p.pk for p in [*adults, child, unfit, no_referral]],
        "returnee_ids": [r.pk for r in returnees],
    }


class BatchMachine(RuleBasedStateMachine):
    world: dict = {}
    # (transition, succeeded) -> count over all examples: proof the walk goes deep enough.
    reached: Counter = Counter()

    def __init__(self):
        super().__init__()
        # Each example starts from the world as built, and leaves no trace.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        w = self.world
        self.actor = w["coordinator"]
        self.today, self.tomorrow = w["today"], w["tomorrow"]
        self.patient_ids = w["patient_ids"]
        self.returnee_ids = w["returnee_ids"]
        self.companion_ids = list(Companion.objects.order_by("pk").values_list("pk", flat=True))
        self.registered = dict(Patient.objects.values_list("pk", "registered_at"))
        self.registered_r = dict(Returnee.objects.values_list("pk", "registered_at"))
        self.events_before = Event.objects.count()
        self.notifications_before = Notification.objects.count()
        # The model: what each batch's status must be, and what the audit log must hold.
        self.status: dict[int, str] = {}
        self.code: dict[int, str] = {}
        self.batch_events: Counter = Counter()  # (batch code, action) -> successes
        self.member_events: Counter = Counter()  # action -> successes
        self.rescheduled: set[int] = set()
        self.seen_terminal: dict[int, str] = {}
        for direction, day in (
            (Direction.EXIT, self.today),
            (Direction.EXIT, self.tomorrow),
            (Direction.RETURN, self.today),
        ):
            self._create(direction, day)

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers --------------------------------------------------------------------------

    def _snapshot(self):
        return (
            list(BatchMember.objects.order_by("pk").values_list()),
            list(Batch.objects.order_by("pk").values_list("pk", "status")),
            list(Patient.objects.order_by("pk").values_list("pk", "status")),
            list(Returnee.objects.order_by("pk").values_list("pk", "status")),
            Event.objects.count(),
            Notification.objects.count(),
        )

    def _call(self, fn, **kwargs):
        """Run a service; a refusal must be one of the two refusal types and change nothing."""
        before = self._snapshot()
        try:
            return fn(actor=self.actor, **kwargs), None
        except REFUSALS as exc:
            assert self._snapshot() == before, f"{fn.__name__} refused but left changes: {exc}"
            assert str(exc), "a refusal says why"
            return None, exc

    def _create(self, direction, day):
        batch, _ = self._call(
            services.batch_create,
            direction=direction,
            planned_date=day,
            staging_facility=self.world["facility"],
        )
        self.status[batch.pk] = BatchStatus.DRAFT
        self.code[batch.pk] = batch.code
        self.batch_events[(batch.code, Action.CREATE)] += 1
        return batch

    def _batch(self, data) -> Batch:
        """Any batch, but mostly one with people on board: that is where rules can break."""
        busy = sorted(
            BatchMember.objects.filter(is_open=True).values_list("batch_id", flat=True).distinct()
        )
        pool = busy if busy and data.draw(st.integers(0, 3), "busy") else sorted(self.status)
        return Batch.objects.get(pk=data.draw(st.sampled_from(pool), "batch"))

    def _transition(self, name: str, batch: Batch, **kwargs):
        """A declared transition: allowed only from its sources; on success, one Event."""
        before = self.status[batch.pk]
        result, refusal = self._call(getattr(services, f"batch_{name}"), batch=batch, **kwargs)
        if before not in TRANSITIONS[name].sources:
            assert refusal is not None, f"{name} succeeded from {before}"
        if refusal is None:
            self.status[batch.pk] = TRANSITIONS[name].target
            self.batch_events[(batch.code, name)] += 1
        self.reached[(name, refusal is None)] += 1
        return result, refusal

    def _add_patient(self, data, batch: Batch) -> None:
        patient = Patient.objects.get(pk=data.draw(st.sampled_from(self.patient_ids), "patient"))
        theirs = list(patient.companions.order_by("pk"))
        companions = (
            data.draw(st.lists(st.sampled_from(theirs), unique=True, max_size=3), "companions")
            if theirs
            else []
        )
        lines, refusal = self._call(
            services.batch_add_patient, batch=batch, patient=patient, companions=companions
        )
        if self.status[batch.pk] != BatchStatus.DRAFT or batch.direction != Direction.EXIT:
            assert refusal is not None
        if patient.status != PatientStatus.WAITING or len(companions) > 2:
            assert refusal is not None
        if refusal is None:
            assert len(lines) == 1 + len(companions)
            self.member_events[Action.ADD_MEMBER] += 1

    def _add_returnee(self, data, batch: Batch) -> None:
        returnee = Returnee.objects.get(
            pk=data.draw(st.sampled_from(self.returnee_ids), "returnee")
        )
        _, refusal = self._call(services.batch_add_returnee, batch=batch, returnee=returnee)
        if self.status[batch.pk] != BatchStatus.DRAFT or batch.direction != Direction.RETURN:
            assert refusal is not None
        if returnee.status != ReturneeStatus.WAITING:
            assert refusal is not None
        if refusal is None:
            self.member_events[Action.ADD_MEMBER] += 1

    def _decide_clearances(self, data, batch: Batch) -> None:
        for member in batch.members.filter(clearance=Clearance.PENDING).order_by("pk"):
            clearance = data.draw(
                st.sampled_from([Clearance.APPROVED] * 3 + [Clearance.REJECTED]), "clearance"
            )
            _, refusal = self._call(
                services.batch_record_clearance, batch=batch, member=member, clearance=clearance
            )
            assert refusal is None, refusal
            self.member_events[Action.CLEARANCE] += 1

    def _cross(self, data, batch: Batch, leave_one_out: bool = False):
        on_board = list(batch.members.filter(is_open=True).order_by("pk"))
        outcomes = {
            line.pk: data.draw(st.sampled_from(Outcome.values), f"outcome of {line.pk}")
            for line in on_board
        }
        if leave_one_out and outcomes:
            outcomes.popitem()
        _, refusal = self._transition("cross", batch, outcomes=outcomes)
        if leave_one_out and on_board:
            assert refusal is not None
        if refusal is None:
            assert not batch.members.filter(is_open=True).exists()
            assert not batch.members.filter(end_reason="completed", outcome="").exists()
        return refusal

    # --- rules ----------------------------------------------------------------------------

    @rule(direction=st.sampled_from(Direction.values), tomorrow=st.booleans())
    def create_batch(self, direction, tomorrow):
        self._create(direction, self.tomorrow if tomorrow else self.today)

    @rule(data=st.data(), steps=st.integers(min_value=1, max_value=6))
    def advance(self, data, steps):
        """Up to `steps` steps of one batch along the usual path, stopping at the first refusal,
        so that random walks often reach the late states."""
        batch = self._batch(data)
        for _ in range(steps):
            if not self._step(data, batch):
                return

    def _step(self, data, batch: Batch) -> bool:
        status = self.status[batch.pk]
        if status == BatchStatus.DRAFT:
            if not batch.members.exists():
                add = self._add_patient if batch.direction == Direction.EXIT else self._add_returnee
                add(data, batch)
            _, refusal = self._transition("prepare", batch)
        elif status == BatchStatus.PREPARED:
            _, refusal = self._transition("submit", batch)
        elif status == BatchStatus.SUBMITTED:
            self._decide_clearances(data, batch)
            _, refusal = self._transition("clear", batch)
        elif status == BatchStatus.CLEARED:
            _, refusal = self._transition("depart", batch)
        elif status == BatchStatus.IN_TRANSIT:
            refusal = self._cross(data, batch)
        else:
            return False
        return refusal is None

    @rule(data=st.data())
    def add_patient(self, data):
        self._add_patient(data, self._batch(data))

    @rule(data=st.data())
    def add_companion(self, data):
        batch = self._batch(data)
        companion = Companion.objects.get(
            pk=data.draw(st.sampled_from(self.companion_ids), "companion")
        )
        _, refusal = self._call(services.batch_add_companion, batch=batch, companion=companion)
        if self.status[batch.pk] != BatchStatus.DRAFT:
            assert refusal is not None
        if refusal is None:
            self.member_events[Action.ADD_MEMBER] += 1

    @rule(data=st.data())
    def add_returnee(self, data):
        self._add_returnee(data, self._batch(data))

    @rule(data=st.data())
    def remove_member(self, data):
        batch = self._batch(data)
        lines = list(batch.members.order_by("pk"))
        if not lines:
            return
        member = data.draw(st.sampled_from(lines), "line")
        _, refusal = self._call(services.batch_remove_member, batch=batch, member=member)
        if self.status[batch.pk] != BatchStatus.DRAFT:
            assert refusal is not None
        if refusal is None:
            self.member_events[Action.REMOVE_MEMBER] += 1
            assert not BatchMember.objects.filter(pk=member.pk).exists()

    @rule(data=st.data())
    def prepare(self, data):
        self._transition("prepare", self._batch(data))

    @rule(data=st.data())
    def reopen(self, data):
        self._transition("reopen", self._batch(data))

    @rule(data=st.data())
    def submit(self, data):
        self._transition("submit", self._batch(data))

    @rule(data=st.data(), clearance=st.sampled_from([Clearance.APPROVED, Clearance.REJECTED]))
    def record_clearance(self, data, clearance):
        batch = self._batch(data)
        lines = list(batch.members.order_by("pk"))
        if not lines:
            return
        member = data.draw(st.sampled_from(lines), "line")
        line, refusal = self._call(
            services.batch_record_clearance, batch=batch, member=member, clearance=clearance
        )
        if self.status[batch.pk] != BatchStatus.SUBMITTED:
            assert refusal is not None
        if refusal is None:
            assert line.clearance == clearance
            self.member_events[Action.CLEARANCE] += 1

    @rule(data=st.data())
    def clear(self, data):
        batch = self._batch(data)
        _, refusal = self._transition("clear", batch)
        if refusal is None:
            assert not batch.members.filter(is_open=True, clearance=Clearance.REJECTED).exists()

    @rule(data=st.data())
    def depart(self, data):
        self._transition("depart", self._batch(data))

    @rule(data=st.data(), leave_one_out=st.booleans())
    def cross(self, data, leave_one_out):
        self._cross(data, self._batch(data), leave_one_out)

    @rule(
        data=st.data(),
        reason_code=st.sampled_from([*CancelReason.values, "bogus"]),
        reason_text=st.sampled_from(["relayed by WHO; teams stood ready", "wind", "  ", ""]),
        source=st.sampled_from([*InformationSource.values, ""]),
    )
    def cancel(self, data, reason_code, reason_text, source):
        batch = self._batch(data)
        from_state = self.status[batch.pk]
        on_board = batch.members.filter(is_open=True).count()
        _, refusal = self._transition(
            "cancel", batch, reason_code=reason_code, reason_text=reason_text, source=source
        )
        valid = (
            reason_code in CancelReason.values
            and reason_text.strip()
            and source in InformationSource.values
        )
        if not valid:
            assert isinstance(refusal, ValidationError)
        if refusal is None:
            batch.refresh_from_db()
            assert batch.cancelled_from == from_state
            assert (batch.cancel_reason_code, batch.cancel_source) == (reason_code, source)
            assert not batch.members.filter(is_open=True).exists()
            self.reached[("cancel with people", True)] += bool(on_board)

    @rule(data=st.data(), tomorrow=st.booleans())
    def reschedule(self, data, tomorrow):
        old = self._batch(data)
        new, refusal = self._call(
            services.batch_reschedule,
            batch=old,
            planned_date=self.tomorrow if tomorrow else self.today,
        )
        if self.status[old.pk] != BatchStatus.CANCELLED or old.pk in self.rescheduled:
            assert isinstance(refusal, TransitionRefused)
        if refusal is None:
            self.rescheduled.add(old.pk)
            self.status[new.pk] = BatchStatus.DRAFT
            self.code[new.pk] = new.code
            self.batch_events[(new.code, Action.RESCHEDULE)] += 1
            assert new.rescheduled_from_id == old.pk
            assert new.direction == old.direction
            self.reached[("reschedule", True)] += 1

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def statuses_follow_the_model(self):
        actual = dict(Batch.objects.values_list("pk", "status"))
        assert actual == self.status
        for pk, status in self.seen_terminal.items():
            assert actual[pk] == status, f"terminal batch {self.code[pk]} became {actual[pk]}"
        for pk, status in actual.items():
            if status in TERMINAL:
                self.seen_terminal[pk] = status
                assert not BatchMember.objects.filter(batch_id=pk, is_open=True).exists()

    @invariant()
    def one_batch_event_per_success(self):
        rows = (
            Event.objects.filter(subject_type=SubjectType.BATCH)
            .order_by()
            .values_list("subject_ref", "action")
            .annotate(n=Count("id"))
        )
        assert {(ref, action): n for ref, action, n in rows} == +self.batch_events
        members = (
            Event.objects.filter(subject_type=SubjectType.MEMBER)
            .order_by()
            .values_list("action")
            .annotate(n=Count("id"))
        )
        assert dict(members) == +self.member_events
        assert Event.objects.count() - self.events_before == sum(self.batch_events.values()) + sum(
            self.member_events.values()
        )

    @invariant()
    def notifications_only_for_transitions(self):
        # Coordinator, the staging facility's nurse, and the auditor for a cancellation; each
        # has an email address, so an inbox row and an email row each.
        per_event = Event.objects.annotate(n=Count("notifications")).values_list(
            "subject_type", "action", "n"
        )
        for subject_type, action, n in per_event:
            if subject_type != SubjectType.BATCH or action == Action.CREATE:
                assert n == 0, (subject_type, action, n)
            else:
                assert n == (6 if action == Action.CANCEL else 4), (action, n)

    @invariant()
    def nobody_on_two_open_lines(self):
        for field in ("patient", "companion", "returnee"):
            doubled = (
                BatchMember.objects.filter(is_open=True, **{f"{field}__isnull": False})
                .order_by()
                .values(field)
                .annotate(n=Count("id"))
                .filter(n__gt=1)
            )
            assert not doubled.exists(), f"{field} on two open lines: {list(doubled)}"
        # A companion travels only beside their patient.
        for line in BatchMember.objects.filter(is_open=True, companion__isnull=False):
            assert BatchMember.objects.filter(
                batch_id=line.batch_id, is_open=True, patient_id=line.companion.patient_id
            ).exists(), f"companion line {line.pk} is open without its patient"

    @invariant()
    def people_agree_with_their_lines(self):
        patients = Patient.objects.annotate(
            open_lines=Count("lines", filter=Q(lines__is_open=True)),
            crossed=Count("lines", filter=Q(lines__outcome=Outcome.CROSSED)),
        )
        for p in patients:
            if p.open_lines:
                assert p.status == PatientStatus.SCHEDULED, (p.pk, p.status)
            if p.status == PatientStatus.SCHEDULED:
                assert p.open_lines == 1, (p.pk, p.open_lines)
            if p.status == PatientStatus.EVACUATED:
                assert p.crossed == 1
            if p.crossed:
                assert p.status == PatientStatus.EVACUATED
            assert p.registered_at == self.registered[p.pk], "a patient lost their queue place"
        returnees = Returnee.objects.annotate(
            open_lines=Count("lines", filter=Q(lines__is_open=True)),
            crossed=Count("lines", filter=Q(lines__outcome=Outcome.CROSSED)),
        )
        for r in returnees:
            if r.open_lines:
                assert r.status == ReturneeStatus.SCHEDULED
            if r.status == ReturneeStatus.SCHEDULED:
                assert r.open_lines == 1
            assert (r.status == ReturneeStatus.RETURNED) == bool(r.crossed)
            assert r.registered_at == self.registered_r[r.pk]

    @invariant()
    def quota_never_exceeded(self):
        for quota in CrossingQuota.objects.all():
            holding = BatchMember.objects.filter(
                batch__planned_date=quota.date,
                batch__direction=quota.direction,
                batch__status__in=HOLDS_PLACES,
            ).filter(Q(is_open=True) | Q(outcome=Outcome.CROSSED))
            main = "patient" if quota.direction == Direction.EXIT else "returnee"
            people = holding.filter(**{f"{main}__isnull": False}).count()
            companions = holding.filter(companion__isnull=False).count()
            assert people <= quota.agreed_patients, (quota, people)
            assert companions <= quota.agreed_companions, (quota, companions)


def test_batch_services_keep_invariants_under_random_sequences(db):
    BatchMachine.world = build_world()
    BatchMachine.reached = Counter()
    run_state_machine_as_test(
        BatchMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    import sys

    print(sorted(BatchMachine.reached.items()), file=sys.stderr)
