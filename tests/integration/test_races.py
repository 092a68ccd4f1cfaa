"""Two coordinators acting at the same moment, on PostgreSQL (`select_for_update` does nothing on
SQLite). Each race is run several times; every time exactly one wins, the other is refused with
a message that says why, and no half-written rows are left behind."""

import datetime as dt
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from batches import services
from batches.models import Batch, BatchMember, BatchStatus, Clearance, EndReason, Outcome
from batches.states import TRANSITIONS
from casetracker.audit.models import Action, Event, SubjectType
from casetracker.celery import app as celery_app
from casetracker.errors import TransitionRefused
from casetracker.notifications.models import Notification
from patients.models import Patient, PatientStatus
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

LOOPS = 5


@pytest.fixture(autouse=True)
def _no_tasks_left_behind():
    """With a broker, committed transitions queue deliveries that no worker runs here: drop
    them afterwards, so they do not wait in the test queue."""
    yield
    if os.environ.get("REDIS_URL") and not celery_app.conf.task_always_eager:
        celery_app.control.purge()


def race(*calls: Callable[[], object]) -> list[tuple[str, object]]:
    """Run the calls in threads released together by a barrier. Returns, in call order,
    ("ok", result) or ("refused", exception); any other exception is raised here and fails
    the test."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        try:
            barrier.wait(timeout=10)
            return call()
        finally:
            # Each thread has its own connection; left open, it would hold the test database.
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        _finished, hanging = wait(futures, timeout=30)
        assert not hanging, "a racing thread hangs (deadlock?)"
    outcomes: list[tuple[str, object]] = []
    for future in futures:
        refusal = future.exception()
        if refusal is None:
            outcomes.append(("ok", future.result()))
        elif isinstance(refusal, TransitionRefused):
            outcomes.append(("refused", refusal))
        else:
            raise refusal
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
    return outcomes


@pytest.fixture
def second_coordinator(db):
    return factories.UserFactory(username="coordinator-2", role="coordinator")


@pytest.fixture
def patient_with_companion(ready_patient):
    def make():
        patient = ready_patient()
        return patient, factories.CompanionFactory(patient=patient)

    return make


def _in_transit(*, actor, facility, day, people) -> Batch:
    """A batch taken through the services to in_transit, everyone cleared."""
    batch = services.batch_create(
        actor=actor, direction="exit", planned_date=day, staging_facility=facility
    )
    for patient, companions in people:
        services.batch_add_patient(batch=batch, patient=patient, companions=companions, actor=actor)
    batch = services.batch_submit(
        batch=services.batch_prepare(batch=batch, actor=actor), actor=actor
    )
    for line in batch.members.all():
        services.batch_record_clearance(
            batch=batch, member=line, clearance=Clearance.APPROVED, actor=actor
        )
    batch = services.batch_clear(batch=batch, actor=actor)
    return services.batch_depart(batch=batch, actor=actor)


def test_races_cancel_and_cross_of_one_batch_exactly_one_wins(
    require_postgres,
    coordinator,
    second_coordinator,
    facility,
    quota,
    patient_with_companion,
    ready_patient,
):
    for _ in range(LOOPS):
        first, companion = patient_with_companion()
        second = ready_patient()
        batch = _in_transit(
            actor=coordinator,
            facility=facility,
            day=quota.date,
            people=[(first, [companion]), (second, [])],
        )
        registered = dict(
            Patient.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "registered_at")
        )
        lines_before = set(batch.members.values_list("pk", flat=True))
        outcomes = {
            line.pk: Outcome.TURNED_BACK if line.patient_id == second.pk else Outcome.CROSSED
            for line in batch.members.all()
        }
        results = race(
            partial(
                services.batch_cancel,
                batch=batch,
                actor=coordinator,
                reason_code="no_reason_given",
                reason_text="Relayed by WHO at the last minute; teams stood ready.",
                source="who",
            ),
            partial(services.batch_cross, batch=batch, actor=second_coordinator, outcomes=outcomes),
        )
        [(_, refusal)] = [r for r in results if r[0] == "refused"]
        batch.refresh_from_db()
        # Which one wins depends on timing; whichever did is checked in full below.
        won, lost = ("cancel", "cross") if results[0][0] == "ok" else ("cross", "cancel")
        assert batch.status == TRANSITIONS[won].target
        assert str(refusal) == f"batch {batch.code} is {batch.status}: cannot {lost} it"

        # Exactly one terminal event, and the notifications of that one only.
        terminal = Event.objects.filter(
            subject_type=SubjectType.BATCH, subject_ref=batch.code, action__in=["cancel", "cross"]
        )
        assert list(terminal.values_list("action", flat=True)) == [won]
        assert terminal.get().from_state == BatchStatus.IN_TRANSIT
        assert not Notification.objects.filter(event__batch_ref=batch.code, event__action=lost)
        assert Notification.objects.filter(event=terminal.get()).exists()

        # Every line closed by the winner alone; nobody added, nobody lost.
        lines = list(BatchMember.objects.filter(batch=batch))
        assert {line.pk for line in lines} == lines_before
        assert not any(line.is_open for line in lines)
        first.refresh_from_db()
        second.refresh_from_db()
        if won == "cross":
            assert {line.end_reason for line in lines} == {EndReason.COMPLETED}
            assert {line.pk: line.outcome for line in lines} == outcomes
            assert (batch.cancel_reason_code, batch.cancel_source, batch.cancelled_at) == (
                "",
                "",
                None,
            )
            assert first.status == PatientStatus.EVACUATED
            assert second.status == PatientStatus.WAITING
        else:
            assert {(line.end_reason, line.outcome) for line in lines} == {
                (EndReason.CANCELLED, "")
            }
            assert batch.cancelled_from == BatchStatus.IN_TRANSIT
            assert first.status == second.status == PatientStatus.WAITING
        assert {first.pk: first.registered_at, second.pk: second.registered_at} == registered


def test_races_same_patient_added_to_two_drafts_exactly_one_wins(
    require_postgres, coordinator, second_coordinator, facility, quota, patient_with_companion
):
    for _ in range(LOOPS):
        drafts = [
            services.batch_create(
                actor=coordinator,
                direction="exit",
                planned_date=quota.date,
                staging_facility=facility,
            )
            for _ in range(2)
        ]
        patient, companion = patient_with_companion()
        results = race(
            *(
                partial(
                    services.batch_add_patient,
                    batch=draft,
                    patient=patient,
                    companions=[companion],
                    actor=actor,
                )
                for draft, actor in zip(drafts, (coordinator, second_coordinator), strict=True)
            )
        )
        won, lost = drafts if results[0][0] == "ok" else drafts[::-1]
        [(_, refusal)] = [r for r in results if r[0] == "refused"]
        # The loser is told which batch has the patient; their own batch stays empty.
        assert f"is already in open batch {won.code}" in str(refusal)
        assert patient.case_reference in str(refusal)

        assert not BatchMember.objects.filter(batch=lost).exists()
        assert not Event.objects.filter(batch_ref=lost.code, action=Action.ADD_MEMBER).exists()
        lines = BatchMember.objects.filter(batch=won, is_open=True)
        assert {(line.patient_id, line.companion_id) for line in lines} == {
            (patient.pk, None),
            (None, companion.pk),
        }
        assert Event.objects.filter(batch_ref=won.code, action=Action.ADD_MEMBER).count() == 1
        patient.refresh_from_db()
        assert patient.status == PatientStatus.SCHEDULED
        assert BatchMember.objects.filter(patient=patient, is_open=True).count() == 1
        assert BatchMember.objects.filter(companion=companion, is_open=True).count() == 1


def test_races_two_batches_prepared_for_the_last_quota_place(
    require_postgres, coordinator, second_coordinator, facility, ready_patient
):
    """The quota row is locked while a batch is prepared: two batches of one day cannot both
    take the day's last place."""
    for loop in range(LOOPS):
        # A day of its own for each loop, with one place agreed.
        day = timezone.localdate() + dt.timedelta(days=loop + 1)
        services.quota_set(
            actor=coordinator,
            crossing="rafah",
            day=day,
            direction="exit",
            agreed_patients=1,
            agreed_companions=0,
        )
        drafts = []
        for _ in range(2):
            draft = services.batch_create(
                actor=coordinator, direction="exit", planned_date=day, staging_facility=facility
            )
            services.batch_add_patient(batch=draft, patient=ready_patient(), actor=coordinator)
            drafts.append(draft)
        results = race(
            *(
                partial(services.batch_prepare, batch=draft, actor=actor)
                for draft, actor in zip(drafts, (coordinator, second_coordinator), strict=True)
            )
        )
        won, lost = drafts if results[0][0] == "ok" else drafts[::-1]
        [(_, refusal)] = [r for r in results if r[0] == "refused"]
        assert f"0 places left in the quota for {day.isoformat()}" in str(refusal)
        won.refresh_from_db()
        lost.refresh_from_db()
        assert (won.status, lost.status) == (BatchStatus.PREPARED, BatchStatus.DRAFT)
        assert not Event.objects.filter(subject_ref=lost.code, action=Action.PREPARE).exists()
        assert Event.objects.filter(subject_ref=won.code, action=Action.PREPARE).count() == 1
