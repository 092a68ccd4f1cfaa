import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from batches.models import Batch, BatchStatus, Crossing, CrossingQuota
from casetracker.accounts.models import User
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
    assert (cancelled.cancel_reason_code, cancelled.cancel_source, cancelled.cancel_relayed_by) == (
        "no_reason_given",
        "border_authority",
        "who",
    )
    # The authority's later claim, as WHO relayed it.
    [said] = cancelled.statements.all()
    assert (said.source, said.relayed_by, said.about_cancellation) == (
        "border_authority",
        "who",
        True,
    )
    assert cancelled.rescheduled_as.status == BatchStatus.DRAFT
    # The demo went through the services: its events and outbox rows are there.
    assert Event.objects.filter(action="cancel", subject_ref=cancelled.code).count() == 1
    assert Notification.objects.filter(recipient__username="nurse.amal", channel="inbox").exists()
    # Two crossings: Rafah, and Kerem Shalom (to an airport), closed today with a reason.
    rafah, kerem_shalom = (
        Crossing.objects.get(code="rafah"),
        Crossing.objects.get(code="kerem-shalom"),
    )
    assert (rafah.state, kerem_shalom.state, kerem_shalom.prefix) == ("open", "closed", "KSH")
    assert kerem_shalom.state_reason and kerem_shalom.state_source == "border_authority"
    assert kerem_shalom.state_since.date() == timezone.localdate()
    for crossing in (rafah, kerem_shalom):
        assert CrossingQuota.objects.filter(crossing=crossing, direction="exit").count() == 12
    assert not CrossingQuota.objects.filter(direction="return").exclude(agreed_companions=0)
    airport = Batch.objects.get(crossing=kerem_shalom)
    assert airport.code.startswith("KSH-") and airport.status == BatchStatus.CROSSED
    assert Event.objects.filter(subject_type="crossing", action="crossing_state").count() == 1
    assert Event.objects.filter(subject_type="quota", action="create").count() == 36
    assert User.objects.get(username="admin").is_superuser

    again = io.StringIO()
    call_command("load_demo", stdout=again)
    assert "already loaded" in again.getvalue()
    assert Patient.objects.count() == 60
