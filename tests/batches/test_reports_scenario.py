"""The auditors' reports against the "known numbers" scenario (tests/batches/scenario.py): the
first four days of the reopened crossing, built through the services, read back as exact numbers.

The scenario takes a few seconds to build, so it is built once for the module inside a
transaction that is rolled back at the end; each test runs in a savepoint inside it."""

import datetime as dt

import pytest
from django.db import transaction
from django.test import override_settings

from batches.models import Direction
from batches.reports.selectors import (
    DayRow,
    JourneyStep,
    Period,
    batch_manifest,
    batch_timeline,
    bumped_patients,
    cancellation_rate,
    cancellations,
    deaths_while_waiting,
    patient_journey,
    quota_vs_crossed,
    referral_to_crossing,
)
from batches.services import batch_add_patient, batch_cancel, batch_create
from tests import factories
from tests.batches.scenario import CANCEL_TEXT, Scenario, build_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def scenario(django_db_setup, django_db_blocker):
    """Built once for the module in a transaction rolled back at its end (each test runs in a
    savepoint inside it); a failed build rolls back on its way out."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            facility = factories.FacilityFactory(code="al-amal", kind="staging")
            coordinator = factories.UserFactory(username="coordinator", role="coordinator")
            built = build_scenario(coordinator=coordinator, facility=facility)
        yield built
        transaction.set_rollback(True)


@pytest.fixture
def s(scenario, db) -> Scenario:
    """The scenario, inside this test's savepoint."""
    return scenario


def _whole(s: Scenario) -> Period:
    return Period(s.d1, s.d4)


# --- The numbers ----------------------------------------------------------------------------


def test_quota_vs_crossed_shows_each_known_day(s, auditor):
    rows = quota_vs_crossed(auditor, period=_whole(s), crossing="rafah")

    def row(day, direction, patients=0, companions=0, returnees=0, held=0, refused=0):
        # Each direction in its own words: a return day agrees returnees, not patients.
        exit_day = direction == Direction.EXIT
        agreed = (50, 100) if exit_day else (None, None)
        numbers = (patients, companions, returnees, held, 0, 0, refused)
        return DayRow(day, direction, *agreed, *numbers, agreed_returnees=None if exit_day else 50)

    # B was refused at vetting on D1; their two companions stayed with them (not counted).
    assert rows == [
        row(s.d1, "exit", patients=5, companions=10, refused=1),
        row(s.d1, "return", returnees=12, held=38),
        row(s.d2, "exit", patients=40),
        row(s.d2, "return", returnees=40),
        row(s.d3, "exit"),
        row(s.d3, "return"),
        row(s.d4, "exit", patients=7, companions=14),
        row(s.d4, "return"),
    ]
    assert [r.people_crossed for r in rows] == [15, 12, 40, 40, 0, 0, 21, 0]
    numbers = {
        (r.date, r.direction): (
            r.patients_crossed,
            r.companions_crossed,
            r.returnees_crossed,
            r.held,
        )
        for r in rows
    }
    assert numbers == s.expected["crossed"]


def test_quota_vs_crossed_without_a_quota_shows_none_agreed(s, auditor):
    rows = quota_vs_crossed(auditor, period=Period(s.today, s.today), crossing="rafah")
    assert [(r.agreed_patients, r.agreed_companions, r.people_crossed) for r in rows] == [
        (None, None, 0),
        (None, None, 0),
    ]


def test_cancellation_rate_counts_decided_and_cancelled_batches_per_week(s, auditor):
    weeks, reasons = cancellation_rate(auditor, period=_whole(s))

    # Crossed: D1 and D2 both ways, D4 exit; cancelled: D3 exit. Which week each falls in
    # depends on today's weekday.
    decided = {s.d1: 2, s.d2: 2, s.d3: 1, s.d4: 1}
    expected: dict[dt.date, list[int]] = {}
    monday = s.d1 - dt.timedelta(days=s.d1.weekday())
    while monday <= s.d4:
        expected[monday] = [0, 0]
        monday += dt.timedelta(days=7)
    for day, count in decided.items():
        expected[day - dt.timedelta(days=day.weekday())][0] += count
    expected[s.d3 - dt.timedelta(days=s.d3.weekday())][1] += 1

    assert [(w.week_start, w.decided, w.cancelled) for w in weeks] == [
        (monday, d, c) for monday, (d, c) in expected.items()
    ]
    assert [w.rate for w in weeks] == [round(100 * c / d, 1) for d, c in expected.values()]
    assert sum(w.decided for w in weeks) == s.expected["decided_batches"] == 6
    assert sum(w.cancelled for w in weeks) == s.expected["cancelled_batches"] == 1
    assert reasons == s.expected["reasons"] == {"no_reason_given": 1}


def test_cancellation_rate_of_the_cancelled_day_alone_is_100(s, auditor):
    weeks, reasons = cancellation_rate(auditor, period=Period(s.d3, s.d3))
    d3_monday = s.d3 - dt.timedelta(days=s.d3.weekday())
    assert [(w.week_start, w.decided, w.cancelled, w.rate) for w in weeks] == [
        (d3_monday, 1, 1, 100.0)
    ]
    assert reasons == {"no_reason_given": 1}

    weeks, reasons = cancellation_rate(auditor, period=Period(s.d1, s.d2))
    assert (sum(w.decided for w in weeks), sum(w.cancelled for w in weeks)) == (4, 0)
    assert {w.rate for w in weeks if w.decided} == {0.0}
    assert reasons == {}


def test_referral_to_crossing_median_and_extremes(s, auditor):
    wait = referral_to_crossing(auditor, period=_whole(s))
    # 7 waits of 10..16 (D4), 40 of 20..59 (D2), 5 of 100..104 (D1): the 26th and 27th of the
    # 52 are 38 and 39. B's older rejected referral (200+ days) does not count.
    assert (wait.patients, wait.median_days, wait.shortest, wait.longest) == (52, 38.5, 10, 104)
    expected = s.expected["referral_to_crossing"]
    assert (wait.patients, wait.median_days, wait.shortest, wait.longest) == (
        expected["patients"],
        expected["median"],
        expected["shortest"],
        expected["longest"],
    )

    d4 = referral_to_crossing(auditor, period=Period(s.d4, s.d4))
    assert (d4.patients, d4.median_days, d4.shortest, d4.longest) == (7, 13, 10, 16)
    nobody = referral_to_crossing(auditor, period=Period(s.d3, s.d3))
    assert (nobody.patients, nobody.median_days, nobody.shortest, nobody.longest) == (
        0,
        None,
        None,
        None,
    )


def test_deaths_while_waiting_counts_the_one_death_not_the_withdrawal(s, auditor):
    x = s.patient("X")
    rows = deaths_while_waiting(auditor, period=Period(s.d1, s.today))
    assert [(r.case_reference, r.was, r.registered_at, r.days_waited) for r in rows] == [
        (x.case_reference, "waiting", x.registered_at, 40)
    ]
    assert {"X": rows[0].days_waited} == s.expected["deaths"]
    assert rows[0].recorded_at.date() <= s.today
    assert {s.patient("Y").status, x.status} == {"withdrawn", "deceased"}
    # The death was recorded today (when the scenario ran), not in the four days.
    assert deaths_while_waiting(auditor, period=_whole(s)) == []


# --- Cancellations --------------------------------------------------------------------------


def test_cancellations_row_of_the_d3_batch(s, auditor):
    [row] = cancellations(auditor)
    d3 = s.batch("d3_exit")
    people = [s.patients[name].case_reference for name in ("B", "C1", "C2", "W", "X", "Y")]
    expected = s.expected["d3_cancellation"]
    assert row.__dict__ == {
        "code": f"RAF-{s.d3.isoformat()}-1",
        "crossing": "rafah",
        "direction": "exit",
        "planned_date": s.d3,
        "cancelled_at": d3.cancelled_at,
        "cancelled_from": "cleared",
        "reason_code": "no_reason_given",
        "reason_text": CANCEL_TEXT,
        "source": "who",
        "recorded_by": "coordinator",
        "recorded_by_role": "coordinator",
        # Recorded as it happened (the scenario states no earlier time): see below.
        "recorded_at": row.recorded_at,
        "patients": 6,
        "companions": 8,
        "returnees": 0,
        "lead_hours": row.lead_hours,
        # Not rescheduled (as on the real day 3): D4 is a new batch.
        "rescheduled_as": "",
        "rescheduled_for": None,
        # B, C1 and C2 crossed on D4; W waits; X died, Y withdrew.
        "crossed_later": 3,
        "last_crossed_on": s.d4,
        "still_waiting": 1,
        "people": people,
        # WHO told us directly; nothing was said later.
        "relayed_by": "",
        "statements": [],
    }
    assert (row.patients, row.companions, row.crossed_later) == (
        expected["patients"],
        expected["companions"],
        expected["crossed_later"],
    )
    assert (row.last_crossed_on, row.still_waiting) == (
        expected["last_crossed_on"],
        expected["still_waiting"],
    )
    assert abs(row.recorded_at - d3.cancelled_at) < dt.timedelta(seconds=5)
    # Recorded today, eight days after the planned day began (give or take a DST hour).
    assert -(9 * 24 + 1) < row.lead_hours < -(8 * 24 - 1)
    assert d3.cancelled_at.date() >= s.d3


@pytest.fixture
def second_cancellation(s):
    """A draft for today with W alone, cancelled for security by the border authority."""
    batch = batch_create(
        actor=s.coordinator, direction="exit", planned_date=s.today, staging_facility=s.facility
    )
    batch_add_patient(batch=batch, patient=s.patient("W"), actor=s.coordinator)
    return batch_cancel(
        batch=batch,
        actor=s.coordinator,
        reason_code="security",
        reason_text="closed for security reasons",
        source="border_authority",
    )


@pytest.mark.parametrize(
    ("reason", "source", "expected"),
    [
        ("", "", ["d3", "today"]),
        ("no_reason_given", "", ["d3"]),
        ("security", "", ["today"]),
        ("", "who", ["d3"]),
        ("", "border_authority", ["today"]),
        ("no_reason_given", "border_authority", []),
        ("weather", "", []),
        ("", "red_crescent", []),
    ],
)
def test_cancellations_filter_by_reason_and_source(
    s, auditor, second_cancellation, reason, source, expected
):
    codes = {"d3": s.batch("d3_exit").code, "today": second_cancellation.code}
    rows = cancellations(auditor, reason=reason, source=source, order="planned_date")
    assert [r.code for r in rows] == [codes[name] for name in expected]


def test_cancellations_filter_by_period_of_cancellation(s, auditor):
    code = s.batch("d3_exit").code
    # The period is when the cancellation was recorded (today here), not the planned day.
    assert cancellations(auditor, period=_whole(s)) == []
    assert cancellations(auditor, period=Period(end=s.today - dt.timedelta(days=1))) == []
    assert cancellations(auditor, period=Period(start=s.today + dt.timedelta(days=1))) == []
    assert [r.code for r in cancellations(auditor, period=Period(s.today, s.today))] == [code]
    assert [r.code for r in cancellations(auditor, period=Period(start=s.today))] == [code]
    assert [r.code for r in cancellations(auditor, crossing="rafah")] == [code]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("-cancelled_at", ["today", "d3"]),
        ("cancelled_at", ["d3", "today"]),
        ("planned_date", ["d3", "today"]),
        ("-planned_date", ["today", "d3"]),
        ("code", ["d3", "today"]),
        ("-code", ["today", "d3"]),
        ("patients", ["today", "d3"]),
        ("-patients", ["d3", "today"]),
        ("cancelled_from", ["d3", "today"]),
        ("reason_code", ["d3", "today"]),
        ("-source", ["d3", "today"]),
        ("lead_hours", ["d3", "today"]),
        ("-lead_hours", ["today", "d3"]),
    ],
)
def test_cancellations_order(s, auditor, second_cancellation, order, expected):
    codes = {"d3": s.batch("d3_exit").code, "today": second_cancellation.code}
    assert [r.code for r in cancellations(auditor, order=order)] == [codes[n] for n in expected]


def test_second_cancellation_row(s, auditor, second_cancellation):
    row = cancellations(auditor, reason="security")[0]
    w = s.patient("W")
    assert (row.cancelled_from, row.patients, row.companions, row.source) == (
        "draft",
        1,
        0,
        "border_authority",
    )
    assert (row.crossed_later, row.last_crossed_on, row.still_waiting, row.people) == (
        0,
        None,
        1,
        [w.case_reference],
    )
    # W went back to the queue: the D3 row still counts them as waiting.
    assert cancellations(auditor, reason="no_reason_given")[0].still_waiting == 1


@pytest.mark.parametrize("order", ["name", "-people", "", "-", "recorded_by"])
def test_cancellations_refuse_an_unknown_order(s, auditor, order):
    with pytest.raises(ValueError, match="order must be one of"):
        cancellations(auditor, order=order)


# --- People ---------------------------------------------------------------------------------


def test_bumped_patients_lists_exactly_the_twice_bumped_patient(s, auditor):
    b = s.patient("B")
    rows = bumped_patients(auditor)
    assert [(r.case_reference, r.bumps, r.last_sent_back_on, r.status) for r in rows] == [
        (b.case_reference, 2, s.d3, "evacuated")
    ]
    assert {s.patients[n].case_reference: 2 for n in s.expected["bumped"]} == {
        r.case_reference: r.bumps for r in rows
    }
    # Sent back once: the other five of the cancelled batch.
    once = bumped_patients(auditor, minimum=1)
    assert (len(once), once[0].case_reference) == (6, b.case_reference)
    assert sorted((r.case_reference, r.bumps) for r in once[1:]) == sorted(
        (s.patients[n].case_reference, 1) for n in ("C1", "C2", "W", "X", "Y")
    )
    assert bumped_patients(auditor, minimum=3) == []


def test_patient_journey_of_the_bumped_patient(s, auditor):
    b = s.patient("B")
    journey = patient_journey(auditor, b)
    d1, d3, d4 = (s.batch(n) for n in ("d1_exit", "d3_exit", "d4_exit"))
    steps = [
        (st.batch, st.planned_date, st.batch_status, st.clearance, st.outcome, st.end_reason)
        for st in journey.steps
    ]
    assert steps == [
        (d1.code, s.d1, "crossed", "rejected", "", "rejected"),
        (d3.code, s.d3, "cancelled", "approved", "", "cancelled"),
        (d4.code, s.d4, "crossed", "approved", "crossed", "completed"),
    ]
    assert [st.sent_back for st in journey.steps] == [True, True, False]
    assert all(isinstance(st, JourneyStep) for st in journey.steps)
    assert [st.added_at for st in journey.steps] == sorted(st.added_at for st in journey.steps)
    assert (journey.case_reference, journey.status, journey.crossed_on, journey.bumps) == (
        b.case_reference,
        "evacuated",
        s.d4,
        2,
    )
    # First approved referral 16 days before D4 (the older rejected one is ignored); registered
    # at noon 30 days ago, i.e. 23 days before D4.
    assert journey.referral_issued_on == s.d4 - dt.timedelta(days=16)
    assert (journey.days_since_referral, journey.days_since_registration) == (16, 23)


def test_patient_journey_of_a_waiting_patient_runs_until_today(s, auditor):
    w = s.patient("W")
    journey = patient_journey(auditor, w)
    assert [(st.planned_date, st.sent_back) for st in journey.steps] == [(s.d3, True)]
    assert (journey.status, journey.crossed_on, journey.bumps) == ("waiting", None, 1)
    # W's referral was issued 30 days before D3, i.e. 38 days before today.
    assert journey.days_since_referral == 38


# --- The cancelled batch's history ----------------------------------------------------------


def test_batch_timeline_of_the_cancelled_batch(s, auditor):
    d3 = s.batch("d3_exit")
    events = list(batch_timeline(auditor, d3))
    assert [e.action for e in events] == [
        "create",
        *["add_member"] * 3,  # B, C1, C2 with their companions
        "add_member",  # W
        "add_member",  # W's companion, added on its own
        *["add_member"] * 2,  # X, Y (with Y's companion)
        "prepare",
        "submit",
        *["clearance"] * 14,  # 6 patients and 8 companions
        "clear",
        "cancel",
    ]
    assert {e.to_state for e in events if e.action == "clearance"} == {"approved"}
    assert [e.subject_ref for e in events if e.subject_type == "batch"] == [d3.code] * 5
    assert all(e.batch_ref == d3.code for e in events)
    cancel = events[-1]
    assert (cancel.from_state, cancel.to_state) == ("cleared", "cancelled")
    assert (cancel.reason_code, cancel.reason_text, cancel.source) == (
        "no_reason_given",
        CANCEL_TEXT,
        "who",
    )
    assert (cancel.actor.username, cancel.actor_role) == ("coordinator", "coordinator")
    assert cancel.details == {"patients": 6, "companions": 8, "returnees": 0, "relayed_by": ""}


def test_batch_manifest_of_the_cancelled_batch(s, auditor):
    lines = list(batch_manifest(auditor, s.batch("d3_exit")))
    assert len(lines) == 14
    assert {(line.is_open, line.end_reason, line.clearance) for line in lines} == {
        (False, "cancelled", "approved")
    }
    assert sum(1 for line in lines if line.patient_id) == 6


# --- Scoping --------------------------------------------------------------------------------


def test_staff_of_another_facility_see_no_rows(s, other_nurse):
    period = _whole(s)
    assert cancellations(other_nurse) == []
    assert bumped_patients(other_nurse, minimum=1) == []
    assert list(batch_timeline(other_nurse, s.batch("d3_exit"))) == []
    assert list(batch_manifest(other_nurse, s.batch("d3_exit"))) == []
    assert patient_journey(other_nurse, s.patient("B")).steps == []
    assert deaths_while_waiting(other_nurse, period=Period(s.d1, s.today)) == []
    wait = referral_to_crossing(other_nurse, period=period)
    assert (wait.patients, wait.median_days) == (0, None)
    weeks, reasons = cancellation_rate(other_nurse, period=period)
    assert (sum(w.decided for w in weeks), reasons) == (0, {})
    # The agreed numbers are no secret; who crossed is.
    rows = quota_vs_crossed(other_nurse, period=period, crossing="rafah")
    assert {(r.agreed_patients, r.agreed_returnees) for r in rows} == {(50, None), (None, 50)}
    assert {(r.people_crossed, r.held, r.refused_at_vetting) for r in rows} == {(0, 0, 0)}


def test_staff_of_the_staging_facility_see_patients_but_not_returnees(s, nurse):
    rows = quota_vs_crossed(nurse, period=_whole(s), crossing="rafah")
    assert [
        (r.patients_crossed, r.companions_crossed, r.returnees_crossed, r.held) for r in rows
    ] == [
        (5, 10, 0, 0),
        (0, 0, 0, 0),
        (40, 0, 0, 0),
        (0, 0, 0, 0),
        (0, 0, 0, 0),
        (0, 0, 0, 0),
        (7, 14, 0, 0),
        (0, 0, 0, 0),
    ]
    assert [r.code for r in cancellations(nurse)] == [s.batch("d3_exit").code]
    assert [r.bumps for r in bumped_patients(nurse)] == [2]
