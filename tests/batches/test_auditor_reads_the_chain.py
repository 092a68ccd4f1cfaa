"""What the auditors read about a cancellation and what was said later comes from the chained
events, not from the batch's or the statements' own columns: those copies are not in the hash
chain, so an UPDATE to them would go unnoticed by `verify_audit_log`. Altered in the database,
they change nothing the auditor sees: the timeline, the cancellation history (page, JSON, CSV)
and the statements API."""

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from batches.reports.selectors import Period, cancellations
from batches.services import batch_add_patient, batch_cancel, batch_create, statement_add

pytestmark = pytest.mark.django_db

CANCEL_TEXT = "Cancelled at the last minute, no reason given."
SAID = "Coordination details were missing."
FORGED = "FORGED"


def _ago(hours: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=hours)


@pytest.fixture
def cancelled(coordinator, facility, quota, ready_patient):
    batch = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=timezone.localdate(),
        staging_facility=facility,
        occurred_at=_ago(30),
    )
    batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    batch = batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="no_reason_given",
        reason_text=CANCEL_TEXT,
        source="border_authority",
        relayed_by="who",
        occurred_at=_ago(26),
    )
    statement_add(
        batch=batch,
        actor=coordinator,
        source="border_authority",
        relayed_by="red_crescent",
        text=SAID,
        said_at=_ago(2),
        about_cancellation=True,
    )
    return batch


def _alter_the_copies(batch) -> None:
    """Behind the application's back: every copy a domain row keeps of what the events say."""
    forged_day = timezone.now() - dt.timedelta(days=40)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE batches_batch SET cancel_reason_text = %s, cancel_relayed_by = %s, "
            "cancel_source = %s, cancel_reason_code = %s, cancelled_from = %s, "
            "cancelled_at = %s WHERE id = %s",
            [FORGED, "ministry_of_health", "internal", "weather", "crossed", forged_day, batch.pk],
        )
        cursor.execute(
            "UPDATE batches_statement SET text = %s, source = %s, relayed_by = %s, "
            "said_at = %s, about_cancellation = %s WHERE batch_id = %s",
            [FORGED, "internal", "other", forged_day, False, batch.pk],
        )


def test_cancellation_history_reads_the_events_not_the_copies(cancelled, auditor):
    _alter_the_copies(cancelled)
    [row] = cancellations(auditor, period=Period(timezone.localdate() - dt.timedelta(days=3)))
    assert (
        row.reason_text,
        row.relayed_by,
        row.source,
        row.reason_code,
        row.cancelled_from,
    ) == (CANCEL_TEXT, "who", "border_authority", "no_reason_given", "draft")
    assert abs(row.cancelled_at - _ago(26)) < dt.timedelta(minutes=1)
    [line] = row.statements
    assert line.endswith(f"border authority (relayed by Red Crescent): {SAID}")
    # The filters read the events too: the forged reason and source find nothing.
    period = Period(timezone.localdate() - dt.timedelta(days=3))
    assert cancellations(auditor, period=period, reason="weather") == []
    assert cancellations(auditor, period=period, source="internal") == []
    assert len(cancellations(auditor, period=period, reason="no_reason_given")) == 1


def test_cancellation_history_page_json_and_csv_show_the_record(client, api, cancelled, auditor):
    _alter_the_copies(cancelled)
    client.force_login(auditor)
    url = reverse("reports:cancellations")
    page = client.get(url).content.decode()
    csv = client.get(url, {"download": "csv"}).content.decode("utf-8-sig")
    body = api(auditor).get("/api/v1/reports/cancellations/").json()
    [row] = body["results"]
    assert (row["reason_text"], row["relayed_by"], row["source"]) == (
        CANCEL_TEXT,
        "who",
        "border_authority",
    )
    for shown in (page, csv, str(row)):
        assert FORGED not in shown
        assert CANCEL_TEXT in shown and SAID in shown


def test_timeline_reads_the_events_not_the_copies(client, cancelled, auditor):
    _alter_the_copies(cancelled)
    client.force_login(auditor)
    html = client.get(reverse("reports:batch", args=[cancelled.code])).content.decode()
    assert FORGED not in html
    assert CANCEL_TEXT in html and SAID in html
    assert "relayed by WHO" in html
    assert "ministry of health" not in html


def test_statements_api_reads_the_events_not_the_copies(api, cancelled, auditor):
    _alter_the_copies(cancelled)
    [statement] = (
        api(auditor).get(f"/api/v1/batches/{cancelled.code}/statements/").json()["results"]
    )
    said_at = dt.datetime.fromisoformat(statement["said_at"])
    assert (
        statement["text"],
        statement["source"],
        statement["relayed_by"],
        statement["about_cancellation"],
        statement["batch"],
    ) == (SAID, "border_authority", "red_crescent", True, cancelled.code)
    assert abs(said_at - _ago(2)) < dt.timedelta(minutes=1)
