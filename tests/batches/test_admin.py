"""The admin drives the same services: buttons, actions and forms change state only through
them, with their events; refused steps come back as messages, not errors."""

import pytest
from django.urls import reverse

from batches.models import Batch, BatchMember, BatchStatus
from casetracker.audit.models import Event
from casetracker.notifications.models import Notification
from patients.models import PatientStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(coordinator, facility, quota, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    from batches import services

    patient = ready_patient()
    services.batch_add_patient(batch=batch, patient=patient, actor=coordinator)
    return batch


def _transition_url(batch, name):
    return reverse("admin:batches_batch_transition", args=[batch.pk, name])


def test_admin_batch_pages_render_for_every_role(client, draft, coordinator, nurse, auditor):
    for user in (coordinator, nurse, auditor):
        client.force_login(user)
        assert client.get(reverse("admin:batches_batch_changelist")).status_code == 200
        page = client.get(reverse("admin:batches_batch_change", args=[draft.pk]))
        assert page.status_code == 200
        # Only those who may move batches see the buttons.
        assert (_transition_url(draft, "prepare") in page.content.decode()) == (user is coordinator)


def test_admin_batch_add_goes_through_the_service(client, coordinator, facility):
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:batches_batch_add"),
        {
            "crossing": "rafah",
            "direction": "exit",
            "planned_date": "2026-02-04",
            "staging_facility": facility.pk,
        },
    )
    assert response.status_code == 302
    batch = Batch.objects.get()
    assert batch.code == "RAF-2026-02-04-1"
    assert batch.created_by == coordinator
    assert (
        Event.objects.filter(subject_ref=batch.code, action="create", channel="admin").count() == 1
    )


def test_admin_prepare_button_moves_the_batch_and_notifies(client, draft, coordinator, nurse):
    client.force_login(coordinator)
    response = client.post(_transition_url(draft, "prepare"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == BatchStatus.PREPARED
    event = Event.objects.get(subject_ref=draft.code, action="prepare")
    assert (event.channel, event.actor, event.actor_role) == ("admin", coordinator, "coordinator")
    assert set(
        Notification.objects.filter(event=event).values_list("recipient__username", flat=True)
    ) == {
        "coordinator",
        "nurse",
    }


def test_admin_refused_transition_is_a_message_and_changes_nothing(client, draft, coordinator):
    patient = draft.members.get().patient
    patient.readiness.fit_to_travel = False
    patient.readiness.save()
    client.force_login(coordinator)
    response = client.post(_transition_url(draft, "prepare"), follow=True)
    assert response.status_code == 200
    text = response.content.decode().lower()
    assert f"patient {patient.case_reference} is not fit to travel".lower() in text
    draft.refresh_from_db()
    assert draft.status == BatchStatus.DRAFT
    assert not Event.objects.filter(action="prepare").exists()


def test_admin_cancel_asks_for_the_reason(client, draft, coordinator, auditor):
    client.force_login(coordinator)
    url = _transition_url(draft, "cancel")
    form = client.get(url)
    assert form.status_code == 200
    assert 'name="reason_code"' in form.content.decode()
    # Without a text the form is shown again with the error; nothing changes.
    again = client.post(
        url,
        {"reason_code": "security", "reason_text": "", "source": "who", "relayed_by": "directly"},
    )
    assert again.status_code == 200
    assert "This field is required" in again.content.decode()
    assert Batch.objects.get(pk=draft.pk).status == BatchStatus.DRAFT
    done = client.post(
        url,
        {
            "reason_code": "no_reason_given",
            "reason_text": "Relayed by WHO.",
            "source": "border_authority",
            "relayed_by": "who",
        },
    )
    assert done.status_code == 302
    draft.refresh_from_db()
    assert draft.status == BatchStatus.CANCELLED
    event = Event.objects.get(subject_ref=draft.code, action="cancel")
    assert (event.reason_code, event.reason_text, event.source, event.details["relayed_by"]) == (
        "no_reason_given",
        "Relayed by WHO.",
        "border_authority",
        "who",
    )
    assert draft.cancel_relayed_by == "who"
    assert Notification.objects.filter(event=event, recipient=auditor).exists()
    assert draft.members.get().patient.status == PatientStatus.WAITING


def test_admin_cross_form_records_each_outcome(client, draft, coordinator):
    from batches import services

    batch = services.batch_prepare(batch=draft, actor=coordinator)
    batch = services.batch_submit(batch=batch, actor=coordinator)
    line = batch.members.get()
    services.batch_record_clearance(
        batch=batch, member=line, clearance="approved", actor=coordinator
    )
    batch = services.batch_clear(batch=batch, actor=coordinator)
    batch = services.batch_depart(batch=batch, actor=coordinator)
    client.force_login(coordinator)
    response = client.post(_transition_url(batch, "cross"), {f"line_{line.pk}": "turned_back"})
    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.outcome, line.is_open) == ("turned_back", False)
    assert line.patient.status == PatientStatus.WAITING
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.CROSSED


def test_admin_auditor_cannot_run_a_transition(client, draft, auditor):
    client.force_login(auditor)
    response = client.post(_transition_url(draft, "prepare"))
    assert response.status_code == 403
    assert Batch.objects.get(pk=draft.pk).status == BatchStatus.DRAFT


def test_admin_hospital_staff_of_another_facility_gets_404(client, draft, other_nurse):
    client.force_login(other_nurse)
    assert client.get(reverse("admin:batches_batch_change", args=[draft.pk])).status_code == 404
    response = client.get(reverse("admin:batches_batch_changelist"))
    assert draft.code not in response.content.decode()


def test_admin_member_clearance_action_uses_the_service(client, draft, coordinator):
    from batches import services

    batch = services.batch_prepare(batch=draft, actor=coordinator)
    batch = services.batch_submit(batch=batch, actor=coordinator)
    line = batch.members.get()
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:batches_batchmember_changelist"),
        {"action": "clearance_rejected", "_selected_action": [line.pk]},
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.clearance == "rejected"
    assert (
        Event.objects.filter(action="clearance", to_state="rejected", channel="admin").count() == 1
    )


def test_admin_member_add_refusal_is_shown(client, draft, coordinator, facility, ready_patient):
    other = factories.BatchFactory(staging_facility=facility)
    patient = draft.members.get().patient
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:batches_batchmember_add"),
        {"batch": other.pk, "patient": patient.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert f"is already in open batch {draft.code}" in response.content.decode()
    assert not BatchMember.objects.filter(batch=other).exists()


def test_admin_removing_a_patient_and_their_companions_together(client, coordinator, facility):
    from batches import services

    batch = factories.BatchFactory(staging_facility=facility)
    patient = factories.PatientFactory(facility=facility)
    factories.ReferralFactory(patient=patient)
    companions = factories.CompanionFactory.create_batch(2, patient=patient)
    lines = services.batch_add_patient(
        batch=batch, patient=patient, companions=companions, actor=coordinator
    )
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:batches_batchmember_changelist"),
        {"action": "remove", "_selected_action": [line.pk for line in lines]},
    )
    assert response.status_code == 302
    assert not BatchMember.objects.filter(batch=batch).exists()
    assert Event.objects.filter(batch_ref=batch.code, action="remove_member").count() == 1


def test_admin_transition_url_with_a_non_numeric_id_is_not_an_error(client, coordinator):
    client.force_login(coordinator)
    # Not a transition URL at all: the admin's "no such batch", a plain 404.
    response = client.get("/admin/batches/batch/abc/transition/prepare/", follow=True)
    assert response.status_code == 404


def test_admin_quota_keeps_its_day_and_direction(client, coordinator, quota):
    client.force_login(coordinator)
    url = reverse("admin:batches_crossingquota_change", args=[quota.pk])
    response = client.post(
        url,
        {
            "crossing": "rafah",
            "date": "2020-01-01",
            "direction": "return",
            "agreed_patients": 7,
            "agreed_companions": 3,
            "source": "who",
        },
    )
    assert response.status_code == 302
    from batches.models import CrossingQuota

    quota.refresh_from_db()
    assert (quota.date, quota.direction, quota.agreed_patients) == (
        quota.date,
        "exit",
        7,
    )
    assert CrossingQuota.objects.count() == 1
