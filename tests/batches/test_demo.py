import io

import pytest
from django.core.management import call_command

from batches.models import Batch, BatchStatus
from casetracker.audit.models import Event
from casetracker.notifications.models import Notification
from patients.models import Patient

pytestmark = pytest.mark.django_db


def test_load_demo_builds_the_scenario_once_and_prints_the_accounts():
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()
    assert "Demo scenario loaded." in text
    for username in ("coordinator", "nurse.amal", "auditor", "admin"):
        assert username in text
    assert Patient.objects.count() == 60
    assert Patient.objects.filter(companions__isnull=False).distinct().count() > 30
    statuses = set(Batch.objects.values_list("status", flat=True))
    assert {BatchStatus.CROSSED, BatchStatus.CANCELLED, BatchStatus.SUBMITTED} <= statuses
    cancelled = Batch.objects.get(status=BatchStatus.CANCELLED)
    assert (cancelled.cancel_reason_code, cancelled.cancel_source) == ("no_reason_given", "who")
    assert cancelled.rescheduled_as.status == BatchStatus.DRAFT
    # The demo went through the services: its events and outbox rows are there.
    assert Event.objects.filter(action="cancel", subject_ref=cancelled.code).count() == 1
    assert Notification.objects.filter(recipient__username="nurse.amal", channel="inbox").exists()

    again = io.StringIO()
    call_command("load_demo", stdout=again)
    assert "already loaded" in again.getvalue()
    assert Patient.objects.count() == 60
