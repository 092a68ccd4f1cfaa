"""API: the signed-in user's inbox at notifications/."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from batches import services as batch_services
from casetracker.audit.models import Action, Event
from casetracker.notifications.messages import render_event_message
from casetracker.notifications.models import Notification
from tests import factories
from tests.service_helpers import inbox_row, notify_event

INBOX = "/api/v1/notifications/"
UNREAD = "/api/v1/notifications/unread-count/"
CANCEL = {"reason_code": "security", "reason_text": "closed today", "source": "border_authority"}


def test_notifications_cancel_reaches_each_inbox(api, coordinator, nurse, auditor, facility):
    batch = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_cancel(batch=batch, actor=coordinator, **CANCEL)
    for user in (coordinator, nurse, auditor):
        response = api(user).get(INBOX, {"mine": "true", "channel": "inbox"})
        assert response.status_code == 200, user
        rows = response.json()["results"]
        assert len(rows) == 1, user
        row = rows[0]
        assert row["batch"] == batch.code
        assert row["action"] == "cancel"
        assert batch.code in row["subject"]
        assert row["read_at"] is None
        assert row["language"] == user.preferred_language


def test_notifications_list_hospital_staff_see_their_own_only(api, nurse, other_nurse):
    rows = notify_event([nurse, other_nurse])
    mine = {n.pk for n in rows if n.recipient_id == nurse.pk}
    for query in ({}, {"mine": "false"}, {"mine": "true"}):
        ids = {n["id"] for n in api(nurse).get(INBOX, query).json()["results"]}
        assert ids == mine, query


def test_notifications_list_coordinators_and_admins_see_all(
    api, coordinator, admin_user, nurse, auditor
):
    rows = notify_event([nurse, auditor, coordinator])
    for user in (coordinator, admin_user):
        ids = {n["id"] for n in api(user).get(INBOX).json()["results"]}
        assert ids == {n.pk for n in rows}, user
    # `mine=true`: the coordinator's own inbox and email rows.
    ids = {n["id"] for n in api(coordinator).get(INBOX, {"mine": "true"}).json()["results"]}
    assert ids == {n.pk for n in rows if n.recipient_id == coordinator.pk}
    # Auditors see their own rows whatever they ask.
    ids = {n["id"] for n in api(auditor).get(INBOX, {"mine": "false"}).json()["results"]}
    assert ids == {n.pk for n in rows if n.recipient_id == auditor.pk}


def test_notifications_list_shows_the_delivery_log(api, coordinator, nurse):
    row = inbox_row(nurse, notify_event([nurse]))
    body = api(coordinator).get(f"{INBOX}{row.pk}/").json()
    assert body["recipient"] == "nurse"
    assert body["status"] == "pending"
    assert {"attempts", "attempt_limit", "last_error", "sent_at", "provider_message_id"} <= set(
        body
    )
    assert "address" not in body


def test_notifications_mark_all_read(api, nurse, other_nurse):
    notify_event([nurse, other_nurse])
    notify_event([nurse], action="prepare")
    response = api(nurse).post(f"{INBOX}read-all/")
    assert response.status_code == 200
    assert response.json() == {"marked": 2}
    assert api(nurse).get(UNREAD).json() == {"unread": 0}
    assert api(other_nurse).get(UNREAD).json() == {"unread": 1}


def _failed_row(user):
    row = inbox_row(user, notify_event([user]))
    Notification.objects.filter(pk=row.pk).update(  # setup: a row the worker gave up on
        status="failed", attempts=6, attempt_limit=6, last_error="DeliveryError: boom"
    )
    return row


@pytest.mark.parametrize("who", ["coordinator", "admin_user"])
def test_notifications_retry_a_failed_row(
    api, request, nurse, who, django_capture_on_commit_callbacks
):
    row = _failed_row(nurse)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(request.getfixturevalue(who)).post(f"{INBOX}{row.pk}/retry/")
    assert response.status_code == 200
    row.refresh_from_db()
    # Queued again with a fresh set of attempts; inbox delivery then succeeds at once (eager).
    assert (row.status, row.attempts, row.attempt_limit) == ("sent", 7, 12)


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_notifications_retry_refused_to_other_roles(api, request, nurse, auditor, who):
    row = _failed_row(request.getfixturevalue(who))
    response = api(request.getfixturevalue(who)).post(f"{INBOX}{row.pk}/retry/")
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.status == "failed"


def test_notifications_retry_of_a_pending_row_is_refused_by_its_state(api, coordinator, nurse):
    row = inbox_row(nurse, notify_event([nurse]))
    response = api(coordinator).post(f"{INBOX}{row.pk}/retry/")
    assert response.status_code == 409
    assert "pending" in response.json()["problems"][0]
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 0)


def test_notifications_filter_by_channel_and_status(api, nurse):
    rows = notify_event([nurse])
    client = api(nurse)
    inbox = client.get(INBOX, {"channel": "inbox"}).json()["results"]
    assert [n["id"] for n in inbox] == [inbox_row(nurse, rows).pk]
    email = client.get(INBOX, {"channel": "email"}).json()["results"]
    assert [n["channel"] for n in email] == ["email"]
    assert client.get(INBOX, {"status": "sent"}).json()["results"] == []


def test_notifications_invalid_filter_names_the_field(api, nurse):
    response = api(nurse).get(INBOX, {"channel": "pigeon"})
    assert response.status_code == 400
    assert "channel" in response.json()


def test_notifications_unread_count_counts_own_inbox_rows(api, nurse, other_nurse):
    notify_event([nurse, other_nurse])
    notify_event([nurse], action="prepare")
    response = api(nurse).get(UNREAD)
    assert response.status_code == 200
    # Two inbox rows; the email copies are not counted.
    assert response.json() == {"unread": 2}
    assert api(other_nurse).get(UNREAD).json() == {"unread": 1}


def test_notifications_mark_read(api, nurse):
    rows = notify_event([nurse])
    row = inbox_row(nurse, rows)
    client = api(nurse)
    response = client.post(f"{INBOX}{row.pk}/read/")
    assert response.status_code == 200
    assert response.json()["id"] == row.pk
    assert response.json()["read_at"] is not None
    row.refresh_from_db()
    first_read = row.read_at
    assert first_read is not None
    assert client.get(UNREAD).json() == {"unread": 0}
    # Marking again changes nothing.
    assert client.post(f"{INBOX}{row.pk}/read/").status_code == 200
    row.refresh_from_db()
    assert row.read_at == first_read


def test_notifications_auditor_marks_own_read(api, auditor):
    row = inbox_row(auditor, notify_event([auditor]))
    response = api(auditor).post(f"{INBOX}{row.pk}/read/")
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.read_at is not None


@pytest.mark.parametrize("who", ["coordinator", "admin_user", "other_nurse", "auditor"])
def test_notifications_mark_read_of_someone_else_is_404(api, request, nurse, who):
    row = inbox_row(nurse, notify_event([nurse]))
    response = api(request.getfixturevalue(who)).post(f"{INBOX}{row.pk}/read/")
    assert response.status_code == 404
    row.refresh_from_db()
    assert row.read_at is None


def test_notifications_retrieve(api, nurse, other_nurse):
    rows = notify_event([nurse, other_nurse])
    mine, theirs = inbox_row(nurse, rows), inbox_row(other_nurse, rows)
    client = api(nurse)
    response = client.get(f"{INBOX}{mine.pk}/")
    assert response.status_code == 200
    assert response.json()["batch"] == "RAF-2026-02-04-3"
    assert client.get(f"{INBOX}{theirs.pk}/").status_code == 404
    assert client.get(f"{INBOX}999999/").status_code == 404


def test_notifications_are_not_written_through_the_api(api, coordinator, nurse):
    row = inbox_row(nurse, notify_event([nurse]))
    client = api(coordinator)
    assert client.post(INBOX, {"channel": "inbox"}).status_code == 405
    assert client.patch(f"{INBOX}{row.pk}/", {"status": "sent"}).status_code == 405
    assert client.delete(f"{INBOX}{row.pk}/").status_code == 405
    row.refresh_from_db()
    assert row.status == "pending"


def test_notifications_anonymous_is_401(api, nurse):
    row = inbox_row(nurse, notify_event([nurse]))
    assert api().get(INBOX).status_code == 401
    assert api().get(UNREAD).status_code == 401
    assert api().post(f"{INBOX}{row.pk}/read/").status_code == 401
    row.refresh_from_db()
    assert row.read_at is None


def test_notifications_list_constant_number_of_queries(api, nurse):
    def make(n):
        # One event per notification, so a missing select_related shows per row.
        for i in range(n):
            notify_event([nurse], batch_ref=f"RAF-2026-02-04-{Notification.objects.count() + i}")

    def count():
        fresh = type(nurse).objects.get(pk=nurse.pk)
        with CaptureQueriesContext(connection) as ctx:
            response = api(fresh).get(INBOX, {"channel": "inbox"})
        assert response.status_code == 200
        return len(ctx), response.json()

    make(2)
    small, body = count()
    assert body["count"] == 2
    make(18)
    large, body = count()
    assert len(body["results"]) == 20
    assert small == large


def test_notifications_link_the_event_they_report(api, coordinator, nurse, auditor, facility):
    """Each notification names its event (id, type, action, batch), which its reader may open
    in the audit log; never a name."""
    batch = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_cancel(batch=batch, actor=coordinator, **CANCEL)
    event = Event.objects.get(batch_ref=batch.code, action="cancel")
    for user in (coordinator, nurse, auditor):
        (row,) = api(user).get(INBOX, {"mine": "true", "channel": "inbox"}).json()["results"]
        assert (row["event"], row["event_type"], row["action"], row["batch"]) == (
            event.pk,
            "batch.cancel",
            "cancel",
            batch.code,
        ), user
        opened = api(user).get(f"/api/v1/events/{row['event']}/")
        assert opened.status_code == 200, user
        assert opened.json()["batch_ref"] == batch.code
    # Every notification of the event points at it, whatever its channel.
    rows = api(coordinator).get(INBOX, {"batch": batch.code}).json()["results"]
    assert {r["channel"] for r in rows} == {"inbox", "email"}
    assert {r["event"] for r in rows} == {event.pk}


def test_notifications_list_renders_no_template_per_row(api, nurse):
    """The subject is a batch code and an action put in a translated sentence, not a template:
    listing notifications renders none (four a row were three quarters of the list's time)."""
    for i in range(12):
        notify_event([nurse], batch_ref=f"RAF-2026-02-04-{i}")
    response = api(nurse).get(INBOX)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 24  # inbox and email rows
    assert [t.name for t in response.templates] == []


def test_notifications_subject_in_the_recipients_language_and_without_the_text(
    api, coordinator, nurse, facility
):
    """Each row's subject is in the language of its recipient (the nurse reads Arabic), and
    names the batch and the action only: never the free text, which may name a person."""
    batch = factories.BatchFactory(staging_facility=facility)
    batch_services.batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="security",
        reason_text="Ahmad Haddad was refused at the gate",
        source="border_authority",
    )
    rows = api(coordinator).get(INBOX, {"batch": batch.code}).json()["results"]
    subjects = {(row["recipient"], row["channel"]): row["subject"] for row in rows}
    with translation.override("ar"):
        cancelled_in_arabic = str(Action.CANCEL.label)
    assert cancelled_in_arabic != "cancelled"
    for channel in ("inbox", "email"):
        assert subjects[("coordinator", channel)] == f"Batch {batch.code}: cancelled"
        assert subjects[("nurse", channel)] == f"الدفعة {batch.code}: {cancelled_in_arabic}"
    assert not any("Ahmad" in subject for subject in subjects.values())
    # The email says the same as the list.
    email = Notification.objects.get(recipient=nurse, channel="email", event__batch_ref=batch.code)
    assert render_event_message(email.event, "ar").subject == subjects[("nurse", "email")]
