"""Who hears of a batch transition: the audiences of `settings.NOTIFICATION_AUDIENCES`, SMS to
consenting patients only, webhooks to the partners subscribed, and the checks run at start."""

import pytest
from django.core import checks
from django.core.exceptions import ValidationError
from django.db import transaction

from batches.services import (
    batch_add_patient,
    batch_cancel,
    batch_clear,
    batch_prepare,
    batch_record_clearance,
)
from casetracker.audit.services import record_event
from casetracker.notifications.audiences import (
    Audience,
    audiences_for,
    check_notification_settings,
)
from casetracker.notifications.models import Notification, WebhookSubscription
from casetracker.notifications.services import SmsContact, notify
from tests import factories
from tests.service_helpers import advance, mark, notifications_since, the_event_since

PROVIDER = "http://127.0.0.1:9/sms"  # rows only: nothing is delivered in this module


@pytest.fixture
def sms_on(settings):
    settings.SMS_PROVIDER_URL = PROVIDER


@pytest.fixture
def staff(coordinator, nurse, other_nurse, auditor):
    """Everyone who could hear of a batch at `facility`, plus inactive look-alikes."""
    factories.UserFactory(username="gone-coordinator", role="coordinator", is_active=False)
    factories.UserFactory(
        username="gone-nurse", role="hospital_staff", facility=nurse.facility, is_active=False
    )
    factories.UserFactory(username="gone-auditor", role="auditor", is_active=False)


@pytest.fixture
def patients(ready_patient):
    return {
        "consenting": ready_patient(phone="+970599000001", sms_consent=True, contact_language="en"),
        "arabic": ready_patient(phone=" +970599000002 ", sms_consent=True, contact_language="ar"),
        "no_consent": ready_patient(phone="+970599000003", sms_consent=False),
        # Refused by Patient.clean(); the factory writes it anyway, as old data might be.
        "no_phone": ready_patient(phone="", sms_consent=True),
    }


@pytest.fixture
def batch(facility, quota, coordinator, patients, staff):
    batch = factories.BatchFactory(staging_facility=facility)
    for patient in patients.values():
        batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    return batch


def staff_rows(rows) -> set[tuple[str, str]]:
    return {(n.recipient.username, n.channel) for n in rows if n.recipient_id}


def everyone(*usernames) -> set[tuple[str, str]]:
    """Inbox and email rows for each user (every factory user has an email address)."""
    return {(name, channel) for name in usernames for channel in ("inbox", "email")}


def sms_rows(rows) -> dict[str, tuple[str, str]]:
    return {n.payload["case"]: (n.address, n.language) for n in rows if n.channel == "sms"}


def cancel(batch, actor):
    return batch_cancel(
        batch=batch,
        actor=actor,
        reason_code="security",
        reason_text="crossing closed",
        source="border_authority",
    )


def test_audiences_for_reads_the_settings(settings):
    assert audiences_for("prepare") == {Audience.COORDINATORS, Audience.STAGING_STAFF}
    assert audiences_for("cancel") == set(Audience)
    assert audiences_for("create") == frozenset()

    settings.NOTIFICATION_AUDIENCES = {"cancel": ["auditors"]}

    assert audiences_for("cancel") == {Audience.AUDITORS}
    assert audiences_for("prepare") == frozenset()


# --- Default audiences ----------------------------------------------------------------------


def test_batch_prepare_notifies_coordinators_and_staging_staff(sms_on, batch, coordinator):
    since = mark()

    batch_prepare(batch=batch, actor=coordinator)

    event = the_event_since(since)
    assert (event.action, event.from_state, event.to_state) == ("prepare", "draft", "prepared")
    rows = notifications_since(since)
    assert {n.event_id for n in rows} == {event.pk}
    # Not the auditor, not the nurse of another facility, not the inactive, and no SMS.
    assert staff_rows(rows) == everyone("coordinator", "nurse")
    assert len(rows) == 4
    assert {(n.recipient.username, n.language) for n in rows} == {
        ("coordinator", "en"),
        ("nurse", "ar"),
    }


def test_batch_cancel_adds_auditors_and_sms_to_consenting_patients(
    sms_on, batch, coordinator, patients
):
    since = mark()

    cancel(batch, coordinator)

    event = the_event_since(since)
    assert (event.action, event.to_state, event.reason_code) == ("cancel", "cancelled", "security")
    rows = notifications_since(since)
    assert {n.event_id for n in rows} == {event.pk}
    assert staff_rows(rows) == everyone("coordinator", "nurse", "auditor")
    assert sms_rows(rows) == {
        patients["consenting"].case_reference: ("+970599000001", "en"),
        patients["arabic"].case_reference: ("+970599000002", "ar"),  # phone stripped
    }
    assert len(rows) == 6 + 2
    assert {n.status for n in rows} == {"pending"}


def test_batch_clear_texts_only_the_patients_cleared_to_travel(
    sms_on, batch, coordinator, patients
):
    advance(batch, "submitted", coordinator)
    rejected = patients["arabic"]
    for line in batch.members.filter(is_open=True):
        clearance = "rejected" if line.patient_id == rejected.pk else "approved"
        batch_record_clearance(batch=batch, member=line, clearance=clearance, actor=coordinator)
    since = mark()

    batch_clear(batch=batch, actor=coordinator)

    event = the_event_since(since)
    assert (event.action, event.from_state, event.to_state) == ("clear", "submitted", "cleared")
    rows = notifications_since(since)
    assert {n.event_id for n in rows} == {event.pk}
    assert staff_rows(rows) == everyone("coordinator", "nurse")
    assert sms_rows(rows) == {patients["consenting"].case_reference: ("+970599000001", "en")}


def test_batch_cancel_without_sms_provider_writes_no_sms(settings, batch, coordinator):
    settings.SMS_PROVIDER_URL = ""
    since = mark()

    cancel(batch, coordinator)

    rows = notifications_since(since)
    assert {n.event_id for n in rows} == {the_event_since(since).pk}
    assert [n for n in rows if n.channel == "sms"] == []
    assert staff_rows(rows) == everyone("coordinator", "nurse", "auditor")


# --- Settings override ----------------------------------------------------------------------


def test_batch_cancel_audiences_follow_the_settings(settings, sms_on, batch, coordinator):
    settings.NOTIFICATION_AUDIENCES = {**settings.NOTIFICATION_AUDIENCES, "cancel": ["auditors"]}
    since = mark()

    cancel(batch, coordinator)

    event = the_event_since(since)
    rows = notifications_since(since)
    assert {n.event_id for n in rows} == {event.pk}
    assert staff_rows(rows) == everyone("auditor")
    assert sms_rows(rows) == {}


def test_batch_prepare_with_no_audience_writes_the_event_only(settings, batch, coordinator):
    settings.NOTIFICATION_AUDIENCES = {**settings.NOTIFICATION_AUDIENCES, "prepare": []}
    since = mark()

    batch_prepare(batch=batch, actor=coordinator)

    assert the_event_since(since).action == "prepare"
    assert notifications_since(since) == []


def test_batch_prepare_patients_sms_audience_texts_consenting_patients(
    settings, sms_on, batch, coordinator, patients
):
    settings.NOTIFICATION_AUDIENCES = {
        **settings.NOTIFICATION_AUDIENCES,
        "prepare": ["patients_sms"],
    }
    since = mark()

    batch_prepare(batch=batch, actor=coordinator)

    rows = notifications_since(since)
    assert {n.event_id for n in rows} == {the_event_since(since).pk}
    assert staff_rows(rows) == set()
    assert set(sms_rows(rows)) == {
        patients["consenting"].case_reference,
        patients["arabic"].case_reference,
    }


# --- notify() directly ----------------------------------------------------------------------


def _event(action="cancel"):
    return record_event(
        subject_type="batch", subject_ref="RAF-T-9", batch_ref="RAF-T-9", action=action, actor=None
    )


def test_notify_skips_inactive_users_and_users_without_email(db):
    active = factories.UserFactory(username="active")
    no_mail = factories.UserFactory(username="no-mail", email="")
    gone = factories.UserFactory(username="gone", is_active=False)

    with transaction.atomic():
        event = _event()
        rows = notify(event=event, users=[active, no_mail, gone, active])

    assert {(n.recipient.username, n.channel) for n in rows} == {
        ("active", "inbox"),
        ("active", "email"),
        ("no-mail", "inbox"),
    }
    assert set(Notification.objects.filter(event=event)) == set(rows)


def test_notify_sms_skips_contacts_without_phone_and_duplicates(sms_on, db):
    contacts = [
        SmsContact(phone="+970599000001", language="ar", case_reference="CASE-A"),
        SmsContact(phone="+970599000001", language="ar", case_reference="CASE-A"),
        SmsContact(phone="", language="en", case_reference="CASE-B"),
    ]

    with transaction.atomic():
        rows = notify(event=_event(), sms=contacts)

    assert [(n.channel, n.address, n.language, n.payload) for n in rows] == [
        ("sms", "+970599000001", "ar", {"case": "CASE-A"})
    ]


def test_notify_idempotency_keys_are_unique_per_event_channel_and_recipient(sms_on, db, settings):
    users = [factories.UserFactory(username=name) for name in ("a", "b")]
    partner = WebhookSubscription.objects.create(
        name="partner", url="https://partner.example/hook", event_types=["batch.cancel"]
    )
    contact = SmsContact(phone="+970599000001", language="en", case_reference="CASE-A")

    with transaction.atomic():
        first, second = _event(), _event()
        rows = [
            *notify(event=first, users=users, sms=[contact]),
            *notify(event=second, users=users, sms=[contact]),
        ]

    keys = [n.idempotency_key for n in rows]
    assert len(set(keys)) == len(keys) == 2 * (4 + 1 + 1)
    a, b = users
    assert {n.idempotency_key for n in rows if n.event_id == first.pk} == {
        f"event-{first.pk}-inbox-user-{a.pk}",
        f"event-{first.pk}-email-user-{a.pk}",
        f"event-{first.pk}-inbox-user-{b.pk}",
        f"event-{first.pk}-email-user-{b.pk}",
        f"event-{first.pk}-sms-case-CASE-A",
        f"event-{first.pk}-webhook-subscription-{partner.pk}",
    }


# --- Webhooks -------------------------------------------------------------------------------


def test_batch_cancel_writes_webhooks_for_active_subscribers_only(batch, coordinator, patients):
    subscribed = WebhookSubscription.objects.create(
        name="subscribed", url="https://a.example/hook", event_types=["batch.cancel", "batch.clear"]
    )
    WebhookSubscription.objects.create(
        name="other-event", url="https://b.example/hook", event_types=["batch.prepare"]
    )
    WebhookSubscription.objects.create(
        name="inactive", url="https://c.example/hook", event_types=["batch.cancel"], is_active=False
    )
    WebhookSubscription.objects.create(name="nothing", url="https://d.example/hook")
    since = mark()

    cancel(batch, coordinator)

    event = the_event_since(since)
    [hook] = [n for n in notifications_since(since) if n.channel == "webhook"]
    assert (hook.event_id, hook.subscription, hook.recipient) == (event.pk, subscribed, None)
    assert hook.address == "https://a.example/hook"
    assert hook.idempotency_key == f"event-{event.pk}-webhook-subscription-{subscribed.pk}"
    # Every patient on the cancelled lines, consenting to SMS or not.
    assert hook.payload == {"cases": sorted(p.case_reference for p in patients.values())}


def test_batch_prepare_writes_no_webhook_for_cancel_subscribers(batch, coordinator):
    WebhookSubscription.objects.create(
        name="cancel-only", url="https://a.example/hook", event_types=["batch.cancel"]
    )
    since = mark()

    batch_prepare(batch=batch, actor=coordinator)

    assert the_event_since(since).action == "prepare"
    assert [n for n in notifications_since(since) if n.channel == "webhook"] == []


def test_webhook_subscription_full_clean_accepts_known_event_types(db):
    subscription = WebhookSubscription(
        name="partner", url="https://partner.example/hook", event_types=["batch.cancel"]
    )

    subscription.full_clean()  # raises nothing


@pytest.mark.parametrize(
    "event_types", [["batch.cancel", "batch.explode"], ["patient.register"], "batch.cancel", [1]]
)
def test_webhook_subscription_full_clean_rejects_unknown_event_types(db, event_types):
    subscription = WebhookSubscription(
        name="partner", url="https://partner.example/hook", event_types=event_types
    )

    with pytest.raises(ValidationError) as info:
        subscription.full_clean()

    assert set(info.value.message_dict) == {"event_types"}


def test_webhook_subscription_full_clean_names_the_unknown_type(db):
    subscription = WebhookSubscription(
        name="partner", url="https://partner.example/hook", event_types=["batch.explode"]
    )

    with pytest.raises(ValidationError, match=r"batch\.explode"):
        subscription.full_clean()


# --- System checks --------------------------------------------------------------------------


def notification_check_ids() -> list[str]:
    return sorted(m.id for m in checks.run_checks() if (m.id or "").startswith("notifications."))


def test_check_notification_settings_default_settings_pass():
    assert check_notification_settings() == []
    assert notification_check_ids() == []


def test_check_notification_settings_e001_unknown_audience(settings):
    settings.NOTIFICATION_AUDIENCES = {"cancel": ["coordinators", "pigeons"], "clear": []}

    [error] = check_notification_settings()

    assert error.id == "notifications.E001"
    assert error.level == checks.ERROR
    assert "'cancel'" in error.msg
    assert "pigeons" in error.msg
    assert notification_check_ids() == ["notifications.E001"]


def test_check_notification_settings_e002_visibility_timeout_not_above_backoff(settings):
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 1800
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 1800}

    [error] = check_notification_settings()

    assert error.id == "notifications.E002"
    assert "1800" in error.msg
    assert notification_check_ids() == ["notifications.E002"]

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 1801}

    assert check_notification_settings() == []


def test_check_notification_settings_e002_uses_the_broker_default(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}  # Redis default: one hour
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 3600

    assert [e.id for e in check_notification_settings()] == ["notifications.E002"]


def test_check_notification_settings_e003_no_attempt(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 0

    assert [e.id for e in check_notification_settings()] == ["notifications.E003"]
