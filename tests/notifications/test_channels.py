"""Delivery channels end to end over real HTTP on 127.0.0.1: SMS through a fake provider, signed
webhooks to a fake partner, and email with a text and an HTML part in the recipient's language.
Rows come from a real batch cancel (the only transition that reaches every channel)."""

import json
import re
import socket
import urllib.parse

import pytest
from celery.exceptions import Retry
from django.core.exceptions import ValidationError
from django.utils import timezone

from batches.services import batch_add_patient, batch_cancel
from casetracker.notifications import signing, tasks
from casetracker.notifications.errors import DeliveryError, PermanentDeliveryError
from casetracker.notifications.http import post_json
from casetracker.notifications.models import Notification, WebhookSubscription
from tests import factories
from tests.fakes import FakeSmsProvider, Redirector, WebhookReceiver
from tests.service_helpers import mark, notifications_since, the_event_since

SECRET = "partner-secret"
ARABIC = re.compile("[\u0600-\u06ff]")
WEBHOOK_KEYS = {
    "id",
    "type",
    "occurred_at",
    "recorded_at",
    "batch",
    "from",
    "to",
    "reason_code",
    "source",
    "relayed_by",
    "rescheduled_from",
    "cases",
}


def deliver(notification_id):
    """One delivery as `make run` does it: eager, so a failure is retried inline at once."""
    return tasks.deliver_notification.apply(args=[notification_id]).get()


def attempt_once(notification_id):
    """One attempt as a worker runs it, without Celery's inline retry.

    `.apply()` marks the request eager and the task then passes `wait=False` to
    `_record_failure`: the retry runs at once, inline, until the attempt limit. Calling the task
    object runs its body with a plain request (not eager, called directly): the failure is
    recorded with a real backoff, then `self.retry()` raises `Retry` instead of queueing."""
    with pytest.raises(Retry):
        tasks.deliver_notification(notification_id)


def port_of(url: str) -> int:
    return urllib.parse.urlsplit(url).port


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sms_server():
    # One server per module: stopping one takes half a second (its poll interval).
    with FakeSmsProvider() as provider:
        yield provider


@pytest.fixture
def sms(sms_server, settings):
    sms_server.requests.clear()
    sms_server.messages.clear()
    sms_server.fail_with.clear()
    settings.SMS_PROVIDER_URL = sms_server.url
    settings.SMS_PROVIDER_TOKEN = FakeSmsProvider.TOKEN
    return sms_server


@pytest.fixture
def english(ready_patient):
    return ready_patient(phone="+970599000001", sms_consent=True, contact_language="en")


@pytest.fixture
def arabic(ready_patient):
    return ready_patient(phone="+970599000002", sms_consent=True, contact_language="ar")


@pytest.fixture
def batch(facility, quota, coordinator, english, arabic):
    batch = factories.BatchFactory(staging_facility=facility)
    for patient in (english, arabic):
        batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    return batch


@pytest.fixture
def cancel(batch, coordinator, nurse, auditor):
    """`cancel()` cancels the batch and returns its event (the rows stay pending: no commit)."""

    def run():
        since = mark()
        batch_cancel(
            batch=batch,
            actor=coordinator,
            reason_code="security",
            reason_text="crossing closed",
            source="border_authority",
        )
        event = the_event_since(since)
        assert (event.action, event.from_state, event.to_state) == ("cancel", "draft", "cancelled")
        assert {n.event_id for n in notifications_since(since)} == {event.pk}
        return event

    return run


def sms_row(event, patient) -> Notification:
    return event.notifications.get(channel="sms", payload__case=patient.case_reference)


# --- SMS ------------------------------------------------------------------------------------


def test_deliver_sms_posts_the_provider_contract(sms, cancel, batch, english):
    event = cancel()
    row = sms_row(event, english)
    assert (row.address, row.language, row.status) == ("+970599000001", "en", "pending")

    assert deliver(row.pk) == "sent"

    [request] = sms.requests
    assert request["json"] == {
        "to": "+970599000001",
        "from": "RafahCT",
        "text": (
            f"Case {english.case_reference}: batch {batch.code} is cancelled. "
            "You keep your place in the queue; we will contact you."
        ),
        "reference": f"event-{event.pk}-sms-case-{english.case_reference}",
    }
    assert request["headers"]["Authorization"] == f"Bearer {FakeSmsProvider.TOKEN}"
    assert request["headers"]["Idempotency-Key"] == row.idempotency_key
    assert request["headers"]["Content-Type"] == "application/json"


def test_deliver_sms_stores_the_provider_message_id(sms, cancel, english):
    row = sms_row(cancel(), english)

    deliver(row.pk)

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.provider_message_id == "sms-1"
    assert row.sent_at is not None
    assert sms.messages == [
        {"key": row.idempotency_key, "to": "+970599000001", "text": sms.requests[0]["json"]["text"]}
    ]


def test_deliver_sms_carries_references_only(sms, cancel, batch, arabic):
    row = sms_row(cancel(), arabic)

    deliver(row.pk)

    text = sms.requests[0]["json"]["text"]
    assert arabic.case_reference in text
    assert batch.code in text
    for private in (arabic.name_latin, arabic.name_arabic, arabic.national_id, arabic.diagnosis):
        assert private not in text


def test_deliver_sms_in_the_contacts_language(sms, cancel, batch, arabic):
    row = sms_row(cancel(), arabic)
    assert row.language == "ar"

    deliver(row.pk)

    text = sms.requests[0]["json"]["text"]
    assert text.startswith(f"الحالة {arabic.case_reference}: أُلغيت الدفعة {batch.code}.")
    assert "Case" not in text


def test_deliver_sms_500_leaves_the_row_pending_with_a_backoff(sms, cancel, english):
    row = sms_row(cancel(), english)
    sms.fail_with.append(500)
    before = timezone.now()

    attempt_once(row.pk)

    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at) == ("pending", 1, None)
    assert row.next_attempt_at > before
    host = f"127.0.0.1:{port_of(sms.url)}"
    assert row.last_error == f"DeliveryError: HTTP 500 from {host}"
    assert len(sms.requests) == 1
    assert sms.messages == []


def test_deliver_sms_400_fails_at_once(sms, cancel, english):
    row = sms_row(cancel(), english)
    sms.fail_with.append(400)

    assert deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None)
    assert row.last_error.startswith(
        f"PermanentDeliveryError: HTTP 400 from 127.0.0.1:{port_of(sms.url)}"
    )
    assert len(sms.requests) == 1  # not retried, though eager mode retries at once


def test_deliver_sms_wrong_token_fails_at_once(sms, settings, cancel, english):
    settings.SMS_PROVIDER_TOKEN = "revoked"
    row = sms_row(cancel(), english)

    assert deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 1)
    assert "HTTP 401" in row.last_error
    assert "revoked" not in row.last_error
    assert sms.messages == []


def test_deliver_sms_unreachable_provider_is_retried(settings, cancel, english):
    port = closed_port()
    settings.SMS_PROVIDER_URL = f"http://127.0.0.1:{port}/send"
    row = sms_row(cancel(), english)

    attempt_once(row.pk)

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error.startswith(f"DeliveryError: 127.0.0.1:{port} unreachable: ")
    assert row.next_attempt_at > timezone.now()


@pytest.mark.parametrize("failure", [500, "unreachable"])
def test_deliver_sms_error_never_shows_a_token_in_the_url(sms, settings, cancel, english, failure):
    token = "query-token-7f3a"
    if failure == "unreachable":
        settings.SMS_PROVIDER_URL = f"http://127.0.0.1:{closed_port()}/send?token={token}"
    else:
        settings.SMS_PROVIDER_URL = f"{sms.url}send?token={token}"
        sms.fail_with.append(failure)
    row = sms_row(cancel(), english)

    attempt_once(row.pk)

    row.refresh_from_db()
    assert row.attempts == 1
    assert row.last_error
    assert token not in row.last_error
    assert "token=" not in row.last_error


def test_post_json_error_never_shows_credentials_in_the_url():
    url = f"http://partner:s3cret-pass@127.0.0.1:{closed_port()}/hook"

    with pytest.raises(DeliveryError) as info:
        post_json(url, b"{}", {})

    assert "s3cret-pass" not in str(info.value)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1:9/x"])
def test_post_json_refuses_non_http_urls(url):
    with pytest.raises(PermanentDeliveryError, match="not an http"):
        post_json(url, b"{}", {})


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503])
def test_post_json_retryable_statuses_raise_delivery_error(sms, status):
    sms.fail_with.append(status)

    with pytest.raises(DeliveryError, match=f"HTTP {status} from 127.0.0.1") as info:
        post_json(sms.url, b'{"to": "x"}', {"Authorization": f"Bearer {FakeSmsProvider.TOKEN}"})

    assert not isinstance(info.value, PermanentDeliveryError)


@pytest.mark.parametrize("status", [400, 403, 404, 410, 422])
def test_post_json_other_4xx_raise_permanent_delivery_error(sms, status):
    sms.fail_with.append(status)

    with pytest.raises(PermanentDeliveryError, match=f"HTTP {status} from 127.0.0.1"):
        post_json(sms.url, b'{"to": "x"}', {"Authorization": f"Bearer {FakeSmsProvider.TOKEN}"})


# --- Webhook --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver_server():
    with WebhookReceiver(SECRET) as partner:
        yield partner


@pytest.fixture
def receiver(receiver_server, db):
    for seen in (receiver_server.accepted, receiver_server.refused, receiver_server.raw):
        seen.clear()
    return receiver_server


@pytest.fixture
def subscription(receiver):
    return WebhookSubscription.objects.create(
        name="partner", url=receiver.url, secret=SECRET, event_types=["batch.cancel"]
    )


def test_deliver_webhook_posts_the_signed_payload(
    receiver, subscription, cancel, batch, english, arabic
):
    event = cancel()
    row = event.notifications.get(channel="webhook")
    assert (row.subscription, row.address, row.recipient) == (subscription, receiver.url, None)

    assert deliver(row.pk) == "sent"

    row.refresh_from_db()
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 1, row.idempotency_key)
    assert receiver.refused == []
    [accepted] = receiver.accepted
    body = accepted["json"]
    assert set(body) == WEBHOOK_KEYS
    assert body == {
        "id": f"event-{event.pk}-webhook-subscription-{subscription.pk}",
        "type": "batch.cancel",
        "occurred_at": event.occurred.isoformat(),
        "recorded_at": event.created_at.isoformat(),
        "batch": batch.code,
        "from": "draft",
        "to": "cancelled",
        "reason_code": "security",
        "source": "border_authority",
        "relayed_by": "",
        "rescheduled_from": "",
        "cases": sorted([english.case_reference, arabic.case_reference]),
    }


def test_deliver_webhook_headers_verify_with_the_reference_check(receiver, subscription, cancel):
    row = cancel().notifications.get(channel="webhook")

    deliver(row.pk)

    [(headers, raw)] = receiver.raw
    assert headers[signing.DELIVERY_HEADER] == row.idempotency_key
    assert headers[signing.EVENT_HEADER] == "batch.cancel"
    assert headers["Content-Type"] == "application/json"
    signing.verify(
        SECRET,
        timestamp=headers[signing.TIMESTAMP_HEADER],
        signature_header=headers[signing.SIGNATURE_HEADER],
        body=raw,
    )
    assert json.loads(raw)["id"] == row.idempotency_key


def test_deliver_webhook_carries_no_personal_data(receiver, subscription, cancel, english):
    row = cancel().notifications.get(channel="webhook")

    deliver(row.pk)

    [(_, raw)] = receiver.raw
    text = raw.decode()
    for private in (english.name_latin, english.national_id, english.phone, english.diagnosis):
        assert private not in text
    assert "crossing closed" not in text  # the free reason text stays inside


def test_deliver_webhook_inactive_subscription_fails_permanently(receiver, subscription, cancel):
    row = cancel().notifications.get(channel="webhook")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(is_active=False)  # setup

    assert deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == (
        "PermanentDeliveryError: the webhook subscription is gone or inactive"
    )
    assert receiver.raw == []


def test_deliver_webhook_refused_signature_fails_permanently(receiver, subscription, cancel):
    row = cancel().notifications.get(channel="webhook")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(secret="rotated")  # setup

    assert deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("PermanentDeliveryError: HTTP 401 from 127.0.0.1")
    assert receiver.refused == ["bad signature"]
    assert receiver.accepted == []


# --- Email ----------------------------------------------------------------------------------


def email_to(event, user) -> Notification:
    return event.notifications.get(channel="email", recipient=user)


def test_deliver_email_has_a_text_and_an_html_part(cancel, batch, coordinator, mailoutbox):
    row = email_to(cancel(), coordinator)

    assert deliver(row.pk) == "sent"

    [message] = mailoutbox
    assert message.to == [coordinator.email]
    assert f"Batch {batch.code} has changed." in message.body
    assert "<" not in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert '<html lang="en" dir="ltr">' in html
    assert f'Batch <bdi style="white-space: nowrap;">{batch.code}</bdi> has changed.' in html
    assert "crossing closed" in html  # staff see the reason text


def test_deliver_email_html_is_rtl_for_an_arabic_recipient(cancel, batch, nurse, mailoutbox):
    row = email_to(cancel(), nurse)
    assert row.language == "ar"

    deliver(row.pk)

    [message] = mailoutbox
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert '<html lang="ar" dir="rtl">' in html
    assert f'<bdi style="white-space: nowrap;">{batch.code}</bdi>' in html
    assert ARABIC.search(message.body)
    assert "الإجراء" in html  # "Action"


def test_deliver_email_html_headline_in_arabic(cancel, batch, nurse, mailoutbox):
    deliver(email_to(cancel(), nurse).pk)

    [(html, _)] = mailoutbox[0].alternatives
    assert "Batch <bdi>" not in html
    assert f'تغيّرت حالة الدفعة <bdi style="white-space: nowrap;">{batch.code}</bdi>' in html


def test_webhook_subscription_url_with_credentials_is_refused(db):
    subscription = WebhookSubscription(
        name="partner", url="https://partner:s3cret@example.org/hook", event_types=["batch.cancel"]
    )
    with pytest.raises(ValidationError) as info:
        subscription.full_clean()
    assert "url" in info.value.message_dict


def test_deliver_sms_provider_error_text_stays_out_of_the_log(sms, cancel, english, caplog):
    # The fake provider, like real ones, quotes the phone number in its error answer.
    row = sms_row(cancel(), english)
    sms.fail_with.append(400)

    assert deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert english.phone not in row.last_error
    assert english.phone not in caplog.text
    assert row.last_error == f"PermanentDeliveryError: HTTP 400 from 127.0.0.1:{port_of(sms.url)}"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_post_json_redirect_is_refused_not_followed(status):
    with (
        Redirector(status) as moved,
        pytest.raises(PermanentDeliveryError, match=f"HTTP {status} .*redirect"),
    ):
        post_json(moved.url, b'{"a": 1}', {"Authorization": "Bearer secret-token"})
    # One POST, no second request carrying the token to the new place.
    assert [r["body"] for r in moved.requests] == [b'{"a": 1}']


def test_deliver_email_text_part_is_not_html_escaped(batch, coordinator, auditor, mailoutbox):
    since = mark()
    batch_cancel(
        batch=batch,
        actor=coordinator,
        reason_code="other",
        reason_text="Crossing & road closed <Rafah> 'until noon'",
        source="who",
    )
    email = the_event_since(since).notifications.get(channel="email", recipient=auditor)

    deliver(email.pk)

    [message] = mailoutbox
    assert "Crossing & road closed <Rafah> 'until noon'" in message.body
    [(html, _)] = message.alternatives
    assert "Crossing &amp; road closed &lt;Rafah&gt;" in html
