"""The auditors' report API under /api/v1/reports/: JSON rows, timelines and journeys, filters
and their errors, logged CSV/XLSX downloads with neutralised formulas, and who may read it.

The data helpers are those of the page tests (test_reports_pages.py)."""

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from batches.reports.tables import REPORTS
from batches.services import (
    batch_add_patient,
    batch_add_returnee,
    batch_cancel,
    batch_clear,
    batch_record_clearance,
)
from casetracker.audit.models import Event
from tests import factories
from tests.api_helpers import decryptions
from tests.batches.test_reports_pages import (
    FORMULAS,
    assert_logged_export,
    assert_no_live_formula,
    build_world,
    cancel,
    cancelled_batch,
    cancelled_days_ago,
    exit_batch,
    file_rows,
    last_event_id,
    new_events,
)
from tests.service_helpers import advance, world

pytestmark = pytest.mark.django_db

ROW_FIELDS = {
    "code",
    "crossing",
    "direction",
    "planned_date",
    "cancelled_at",
    "cancelled_from",
    "reason_code",
    "reason_text",
    "source",
    "relayed_by",
    "statements",
    "recorded_by",
    "recorded_by_role",
    "recorded_at",
    "patients",
    "companions",
    "returnees",
    "lead_hours",
    "rescheduled_as",
    "rescheduled_for",
    "crossed_later",
    "last_crossed_on",
    "still_waiting",
    "people",
}


def report_url(name: str) -> str:
    return f"/api/v1/reports/{name}/"


def timeline_url(code: str) -> str:
    return f"/api/v1/reports/batches/{code}/timeline/"


def journey_url(ref: str) -> str:
    return f"/api/v1/reports/patients/{ref}/journey/"


@pytest.fixture
def audit_world(coordinator, facility, ready_patient, quota):
    return build_world(coordinator, facility, ready_patient)


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- JSON ------------------------------------------------------------------------------------


def test_cancellations_api_returns_count_and_rows(
    api, auditor, coordinator, facility, ready_patient
):
    patient = ready_patient()
    batch = exit_batch(coordinator, facility)
    batch_add_patient(
        batch=batch,
        patient=patient,
        companions=[factories.CompanionFactory(patient=patient)],
        actor=coordinator,
    )
    batch = cancel(batch, coordinator, reason="weather", source="who", text="storm")

    response = api(auditor).get(report_url("cancellations"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert set(row) == ROW_FIELDS
    assert row == {
        "code": batch.code,
        "crossing": "rafah",
        "direction": "exit",
        "planned_date": batch.planned_date.isoformat(),
        "cancelled_at": row["cancelled_at"],
        "cancelled_from": "draft",
        "reason_code": "weather",
        "reason_text": "storm",
        "source": "who",
        "recorded_by": "coordinator",
        "recorded_by_role": "coordinator",
        "recorded_at": row["recorded_at"],
        "patients": 1,
        "companions": 1,
        "returnees": 0,
        "lead_hours": row["lead_hours"],
        "rescheduled_as": "",
        "rescheduled_for": None,
        "crossed_later": 0,
        "last_crossed_on": None,
        "still_waiting": 1,
        "people": [patient.case_reference],
        "relayed_by": "",
        "statements": [],
    }
    assert parse_time(row["cancelled_at"]) == batch.cancelled_at
    # Recorded as it happened: the same moment, give or take the writing of the event.
    assert parse_time(row["recorded_at"]) - batch.cancelled_at < dt.timedelta(seconds=5)
    assert row["lead_hours"] <= 0  # cancelled on the planned day itself


def test_cancellations_api_filters_and_orders(api, auditor, coordinator, facility, today):
    storm = cancelled_batch(coordinator, facility, reason="weather", source="red_crescent")
    closed = cancelled_batch(coordinator, facility, reason="security", source="who")
    old = cancelled_days_ago(10, coordinator, facility, reason="weather", source="who")
    client = api(auditor)

    def codes(**params):
        response = client.get(report_url("cancellations"), params)
        assert response.status_code == 200, response.json()
        return [row["code"] for row in response.json()["results"]]

    assert codes() == [closed.code, storm.code]
    assert codes(order="code") == [storm.code, closed.code]
    assert codes(reason="weather") == [storm.code]
    assert codes(source="who") == [closed.code]
    since = (today - dt.timedelta(days=11)).isoformat()
    assert codes(date_from=since, reason="weather", order="cancelled_at") == [old.code, storm.code]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"date_to": "yesterday"}, "date_to"),
        ({"date_from": "2026-02-10", "date_to": "2026-02-09"}, "date_to"),
        ({"date_from": "2024-01-01", "date_to": "2026-01-01"}, "date_from"),
        ({"reason": "boredom"}, "reason"),
        ({"source": "rumour"}, "source"),
        ({"order": "name"}, "order"),
        ({"download": "pdf"}, "download"),
    ],
)
def test_cancellations_api_names_the_bad_filter(params, field, api, auditor):
    before = last_event_id()

    response = api(auditor).get(report_url("cancellations"), params)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert new_events(before) == []


@pytest.mark.parametrize("name", [n for n in REPORTS if n != "bumped"])
def test_report_api_refuses_an_invalid_date(name, api, auditor):
    response = api(auditor).get(report_url(name), {"date_from": "2026-13-01"})
    assert response.status_code == 400
    assert "date_from" in response.json()


@pytest.mark.parametrize("name", list(REPORTS))
def test_report_api_returns_count_and_rows_for_every_report(name, api, auditor, audit_world):
    response = api(auditor).get(report_url(name))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "results"}
    assert body["count"] == len(body["results"]) > 0
    keys = {column.key for column in REPORTS[name].columns}
    assert all(keys <= set(row) for row in body["results"])


def test_bumped_api_lists_the_patient_sent_back_twice(api, auditor, audit_world):
    response = api(auditor).get(report_url("bumped"))
    (row,) = response.json()["results"]
    assert (row["case_reference"], row["bumps"]) == (audit_world.bumped.case_reference, 2)


def test_timeline_api_returns_events_and_manifest(
    api, auditor, coordinator, facility, ready_patient, quota
):
    patient = ready_patient()
    batch = advance(exit_batch(coordinator, facility, [patient]), "cleared", coordinator)
    batch = cancel(batch, coordinator, reason="security", source="border_authority", text="shut")

    response = api(auditor).get(timeline_url(batch.code))

    assert response.status_code == 200
    body = response.json()
    assert (body["batch"], body["status"]) == (batch.code, "cancelled")
    assert body["planned_date"] == batch.planned_date.isoformat()
    assert [e["action"] for e in body["events"]] == [
        "create",
        "add_member",
        "prepare",
        "submit",
        "clearance",
        "clear",
        "cancel",
    ]
    events = Event.objects.filter(batch_ref=batch.code).order_by("created_at", "id")
    assert [e["id"] for e in body["events"]] == [e.pk for e in events]
    last = body["events"][-1]
    assert (last["reason_code"], last["source"], last["reason_text"], last["actor"]) == (
        "security",
        "border_authority",
        "shut",
        "coordinator",
    )
    (line,) = batch.members.all()
    assert body["manifest"] == [
        {
            "line": line.pk,
            "person": patient.case_reference,
            "kind": "patient",
            "clearance": "approved",
            "outcome": "",
            "end_reason": "cancelled",
            "open": False,
        }
    ]


def test_journey_api_returns_the_steps(api, auditor, audit_world):
    first, second = audit_world.cancelled

    response = api(auditor).get(journey_url(audit_world.bumped.case_reference))

    assert response.status_code == 200
    body = response.json()
    assert (body["case_reference"], body["bumps"]) == (audit_world.bumped.case_reference, 2)
    assert [
        (s["batch"], s["batch_status"], s["end_reason"], s["sent_back"]) for s in body["steps"]
    ] == [
        (first.code, "cancelled", "cancelled", True),
        (second.code, "cancelled", "cancelled", True),
    ]


@pytest.mark.parametrize("who", ["auditor", "admin_user"])
def test_timeline_and_journey_api_404_for_unknown_codes(request, who, api):
    client = api(request.getfixturevalue(who))
    assert client.get(timeline_url("RAF-1999-01-01-9")).status_code == 404
    assert client.get(journey_url("EV-NOPE99")).status_code == 404


# --- Who may read ----------------------------------------------------------------------------


def every_url(audit_world) -> list[str]:
    return [
        *(report_url(name) for name in REPORTS),
        timeline_url(audit_world.cancelled[0].code),
        journey_url(audit_world.bumped.case_reference),
    ]


@pytest.mark.parametrize("who", ["auditor", "admin_user"])
def test_report_api_open_to_auditors_and_admins(request, who, api, audit_world):
    client = api(request.getfixturevalue(who))
    urls = every_url(audit_world)
    assert {url: client.get(url).status_code for url in urls} == dict.fromkeys(urls, 200)


@pytest.mark.parametrize("who", ["coordinator", "nurse", "other_nurse"])
def test_report_api_refused_to_coordinators_and_hospital_staff(request, who, api, audit_world):
    client = api(request.getfixturevalue(who))
    urls = every_url(audit_world)
    assert {url: client.get(url).status_code for url in urls} == dict.fromkeys(urls, 403)


def test_report_api_refused_to_anonymous(api, audit_world):
    urls = every_url(audit_world)
    assert {url: api().get(url).status_code for url in urls} == dict.fromkeys(urls, 401)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("who", ["auditor", "admin_user"])
def test_report_api_writes_nothing(request, who, method, api, audit_world):
    client = api(request.getfixturevalue(who))
    before = world()
    payload = {"reason_code": "other", "reason_text": "x", "source": "who", "status": "crossed"}
    for url in every_url(audit_world):
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code in (403, 405), (url, response.status_code)
    assert world() == before


# --- Downloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("name", list(REPORTS))
def test_report_api_download_is_the_file_and_is_logged(name, fmt, api, auditor, audit_world):
    before = last_event_id()

    response = api(auditor).get(report_url(name), {"download": fmt})

    rows = assert_logged_export(response, name=name, fmt=fmt, user=auditor, before=before)
    assert len(rows) > 1
    assert_no_live_formula(response.content, fmt)
    json_rows = api(auditor).get(report_url(name)).json()["count"]
    assert len(rows) - 1 == json_rows  # the file and the JSON show the same rows


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("name", list(REPORTS))
@pytest.mark.parametrize("who", ["coordinator", "nurse"])
def test_report_api_download_refused_to_others_and_not_logged(request, who, name, fmt, api):
    before = last_event_id()
    response = api(request.getfixturevalue(who)).get(report_url(name), {"download": fmt})
    assert response.status_code == 403
    assert new_events(before) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_report_api_download_of_cancellations_neutralises_formulas(
    fmt, api, auditor, coordinator, facility
):
    for text in FORMULAS:
        cancelled_batch(coordinator, facility, text=text)
    before = last_event_id()

    response = api(auditor).get(report_url("cancellations"), {"download": fmt})

    rows = assert_logged_export(
        response, name="cancellations", fmt=fmt, user=auditor, before=before
    )
    said = rows[0].index("what was said")
    assert sorted(row[said] for row in rows[1:]) == sorted("'" + text for text in FORMULAS)
    assert_no_live_formula(response.content, fmt)


def test_report_api_json_keeps_the_reason_text_as_typed(api, auditor, coordinator, facility):
    cancelled_batch(coordinator, facility, text=FORMULAS[0])
    (row,) = api(auditor).get(report_url("cancellations")).json()["results"]
    assert row["reason_text"] == FORMULAS[0]


# --- Cost ------------------------------------------------------------------------------------


def test_cancellations_api_queries_do_not_grow_with_rows(
    api, auditor, coordinator, facility, ready_patient
):
    def make(n):
        for _ in range(n):
            cancelled_batch(coordinator, facility, [ready_patient()], companions=1)

    def count(expected):
        fresh = type(auditor).objects.get(pk=auditor.pk)
        with CaptureQueriesContext(connection) as ctx:
            response = api(fresh).get(report_url("cancellations"))
        assert response.json()["count"] == expected
        return len(ctx)

    make(2)
    small = count(2)
    make(4)
    large = count(6)
    assert small == large, f"{small} queries for 2 cancelled batches, {large} for 6"


@pytest.mark.parametrize("download", ["", "csv"])
def test_cancellations_read_no_national_id_and_the_lines_once(
    download, api, auditor, coordinator, facility, ready_patient
):
    """The history shows references and counts: the people's rows are never loaded whole
    (nothing is decrypted) and the lines of the cancelled batches are read in one query."""
    for _ in range(2):
        cancelled_batch(coordinator, facility, [ready_patient(), ready_patient()], companions=1)
    homecoming = factories.BatchFactory(staging_facility=facility, direction="return")
    for returnee in factories.ReturneeFactory.create_batch(2):
        batch_add_returnee(batch=homecoming, returnee=returnee, actor=coordinator)
    cancel(homecoming, coordinator)
    fresh = type(auditor).objects.get(pk=auditor.pk)
    with decryptions() as decrypted, CaptureQueriesContext(connection) as ctx:
        response = api(fresh).get(report_url("cancellations"), {"download": download})
    assert response.status_code == 200
    assert decrypted == []
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [q for q in sql if "national_id" in q]
    # The lines once; the crossings of their people apart.
    lines = [
        q for q in sql if q.startswith('SELECT "batches_batchmember"') and "'crossed'" not in q
    ]
    assert len(lines) == 1, lines
    if not download:
        rows = response.json()["results"]
        assert sorted((r["patients"], r["companions"], r["returnees"]) for r in rows) == [
            (0, 0, 2),
            (2, 2, 0),
            (2, 2, 0),
        ]
        assert all(len(r["people"]) == 2 and r["still_waiting"] == 2 for r in rows)


def test_cancellations_are_the_same_whether_batches_are_named_or_subqueried(
    monkeypatch, api, auditor, coordinator, facility, ready_patient
):
    """Many cancelled batches are named by a subquery instead of one by one: same answer."""
    for _ in range(3):
        cancelled_batch(coordinator, facility, [ready_patient()], companions=1)
    named = api(auditor).get(report_url("cancellations")).json()
    # The package exports the function under the module's name: the module itself.
    history = importlib.import_module("batches.reports.selectors.cancellations")
    monkeypatch.setattr(history, "NAMED_BATCHES", 1)
    with decryptions() as decrypted:
        subqueried = api(auditor).get(report_url("cancellations")).json()
    assert subqueried == named
    assert named["count"] == 3
    assert decrypted == []


def test_bumped_report_decrypts_no_national_id(api, auditor, audit_world):
    with decryptions() as decrypted:
        response = api(auditor).get(report_url("bumped"))
    assert response.json()["count"] == 1
    assert decrypted == []


def test_timeline_decrypts_no_national_id(
    api, client, auditor, coordinator, facility, ready_patient
):
    """The timeline's manifest names people by reference: no ID number is decrypted."""
    batch = cancelled_batch(coordinator, facility, [ready_patient(), ready_patient()], companions=1)
    client.force_login(auditor)
    with decryptions() as decrypted:
        body = api(auditor).get(timeline_url(batch.code)).json()
        page = client.get(reverse("reports:batch", args=[batch.code]))
    assert [line["kind"] for line in body["manifest"]] == ["patient", "companion"] * 2
    assert page.status_code == 200
    assert decrypted == []


# --- Refused at vetting ---------------------------------------------------------------------


def _vetted(batch, coordinator, refused: set[int]):
    """Submit `batch`, refuse the lines in `refused`, approve the others."""
    batch = advance(batch, "submitted", coordinator)
    for line in batch.members.filter(is_open=True).order_by("id"):
        clearance = "rejected" if line.pk in refused else "approved"
        batch_record_clearance(batch=batch, member=line, clearance=clearance, actor=coordinator)
    return batch


def test_daily_api_counts_people_refused_at_vetting_per_day_and_direction(
    api, client, auditor, coordinator, facility, ready_patient, quota, today
):
    factories.QuotaFactory(direction="return")
    refused_patient, travels, alone = ready_patient(), ready_patient(), ready_patient()
    batch = exit_batch(coordinator, facility, [refused_patient, travels, alone], companions=1)
    refused = {
        # The patient; their companion stays behind with them but was not refused.
        batch.members.get(patient=refused_patient).pk,
        # A companion; their patient travels.
        batch.members.get(companion__patient=travels).pk,
    }
    batch = batch_clear(batch=_vetted(batch, coordinator, refused), actor=coordinator)
    assert batch.members.filter(end_reason="rejected").count() == 3
    homecoming = factories.BatchFactory(staging_facility=facility, direction="return")
    returnees = factories.ReturneeFactory.create_batch(2)
    for returnee in returnees:
        batch_add_returnee(batch=homecoming, returnee=returnee, actor=coordinator)
    first = homecoming.members.order_by("id").first()
    batch_clear(batch=_vetted(homecoming, coordinator, {first.pk}), actor=coordinator)
    # Refused on a list that was then cancelled before clearing: a refusal all the same.
    called_off = exit_batch(coordinator, facility, [ready_patient()])
    called_off = _vetted(
        called_off, coordinator, set(called_off.members.values_list("pk", flat=True))
    )
    batch_cancel(
        batch=called_off, actor=coordinator, reason_code="security", reason_text="x", source="who"
    )
    # Refused on a list still being vetted: the decision may be corrected until it is cleared.
    vetting = exit_batch(coordinator, facility, [ready_patient()])
    _vetted(vetting, coordinator, set(vetting.members.values_list("pk", flat=True)))

    params = {"date_from": today.isoformat(), "date_to": today.isoformat()}
    rows = api(auditor).get(report_url("daily"), params).json()["results"]

    assert [(r["direction"], r["refused_at_vetting"]) for r in rows] == [("exit", 3), ("return", 1)]
    csv_rows = file_rows(
        api(auditor).get(report_url("daily"), {**params, "download": "csv"}).content, "csv"
    )
    header = csv_rows[0]
    column = header.index(
        "refused at vetting (people whose clearance was rejected, cancelled batches included)"
    )
    assert [row[column] for row in csv_rows[1:]] == ["3", "1"]
    client.force_login(auditor)
    page = client.get(reverse("reports:report", args=["daily"]), params).content.decode()
    assert (
        "Refused at vetting (people whose clearance was rejected, cancelled batches included)"
        in page
    )


def test_daily_report_words_return_days_as_returnees(api, client, auditor, quota, today):
    """A return day agrees returnees: its own column in the JSON, the CSV/XLSX and the page,
    and no patients or companions agreed."""
    factories.QuotaFactory(direction="return", agreed_patients=40, agreed_companions=0)
    params = {"date_from": today.isoformat(), "date_to": today.isoformat()}
    rows = api(auditor).get(report_url("daily"), params).json()["results"]
    agreed = [
        (r["direction"], r["agreed_patients"], r["agreed_companions"], r["agreed_returnees"])
        for r in rows
    ]
    assert agreed == [
        ("exit", quota.agreed_patients, quota.agreed_companions, None),
        ("return", None, None, 40),
    ]
    for fmt in ("csv", "xlsx"):
        response = api(auditor).get(report_url("daily"), {**params, "download": fmt})
        header, *body = file_rows(response.content, fmt)
        assert header[2:5] == [
            "agreed patients (exit)",
            "agreed companions (exit)",
            "agreed returnees (return)",
        ]
        assert [str(row[4]) for row in body] == ["", "40"]
    client.force_login(auditor)
    page = client.get(reverse("reports:report", args=["daily"]), params).content.decode()
    assert "Agreed returnees (return)" in page
    overview = client.get(reverse("reports:overview"), params).content.decode()
    assert "agreed returnees" in overview  # the return day's chart
