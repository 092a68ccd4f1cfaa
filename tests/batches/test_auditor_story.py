"""The auditor's story (issue 11, "Done when"): a last-minute cancellation recorded the next
morning, decided by the border authority and relayed by WHO; a later statement of the authority
("coordination details were missing"), relayed by WHO; a clearance note that named a person,
redacted by an admin. What an auditor reads through the API, the pages and the CSV/XLSX exports
must tell the true sequence (the order things happened), the right day and notice, who decided
and who relayed, with the redaction where the note was, and the reports' figures unchanged."""

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import strip_tags

from batches.reports.selectors import (
    Period,
    cancellation_rate,
    quota_vs_crossed,
)
from batches.services import (
    batch_add_patient,
    batch_cancel,
    batch_clear,
    batch_create,
    batch_prepare,
    batch_record_clearance,
    batch_submit,
    statement_add,
)
from casetracker.audit.models import ACCESS_ACTIONS, Event
from casetracker.audit.redaction import text_redact
from casetracker.audit.verify import verify_chain
from tests import factories

pytestmark = pytest.mark.django_db

NOTE = "Not on the cleared list: Ahmad Haddad, the uncle, has no papers."
NAME = "Ahmad"
CANCEL_TEXT = "Cancelled at the last minute while the teams stood ready; no reason given."
SAID = "Coordination details were missing."
WHY = "names a person"


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def shown(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


@pytest.fixture
def story(coordinator, admin_user, facility, ready_patient):
    """Everything recorded this morning about a batch planned for yesterday."""
    today = timezone.localdate()
    day = today - dt.timedelta(days=1)
    eve = day - dt.timedelta(days=1)
    factories.QuotaFactory(date=day, direction="exit", agreed_patients=50, agreed_companions=100)
    times = {
        "create": at(eve, 9),
        "prepare": at(eve, 12),
        "submit": at(eve, 15),
        "vetting": at(day, 6),
        "clear": at(day, 6, 30),
        "cancel": at(day, 7, 40),
        # The authority's claim came that evening; the coordinator wrote it down this morning.
        "said": at(day, 18),
    }
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=day,
        staging_facility=facility,
        occurred_at=times["create"],
    )
    patients = [ready_patient(), ready_patient()]
    uncle = factories.CompanionFactory(patient=patients[0], relationship="uncle")
    for patient, companions in zip(patients, ([uncle], []), strict=True):
        batch_add_patient(batch=batch, patient=patient, actor=coordinator, companions=companions)
    batch_prepare(batch=batch, actor=coordinator, occurred_at=times["prepare"])
    batch_submit(batch=batch, actor=coordinator, occurred_at=times["submit"])
    for line in batch.members.order_by("pk"):
        refused = line.companion_id == uncle.pk
        batch_record_clearance(
            batch=batch,
            member=line,
            clearance="rejected" if refused else "approved",
            note=NOTE if refused else "",
            actor=coordinator,
            occurred_at=times["vetting"],
        )
    batch_clear(batch=batch, actor=coordinator, occurred_at=times["clear"])
    # The report's figures before the later statement and the redaction.
    figures = _figures(admin_user, day)
    batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="no_reason_given",
        reason_text=CANCEL_TEXT,
        source="border_authority",
        relayed_by="who",
        occurred_at=times["cancel"],
    )
    cancelled_figures = _figures(admin_user, day)
    statement = statement_add(
        batch=batch,
        actor=coordinator,
        source="border_authority",
        relayed_by="who",
        text=SAID,
        said_at=times["said"],
        about_cancellation=True,
    )
    note_event = Event.objects.get(batch_ref=batch.code, action="clearance", to_state="rejected")
    redaction = text_redact(text_id=note_event.pk, actor=admin_user, reason=WHY)
    batch.refresh_from_db()
    return {
        "batch": batch,
        "day": day,
        "times": times,
        "statement": statement,
        "note_event": note_event,
        "redaction": redaction,
        "sentence": f"[text redacted on "
        f"{formats.date_format(timezone.localtime(redaction.redacted_at), 'SHORT_DATE_FORMAT')}"
        f" by admin: {WHY}]",
        "figures": figures,
        "cancelled_figures": cancelled_figures,
        "patients": patients,
    }


def _figures(user, day: dt.date) -> dict:
    """The numbers of the reports that read the day: quota against crossings (with people
    refused at vetting), cancellation rate and reasons."""
    period = Period(day - dt.timedelta(days=7), day + dt.timedelta(days=1))
    weeks, reasons = cancellation_rate(user, period=period)
    return {
        "daily": quota_vs_crossed(user, period=period, crossing="rafah"),
        "weeks": [(w.week_start, w.decided, w.cancelled) for w in weeks],
        "reasons": reasons,
    }


# --- The record itself --------------------------------------------------------------------------


def test_story_record_keeps_both_times_and_verifies(story):
    batch, times = story["batch"], story["times"]
    cancel = Event.objects.get(subject_ref=batch.code, action="cancel")
    assert cancel.occurred_at == times["cancel"]
    assert cancel.created_at - cancel.occurred_at > dt.timedelta(hours=1)  # recorded late
    assert (batch.cancelled_at, batch.cancel_source, batch.cancel_relayed_by) == (
        times["cancel"],
        "border_authority",
        "who",
    )
    # The batch's steps were recorded in the order they happened.
    steps = (
        Event.objects.filter(batch_ref=batch.code)
        .exclude(action__in=[*ACCESS_ACTIONS, "add_member", "redact"])
        .order_by("id")
    )
    occurred = [e.occurred for e in steps]
    assert occurred == sorted(occurred)
    # The redaction kept the chain whole.
    assert verify_chain().ok
    # Nowhere in the chained rows nor in the kept texts is the name any more.
    for event in Event.objects.all():
        assert NAME not in event.chained_text + event.reason_text + str(event.details)


def test_story_report_figures_unchanged_by_the_statement_and_the_redaction(story, auditor):
    figures = _figures(auditor, story["day"])
    assert figures == story["cancelled_figures"]
    # The cancellation changed only what it should: the batch counts as cancelled that week.
    before, after = story["figures"], story["cancelled_figures"]
    assert before["daily"] == after["daily"]
    assert after["reasons"] == {"no_reason_given": 1}
    assert sum(w[2] for w in after["weeks"]) == 1 + sum(w[2] for w in before["weeks"])
    # The uncle was refused at vetting on the day.
    [exit_day] = [r for r in figures["daily"] if r.date == story["day"] and r.direction == "exit"]
    assert (exit_day.agreed_patients, exit_day.refused_at_vetting) == (50, 1)


# --- Through the API ---------------------------------------------------------------------------


def test_story_through_the_api(story, api, auditor):
    batch, times = story["batch"], story["times"]
    client = api(auditor)

    events = client.get("/api/v1/events/", {"batch": batch.code}).json()["results"]
    by_action = {}
    for event in events:
        by_action.setdefault(event["action"], []).append(event)
    [cancel] = by_action["cancel"]
    assert dt.datetime.fromisoformat(cancel["occurred_at"]) == times["cancel"]
    assert dt.datetime.fromisoformat(cancel["created_at"]) > times["cancel"]
    assert (cancel["source"], cancel["details"]["relayed_by"], cancel["reason_text"]) == (
        "border_authority",
        "who",
        CANCEL_TEXT,
    )
    [said] = by_action["statement"]
    assert (said["source"], said["details"], said["reason_text"]) == (
        "border_authority",
        {"relayed_by": "who", "about_cancellation": True},
        SAID,
    )
    assert dt.datetime.fromisoformat(said["occurred_at"]) == times["said"]
    [note] = [e for e in by_action["clearance"] if e["to_state"] == "rejected"]
    assert note["reason_text"] == ""
    assert (note["redaction"]["redacted_by"], note["redaction"]["reason"]) == ("admin", WHY)
    [redact] = by_action["redact"]
    assert redact["details"] == {"event": note["id"], "action": "clearance"}
    assert NAME not in str(events)

    statements = client.get(f"/api/v1/batches/{batch.code}/statements/").json()["results"]
    assert [
        (s["source"], s["relayed_by"], s["text"], s["about_cancellation"]) for s in statements
    ] == [("border_authority", "who", SAID, True)]

    timeline = client.get(f"/api/v1/reports/batches/{batch.code}/timeline/").json()
    steps = [e for e in timeline["events"] if e["action"] not in ("add_member", "view")]
    occurred = [dt.datetime.fromisoformat(e["occurred_at"]) for e in steps]
    assert occurred == sorted(occurred), "the timeline tells the order things happened"
    assert [e["action"] for e in steps][-3:] == ["cancel", "statement", "redact"]

    day = story["day"].isoformat()
    rows = client.get("/api/v1/reports/cancellations/", {"date_from": day, "date_to": day}).json()
    [row] = rows["results"]
    assert (row["code"], row["source"], row["relayed_by"], row["reason_text"]) == (
        batch.code,
        "border_authority",
        "who",
        CANCEL_TEXT,
    )
    assert row["lead_hours"] == pytest.approx(-7.7, abs=0.05)  # on the day, not after it
    assert row["statements"] == [
        f"{shown(times['said'])} · border authority (relayed by WHO): {SAID}"
    ]
    today = timezone.localdate().isoformat()
    recorded_today = client.get(
        "/api/v1/reports/cancellations/", {"date_from": today, "date_to": today}
    ).json()
    assert recorded_today["count"] == 0  # it belongs to the day it happened


# --- Through the pages ---------------------------------------------------------------------------


def test_story_through_the_pages(story, client, auditor):
    batch, times = story["batch"], story["times"]
    client.force_login(auditor)

    timeline = client.get(reverse("reports:batch", args=[batch.code])).content.decode()
    assert NAME not in timeline
    assert story["sentence"] in timeline
    cancel = Event.objects.get(subject_ref=batch.code, action="cancel")
    # Both times of the cancellation, recorded the next morning.
    words = " ".join(strip_tags(timeline).split())
    assert f"occurred {shown(times['cancel'])} · recorded {shown(cancel.created_at)}" in words
    assert "decided by border authority · relayed by WHO" in timeline
    assert "said by border authority · relayed by WHO · about the cancellation" in timeline
    # In the order things happened: the vetting, the clearance, the cancellation, then what
    # the authority said.
    order = [timeline.index(word) for word in ("clearance recorded", ">cleared<", SAID)]
    assert order == sorted(order)

    day = story["day"].isoformat()
    query = {"date_from": day, "date_to": day}
    history = client.get(reverse("reports:cancellations"), query).content.decode()
    assert batch.code in history and "on the day" in history
    assert "relayed by WHO" in history
    assert f"{shown(times['said'])} · border authority (relayed by WHO): {SAID}" in history
    assert CANCEL_TEXT in history

    page = client.get(reverse("batches:detail", args=[batch.code])).content.decode()
    assert NAME not in page
    assert story["sentence"] in page  # where the note was, on the manifest
    assert SAID in page and "decided by border authority" in page


# --- Through the exports ---------------------------------------------------------------------


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _xlsx(content: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_story_through_the_exports(story, client, auditor, fmt):
    batch, times = story["batch"], story["times"]
    client.force_login(auditor)
    day = story["day"].isoformat()
    response = client.get(
        reverse("reports:cancellations"), {"date_from": day, "date_to": day, "download": fmt}
    )
    assert response.status_code == 200
    rows = _csv(response.content) if fmt == "csv" else _xlsx(response.content)
    header, [row] = rows[0], rows[1:]
    cell = dict(zip(header, row, strict=True))
    assert cell["batch"] == batch.code
    assert cell["decided by"] == "border_authority"
    assert cell["relayed by (empty: directly)"] == "who"
    assert cell["what was said"] == CANCEL_TEXT
    assert cell["said later about the cancellation"] == (
        f"{shown(times['said'])} · border authority (relayed by WHO): {SAID}"
    )
    cancelled_at = cell["cancelled at"]
    if fmt == "csv":
        cancelled_at = dt.datetime.fromisoformat(cancelled_at)
    assert cancelled_at == timezone.localtime(times["cancel"]).replace(tzinfo=None)
    assert float(cell["hours before the planned day"]) == pytest.approx(-7.7, abs=0.05)
    assert NAME not in str(rows)
