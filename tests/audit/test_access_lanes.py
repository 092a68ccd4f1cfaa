"""Reads of personal data are chained in access lanes, not in the main chain: concurrent readers
never wait for one another nor for a change being recorded, and the log stays as provable as
before: a read altered, removed from the middle of a lane or from its end, or a seal that does
not match, is found by `verify_audit_log`."""

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from casetracker.audit.models import GENESIS_HASH, AccessLane, Action, ChainHead, Event
from casetracker.audit.services import event_hash, record_event, seal_access_lanes
from casetracker.audit.tasks import seal_access_log
from patients.access import Category, log_access

pytestmark = pytest.mark.django_db


def _read(actor, patient) -> Event:
    return log_access(actor=actor, category=Category.IDENTITY, subject=patient)


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


def _broken(match: str) -> None:
    with pytest.raises(CommandError, match=match):
        _verify()


def _raw(sql: str, params: list) -> None:
    """Behind the application's back (the append-only trigger switched off on PostgreSQL,
    rolled back with the test)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)


@pytest.fixture
def reads(auditor, ready_patient):
    """Six reads, all in lane 1 (the others held by no one, but removed from the draw), and a
    change in the main chain between them."""
    AccessLane.objects.exclude(pk=1).delete()
    patient = ready_patient()
    events = [_read(auditor, patient) for _ in range(3)]
    with transaction.atomic():
        record_event(subject_type="patient", subject_ref="x", action=Action.UPDATE, actor=auditor)
    events += [_read(auditor, patient) for _ in range(3)]
    return events


def test_a_read_is_chained_in_a_lane_not_in_the_main_chain(auditor, ready_patient):
    head_before = ChainHead.objects.get_or_create(pk=1)[0].last_hash
    event = _read(auditor, ready_patient())
    lane = AccessLane.objects.get(pk=event.lane)
    assert (event.lane_seq, event.prev_hash) == (1, GENESIS_HASH)
    assert (lane.seq, lane.last_hash) == (1, event.hash)
    assert event.hash == event_hash(event)
    assert ChainHead.objects.get(pk=1).last_hash == head_before
    assert event.action == Action.VIEW and event.details["category"] == Category.IDENTITY


def test_lanes_are_opened_by_the_first_read_if_none_are(settings, auditor, ready_patient):
    # The migration opens them; a database emptied since (a test's flush) has none.
    AccessLane.objects.all().delete()
    event = _read(auditor, ready_patient())
    assert AccessLane.objects.count() == settings.AUDIT_ACCESS_LANES == 32
    assert event.lane_seq == 1


def test_reads_in_a_lane_are_counted_and_linked(reads):
    in_lane = [e for e in reads if e.lane is not None]
    assert [e.lane_seq for e in in_lane] == [1, 2, 3, 4, 5, 6]
    assert [e.prev_hash for e in in_lane[1:]] == [e.hash for e in in_lane[:-1]]
    assert "Audit log intact: 7 events." in _verify()


def test_a_read_altered_is_found(reads):
    _raw("UPDATE audit_event SET subject_ref = %s WHERE id = %s", ["EV-other", reads[1].pk])
    _broken(f"broken at event {reads[1].pk}: content differs from its hash")


def test_a_read_removed_from_the_middle_of_a_lane_is_found(reads):
    _raw("DELETE FROM audit_event WHERE id = %s", [reads[1].pk])
    _broken(f"broken at event {reads[2].pk}: is read 3 of access lane 1, whose last read")


def test_the_newest_read_removed_is_found_by_the_lane_head(reads):
    _raw("DELETE FROM audit_event WHERE id = %s", [reads[-1].pk])
    _broken("end of the log: the newest reads of access lane 1 are missing")


def test_the_newest_reads_removed_and_the_head_set_back_are_found_by_the_seal(reads):
    seal = seal_access_lanes()
    assert seal.details == {"lanes": {"1": [6, reads[-1].hash]}}
    _raw("DELETE FROM audit_event WHERE id = %s", [reads[-1].pk])
    AccessLane.objects.filter(pk=1).update(seq=5, last_hash=reads[-2].hash)
    _broken(f"broken at event {seal.pk}: seals read 6 of access lane 1")


def test_a_seal_is_recorded_only_when_a_lane_moved(reads, auditor, ready_patient):
    first = seal_access_log()
    assert Event.objects.get(pk=first).action == Action.SEAL
    assert seal_access_log() is None
    _read(auditor, ready_patient())
    assert seal_access_log() > first
    assert "Audit log intact" in _verify()


def test_migrate_opens_the_lanes_the_setting_asks_for(settings):
    settings.AUDIT_ACCESS_LANES = 40
    call_command("migrate", verbosity=0)
    assert AccessLane.objects.count() == 40


def test_a_read_inside_a_transaction_that_rolls_back_leaves_no_gap(auditor, ready_patient):
    patient = ready_patient()
    AccessLane.objects.exclude(pk=1).delete()
    _read(auditor, patient)
    with pytest.raises(RuntimeError), transaction.atomic():
        _read(auditor, patient)
        raise RuntimeError("the page failed after the read was logged")
    _read(auditor, patient)
    assert list(Event.objects.filter(lane=1).values_list("lane_seq", flat=True)) == [1, 2]
    assert "Audit log intact: 2 events." in _verify()


# --- Concurrent readers, on PostgreSQL (SQLite locks the whole database for any write) -----


def _in_thread(work) -> object:
    """Run `work` on a connection of its own; returns its result or raises its error."""
    result: dict = {}

    def run():
        try:
            result["value"] = work()
        except BaseException as error:  # handed back to the test
            result["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the second reader hangs"
    if "error" in result:
        raise result["error"]
    return result["value"]


def _read_without_waiting(actor, patient) -> Event:
    """A read that fails instead of waiting for any lock."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1ms'")
        return _read(actor, patient)


@pytest.mark.django_db(transaction=True)
def test_readers_never_wait_for_each_other_or_for_a_change(
    require_postgres, auditor, ready_patient
):
    patient = ready_patient()
    with transaction.atomic():
        # This transaction holds a lane (a read logged, its page still rendering) and the main
        # chain's head (a change being recorded), until the end of the block.
        held = _read(auditor, patient)
        record_event(subject_type="patient", subject_ref="x", action=Action.UPDATE, actor=auditor)
        others = [_in_thread(lambda: _read_without_waiting(auditor, patient)) for _ in range(5)]
    assert held.lane not in {other.lane for other in others}
    assert "Audit log intact: 7 events." in _verify()


@pytest.mark.django_db(transaction=True)
def test_many_readers_at_once_leave_a_log_that_verifies(require_postgres, auditor, ready_patient):
    patient = ready_patient()
    barrier = threading.Barrier(8)

    def reader():
        try:
            barrier.wait(timeout=10)
            return [_read(auditor, patient) for _ in range(10)]
        finally:
            connection.close()

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Event.objects.filter(action=Action.VIEW).count() == 80
    assert seal_access_lanes() is not None
    assert "Audit log intact: 81 events." in _verify()


def test_the_event_list_can_leave_the_access_log_out(api, auditor, reads):
    seal_access_lanes()
    url = "/api/v1/events/"
    everything = api(auditor).get(url, {"page_size": 100}).json()["results"]
    changes = api(auditor).get(url, {"access_log": "false"}).json()["results"]
    access = api(auditor).get(url, {"access_log": "true", "page_size": 100}).json()["results"]
    # The list itself is read by no one's personal data: it writes no read.
    assert {e["action"] for e in changes} == {"update"}
    assert {e["action"] for e in access} == {"view", "seal"}
    assert len(access) + len(changes) == len(everything) == 8
    lanes = [(e["lane"], e["lane_seq"]) for e in access if e["action"] == "view"]
    assert sorted(lanes) == [(1, n) for n in range(1, 7)]
