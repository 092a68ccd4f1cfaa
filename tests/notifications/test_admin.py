"""Admin: the delivery log (read-only, failed rows retried through the service), its alert, and
the webhook subscriptions (admins only)."""

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import translation

from casetracker.audit.services import record_event
from casetracker.notifications.models import Notification, WebhookSubscription
from casetracker.notifications.services import notify

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:notifications_notification_changelist")
FAILED_LIST = CHANGELIST + "?status__exact=failed"
WEBHOOKS = reverse("admin:notifications_webhooksubscription_changelist")
WEBHOOK_ADD = reverse("admin:notifications_webhooksubscription_add")


def _inbox_row(user, batch_ref="RAF-2026-02-04-3"):
    with transaction.atomic():
        event = record_event(
            subject_type="batch",
            subject_ref=batch_ref,
            batch_ref=batch_ref,
            action="cancel",
            actor=None,
        )
        rows = notify(event=event, users=[user])
    return next(n for n in rows if n.channel == "inbox")


def _failed_row(user):
    row = _inbox_row(user)
    Notification.objects.filter(pk=row.pk).update(  # setup: a row the worker gave up on
        status="failed", attempts=6, attempt_limit=6, last_error="DeliveryError: boom"
    )
    return row


def _retry(client, *rows):
    return client.post(
        CHANGELIST,
        {"action": "retry_delivery", "_selected_action": [r.pk for r in rows]},
        follow=True,
    )


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


# --- The delivery log -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["coordinator", "admin_user"])
def test_admin_notification_list_visible_to_coordinators_and_admins(client, request, nurse, who):
    row = _failed_row(nurse)
    client.force_login(request.getfixturevalue(who))
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{row.pk}"' in html
    assert "RAF-2026-02-04-3" in html
    assert "DeliveryError: boom" in html
    assert client.get(reverse("admin:index")).content.decode().count(CHANGELIST) >= 1


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_admin_notification_list_refused_to_other_roles(client, request, who):
    user = request.getfixturevalue(who)
    row = _inbox_row(user)
    client.force_login(user)
    assert client.get(CHANGELIST).status_code == 403
    change = reverse("admin:notifications_notification_change", args=[row.pk])
    assert client.get(change).status_code == 403
    assert CHANGELIST not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.parametrize("who", ["coordinator", "admin_user"])
def test_admin_notification_cannot_be_added_changed_or_deleted(client, request, nurse, who):
    row = _failed_row(nurse)
    client.force_login(request.getfixturevalue(who))
    change = reverse("admin:notifications_notification_change", args=[row.pk])
    delete = reverse("admin:notifications_notification_delete", args=[row.pk])
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
    page = client.get(change)
    assert page.status_code == 200  # read-only view
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change, {"status": "sent", "last_error": ""}).status_code == 403
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    actions = client.get(CHANGELIST).context["action_form"].fields["action"].choices
    assert [name for name, _ in actions if name] == ["retry_delivery"]
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("failed", "DeliveryError: boom")


@pytest.mark.parametrize("who", ["coordinator", "admin_user"])
def test_admin_retry_queues_a_failed_row_again(
    client, request, nurse, who, django_capture_on_commit_callbacks
):
    row = _failed_row(nurse)
    client.force_login(request.getfixturevalue(who))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _retry(client, row)
        row.refresh_from_db()
        # Queued again with a fresh set of attempts, delivery waiting for the commit.
        assert (row.status, row.attempts, row.attempt_limit) == ("pending", 6, 12)
    assert len(callbacks) == 1
    assert response.redirect_chain == [(CHANGELIST, 302)]
    assert _messages(response) == [("success", "1 notification queued again.")]
    row.refresh_from_db()
    # Inbox delivery then succeeds at once (Celery is eager in tests).
    assert (row.status, row.attempts, row.attempt_limit) == ("sent", 7, 12)
    assert row.sent_at is not None


def test_admin_retry_leaves_a_sent_row_alone(
    client, coordinator, nurse, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = _inbox_row(nurse)
    row.refresh_from_db()
    assert row.status == "sent"
    before = (row.status, row.attempts, row.attempt_limit, row.sent_at, row.next_attempt_at)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _retry(client, row)
    assert callbacks == []
    assert _messages(response) == [("warning", "1 notification was not failed and was left alone.")]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.attempt_limit, row.sent_at, row.next_attempt_at) == (
        before
    )


def test_admin_retry_of_a_mixed_selection(
    client, coordinator, nurse, auditor, django_capture_on_commit_callbacks
):
    failed = _failed_row(nurse)
    pending = _inbox_row(auditor, batch_ref="RAF-2026-02-05-1")
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = _retry(client, failed, pending)
    assert _messages(response) == [
        ("success", "1 notification queued again."),
        ("warning", "1 notification was not failed and was left alone."),
    ]
    failed.refresh_from_db()
    pending.refresh_from_db()
    assert failed.status == "sent"
    assert (pending.status, pending.attempts) == ("pending", 0)


# --- The alert ------------------------------------------------------------------------------


def test_admin_alert_banner_for_coordinators_when_a_row_failed(client, coordinator, nurse):
    client.force_login(coordinator)
    index = reverse("admin:index")
    assert "could not be delivered" not in client.get(index).content.decode()
    _failed_row(nurse)
    html = client.get(index).content.decode()
    assert "1 notification could not be delivered." in html
    assert f'href="{FAILED_LIST}"' in html
    # The filtered list the banner leads to shows the failed row.
    assert "DeliveryError: boom" in client.get(FAILED_LIST).content.decode()


@pytest.mark.parametrize("who", ["nurse", "auditor"])
def test_admin_alert_banner_hidden_from_other_roles(client, request, who):
    user = request.getfixturevalue(who)
    _failed_row(user)
    client.force_login(user)
    html = client.get(reverse("admin:index")).content.decode()
    assert "could not be delivered" not in html
    assert FAILED_LIST not in html


def test_admin_user_links_lead_to_the_inbox(client, nurse):
    _inbox_row(nurse)
    client.force_login(nurse)
    html = client.get(reverse("admin:index")).content.decode()
    with translation.override(nurse.preferred_language):  # the admin speaks the user's language
        inbox = translation.gettext("Inbox")
    assert f'<a href="{reverse("notifications:inbox")}">{inbox} (1)</a>' in html


# --- Webhook subscriptions ------------------------------------------------------------------


def _subscription(**fields):
    data = {
        "name": "WHO partner",
        "url": "https://partner.example/hooks/casetracker",
        "secret": "s3cret-shared-with-the-partner",
        "event_types": ["batch.cancel", "batch.clear"],
        "is_active": "on",
    }
    data.update(fields)
    return data


def test_admin_webhook_add_form_lists_event_types_as_checkboxes(client, admin_user):
    client.force_login(admin_user)
    html = client.get(WEBHOOK_ADD).content.decode()
    assert 'type="checkbox" name="event_types" value="batch.cancel"' in html
    assert 'type="checkbox" name="event_types" value="batch.reschedule"' in html


def test_admin_webhook_admin_adds_a_subscription(client, admin_user):
    client.force_login(admin_user)
    response = client.post(WEBHOOK_ADD, _subscription())
    assert response.status_code == 302
    subscription = WebhookSubscription.objects.get()
    assert (subscription.name, subscription.url, subscription.event_types) == (
        "WHO partner",
        "https://partner.example/hooks/casetracker",
        ["batch.cancel", "batch.clear"],
    )
    assert subscription.is_active
    assert WebhookSubscription.objects.subscribed_to("batch.cancel") == [subscription]
    assert WebhookSubscription.objects.subscribed_to("batch.prepare") == []


@pytest.mark.parametrize(
    "url",
    [
        # Django's URLField takes these by default; partners are reached over http(s) only.
        "ftp://partner.example/hooks",
        "ftps://partner.example/hooks",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ],
)
def test_admin_webhook_refuses_a_url_that_is_not_http(client, admin_user, url):
    client.force_login(admin_user)
    response = client.post(WEBHOOK_ADD, _subscription(url=url))
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not WebhookSubscription.objects.exists()


def test_admin_webhook_refuses_an_unknown_event_type(client, admin_user):
    client.force_login(admin_user)
    response = client.post(WEBHOOK_ADD, _subscription(event_types=["batch.explode"]))
    assert response.status_code == 200
    assert "event_types" in response.context["adminform"].form.errors
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize("who", ["coordinator", "nurse", "auditor"])
def test_admin_webhooks_refused_to_everyone_but_admins(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(WEBHOOKS).status_code == 403
    assert client.get(WEBHOOK_ADD).status_code == 403
    assert client.post(WEBHOOK_ADD, _subscription()).status_code == 403
    assert not WebhookSubscription.objects.exists()


def test_admin_notification_shows_whom_not_the_webhook_url(client, coordinator, nurse):
    WebhookSubscription.objects.create(
        name="Partner hospital network",
        url="https://partner.example/hooks?token=partner-token-123",
        event_types=["batch.cancel"],
    )
    with transaction.atomic():
        event = record_event(
            subject_type="batch",
            subject_ref="RAF-1",
            batch_ref="RAF-1",
            action="cancel",
            actor=None,
        )
        [row] = [n for n in notify(event=event, users=[]) if n.channel == "webhook"]
    client.force_login(coordinator)

    for url in (CHANGELIST, reverse("admin:notifications_notification_change", args=[row.pk])):
        html = client.get(url).content.decode()
        assert "partner-token-123" not in html, url
    assert "Partner hospital network" in html
