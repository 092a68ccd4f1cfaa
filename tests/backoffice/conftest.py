"""A back office with one row of every model it shows."""

from dataclasses import dataclass

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.db import transaction
from rest_framework.authtoken.models import Token

from batches import services as batch_services
from casetracker.audit.services import record_event
from casetracker.notifications.models import WebhookSubscription
from casetracker.notifications.services import notify
from tests import factories


@dataclass
class World:
    facility: object
    patient: object  # waiting, ready, with an approved referral, on no batch
    on_batch: object  # a patient on the draft batch
    companion: object
    referral: object
    returnee: object
    batch: object
    line: object
    quota: object
    token: object
    notification: object
    webhook: object
    attempt: object
    access_log: object
    failure_log: object


@pytest.fixture
def world(facility, coordinator, nurse, auditor, quota, ready_patient) -> World:
    patient = ready_patient()
    on_batch = ready_patient()
    companion = factories.CompanionFactory(patient=on_batch)
    batch = factories.BatchFactory(staging_facility=facility)
    [line] = batch_services.batch_add_patient(batch=batch, patient=on_batch, actor=coordinator)
    with transaction.atomic():
        event = record_event(
            subject_type="batch",
            subject_ref=batch.code,
            batch_ref=batch.code,
            action="cancel",
            actor=None,
        )
        notification = next(n for n in notify(event=event, users=[nurse]) if n.channel == "inbox")
    access = {
        "user_agent": "test",
        "ip_address": "127.0.0.1",
        "username": "someone",
        "http_accept": "*/*",
        "path_info": "/admin/login/",
    }
    return World(
        facility=facility,
        patient=patient,
        on_batch=on_batch,
        companion=companion,
        referral=on_batch.referrals.get(),
        returnee=factories.ReturneeFactory(),
        batch=batch,
        line=line,
        quota=quota,
        token=Token.objects.create(user=coordinator),
        notification=notification,
        webhook=WebhookSubscription.objects.create(
            name="Partner", url="https://partner.example/hooks", event_types=["batch.cancel"]
        ),
        attempt=AccessAttempt.objects.create(
            **access, get_data="", post_data="", failures_since_start=1
        ),
        access_log=AccessLog.objects.create(**access),
        failure_log=AccessFailureLog.objects.create(**access),
    )
