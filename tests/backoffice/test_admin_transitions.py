"""The back office's cancel and crossing forms: no fact is preselected. A careless click cannot
write a reason, a source or a crossing outcome into the audit log."""

import pytest
from django.urls import reverse

from batches import services
from batches.models import Batch, BatchStatus
from casetracker.audit.models import Event
from patients.models import Patient, PatientStatus
from tests import factories
from tests.html_forms import FormError, read_form

pytestmark = pytest.mark.django_db


def _transition_url(batch, name):
    return reverse("admin:batches_batch_transition", args=[batch.pk, name])


@pytest.fixture
def draft(coordinator, facility, quota, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    services.batch_add_patient(batch=batch, patient=ready_patient(), actor=coordinator)
    return batch


@pytest.fixture
def in_transit(draft, coordinator):
    """A batch on the road with a patient and their companion."""
    patient = draft.members.get().patient
    companion = factories.CompanionFactory(patient=patient)
    services.batch_add_companion(batch=draft, companion=companion, actor=coordinator)
    batch = services.batch_prepare(batch=draft, actor=coordinator)
    batch = services.batch_submit(batch=batch, actor=coordinator)
    for line in batch.members.all():
        services.batch_record_clearance(
            batch=batch, member=line, clearance="approved", actor=coordinator
        )
    batch = services.batch_clear(batch=batch, actor=coordinator)
    return services.batch_depart(batch=batch, actor=coordinator)


def _select(form, name):
    return form.tag.find("select", attrs={"name": name})


def _chosen(select) -> list[str]:
    """The values of the options the page marks selected (the empty "Choose…" at most)."""
    return [option["value"] for option in select.find_all("option", selected=True)]


def test_admin_cancel_form_preselects_no_reason_and_no_source(client, draft, coordinator):
    client.force_login(coordinator)
    form = read_form(client.get(_transition_url(draft, "cancel")))
    for name in ("reason_code", "source"):
        select = _select(form, name)
        assert select.has_attr("required"), name
        first = select.find("option")
        assert (first["value"], first.get_text()) == ("", "Choose…")
        assert _chosen(select) in ([], [""]), name
        assert form.value(name) == ""


def test_admin_cancel_unchosen_is_refused_by_the_browser(client, draft, coordinator):
    client.force_login(coordinator)
    form = read_form(client.get(_transition_url(draft, "cancel")))
    form.fill(reason_text="Relayed by WHO at 06:40.")
    with pytest.raises(FormError, match="reason_code"):
        form.submit(client)
    form.fill(reason_code="no_reason_given")
    with pytest.raises(FormError, match="source"):
        form.submit(client)
    assert Batch.objects.get(pk=draft.pk).status == BatchStatus.DRAFT
    assert not Event.objects.filter(action="cancel").exists()


def test_admin_cancel_with_the_chosen_reason_and_source(client, draft, coordinator):
    client.force_login(coordinator)
    form = read_form(client.get(_transition_url(draft, "cancel")))
    form.fill(
        reason_code="coordination_incomplete",
        source="border_authority",
        relayed_by="who",
        reason_text="Coordination details were missing, the authority said.",
    )
    response = form.submit(client)
    assert response.status_code == 302
    event = Event.objects.get(subject_ref=draft.code, action="cancel")
    assert (event.reason_code, event.source, event.reason_text, event.channel) == (
        "coordination_incomplete",
        "border_authority",
        "Coordination details were missing, the authority said.",
        "admin",
    )
    assert event.details["relayed_by"] == "who"
    assert Batch.objects.get(pk=draft.pk).cancel_relayed_by == "who"
    assert Batch.objects.get(pk=draft.pk).status == BatchStatus.CANCELLED
    page = client.get(response["Location"])
    assert [str(m) for m in page.context["messages"]] == [f"Batch {draft.code} is now cancelled."]


def test_admin_cross_form_asks_each_outcome(client, in_transit, coordinator):
    lines = list(in_transit.members.order_by("pk"))
    client.force_login(coordinator)
    form = read_form(client.get(_transition_url(in_transit, "cross")))
    names = [f"line_{line.pk}" for line in lines]
    for name in names:
        # One radio button per outcome, each required, none checked.
        radios = form.controls[name]
        assert [radio.kind for radio in radios] == ["radio"] * 4
        assert all(radio.required for radio in radios)
        assert form.value(name) == []
    with pytest.raises(FormError, match="line_"):
        form.submit(client)
    form.fill(**{names[0]: "crossed"})
    with pytest.raises(FormError, match=names[1]):
        form.submit(client)
    assert Batch.objects.get(pk=in_transit.pk).status == BatchStatus.IN_TRANSIT

    form.fill(**{names[1]: "turned_back"})
    response = form.submit(client)

    assert response.status_code == 302
    outcomes = {line.pk: line.outcome for line in in_transit.members.all()}
    assert outcomes == {lines[0].pk: "crossed", lines[1].pk: "turned_back"}
    assert Batch.objects.get(pk=in_transit.pk).status == BatchStatus.CROSSED
    assert Patient.objects.get(pk=lines[0].patient_id).status == PatientStatus.EVACUATED
    assert Event.objects.filter(subject_ref=in_transit.code, action="cross").count() == 1


def test_admin_cross_form_names_each_person(client, in_transit, coordinator):
    patient_line, companion_line = in_transit.members.order_by("pk")
    client.force_login(coordinator)
    html = client.get(_transition_url(in_transit, "cross")).content.decode()
    assert f"patient {patient_line.patient.case_reference}" in html
    companion = companion_line.companion
    assert f"companion #{companion.pk} of {companion.patient.case_reference}" in html


def test_admin_refused_step_lists_the_problems(client, draft, coordinator):
    patient = draft.members.get().patient
    patient.readiness.fit_to_travel = False
    patient.readiness.save()
    client.force_login(coordinator)
    response = client.post(_transition_url(draft, "prepare"), follow=True)
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith(f"Batch {draft.code} was not changed: “Prepare” is not possible.")
    assert f"<li>patient {patient.case_reference} is not fit to travel" in message
    assert Batch.objects.get(pk=draft.pk).status == BatchStatus.DRAFT


def test_admin_bulk_action_says_what_became_of_each_batch(client, draft, coordinator):
    client.force_login(coordinator)
    form = read_form(client.get(reverse("admin:batches_batch_changelist")), "#changelist-form")
    form.fill(action="action_prepare", _selected_action=str(draft.pk))
    response = form.submit(client, button="index", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        f"Batch {draft.code} is now prepared."
    ]
