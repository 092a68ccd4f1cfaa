"""The clearance list screens of a submitted batch (batches/views/clearance_list.py): offered
from the batch page only while clearance can be recorded, a preview naming who the list
approves and rejects, the rows naming nobody on the batch and the people it leaves out, then
one all-or-nothing recording. Forms submitted as rendered; no name or ID in any URL."""

import html
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from batches import services
from casetracker.audit.context import Channel
from casetracker.audit.models import Action, Event
from patients.models import PendingImport
from tests import factories
from tests.html_forms import read_form
from tests.imports.files import csv_bytes, import_events
from tests.service_helpers import advance

HEADERS = ["national_id", "reference", "decision", "note"]


@pytest.fixture
def submitted(coordinator, facility, quota, ready_patient):
    batch = factories.BatchFactory(staging_facility=facility)
    first = ready_patient(name_latin="Mariam Barhoum", name_arabic="مريم برهوم")
    second = ready_patient(name_latin="Omar Qishta")
    companion = factories.CompanionFactory(patient=first, name_latin="Fatima Barhoum")
    services.batch_add_patient(
        batch=batch, patient=first, companions=[companion], actor=coordinator
    )
    services.batch_add_patient(batch=batch, patient=second, actor=coordinator)
    batch = advance(batch, "submitted", coordinator)
    batch.first, batch.second, batch.companion = first, second, companion
    return batch


def list_file(rows) -> SimpleUploadedFile:
    data = csv_bytes([dict(zip(HEADERS, row, strict=True)) for row in rows], HEADERS)
    return SimpleUploadedFile("cleared.csv", data)


def from_batch_page(client, batch):
    page = client.get(reverse("batches:detail", args=[batch.code]))
    link = 'id="clearance-list-link"'
    assert link in page.content.decode()
    return client.get(reverse("batches:clearance-list", args=[batch.code]))


def send(client, page, rows):
    return read_form(page, "#upload").attach("file", list_file(rows)).submit(client)


def test_clearance_list_preview_then_confirm_records_all(client, coordinator, submitted):
    b = submitted
    client.force_login(coordinator)
    rows = [
        [b.first.national_id, "", "approved", ""],
        ["", b.second.case_reference, "rejected", "on a list"],
    ]
    answer = send(client, from_batch_page(client, b), rows)
    assert answer.status_code == 302
    for secret in (b.first.national_id, b.first.name_latin):
        assert secret not in answer["Location"]
    page = client.get(answer["Location"])
    text = page.content.decode()
    approved = text.split('id="approved"')[1].split("</section>")[0]
    assert "Mariam Barhoum" in approved
    rejected = text.split('id="rejected"')[1].split("</section>")[0]
    assert "Omar Qishta" in rejected
    missing = text.split('id="missing"')[1].split("</section>")[0]
    assert "Fatima Barhoum" in missing  # the companion is on the batch, not on the list
    assert all(line.clearance == "pending" for line in b.members.all())  # the dry run

    done = read_form(page, "#confirm").submit(client)
    assert done["Location"] == reverse("batches:detail", args=[b.code]) + "#manifest"
    decided = {m.patient_id: m.clearance for m in b.members.filter(companion=None)}
    assert decided == {b.first.pk: "approved", b.second.pk: "rejected"}
    assert b.members.get(companion=b.companion).clearance == "pending"
    assert not PendingImport.objects.exists()
    events = import_events()
    assert [(e.details["dry_run"], e.details["applied"]) for e in events] == [
        (True, False),
        (False, True),
    ]
    assert {e.channel for e in events} == {Channel.WEB}
    assert Event.objects.filter(batch_ref=b.code, action=Action.CLEARANCE).count() == 2


def test_clearance_list_row_naming_nobody_refuses_the_list(client, coordinator, submitted):
    b = submitted
    client.force_login(coordinator)
    outsider = factories.PatientFactory()
    rows = [
        [b.first.national_id, "", "approved", ""],
        ["", outsider.case_reference, "rejected", ""],
    ]
    answer = send(client, from_batch_page(client, b), rows)
    page = client.get(answer["Location"])
    text = page.content.decode()
    assert "row 3" in text and f"not on batch {b.code}" in text
    assert 'id="confirm"' not in text
    # Posted anyway: refused again, nothing recorded.
    pending = PendingImport.objects.get()
    url = reverse("batches:clearance-list-confirm", args=[b.code, pending.pk])
    assert client.post(url).status_code == 302
    assert all(line.clearance == "pending" for line in b.members.all())
    assert import_events()[-1].details["applied"] is False


def test_clearance_list_only_while_the_batch_is_submitted(client, coordinator, facility):
    draft = factories.BatchFactory(staging_facility=facility)
    client.force_login(coordinator)
    page = client.get(reverse("batches:detail", args=[draft.code]))
    assert 'id="clearance-list-link"' not in page.content.decode()
    assert client.get(reverse("batches:clearance-list", args=[draft.code])).status_code == 409


def test_clearance_list_refused_to_nurses_auditors_and_other_coordinators(
    client, coordinator, nurse, auditor, submitted
):
    b = submitted
    client.force_login(coordinator)
    answer = send(client, from_batch_page(client, b), [[b.first.national_id, "", "approved", ""]])
    pending = PendingImport.objects.get()
    urls = {
        "GET": [reverse("batches:clearance-list", args=[b.code]), answer["Location"]],
        "POST": [
            reverse(f"batches:clearance-list-{name}", args=[b.code, pending.pk])
            for name in ("confirm", "discard")
        ],
    }
    for user in (nurse, auditor):
        client.force_login(user)
        for url in urls["GET"]:
            assert client.get(url).status_code == 403
        for url in urls["POST"]:
            assert client.post(url).status_code == 403
    client.force_login(factories.UserFactory(username="coordinator-2", role="coordinator"))
    assert client.get(answer["Location"]).status_code == 404
    for url in urls["POST"]:
        assert client.post(url).status_code == 404
    assert all(line.clearance == "pending" for line in b.members.all())
    assert PendingImport.objects.filter(pk=pending.pk).exists()


def test_clearance_list_expired_upload_is_refused(client, coordinator, submitted):
    b = submitted
    client.force_login(coordinator)
    send(client, from_batch_page(client, b), [[b.first.national_id, "", "approved", ""]])
    pending = PendingImport.objects.get()
    PendingImport.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    url = reverse("batches:clearance-list-confirm", args=[b.code, pending.pk])
    assert client.post(url).status_code == 410
    assert all(line.clearance == "pending" for line in b.members.all())
    assert not PendingImport.objects.exists()


def test_clearance_list_unreadable_file_names_its_problem(client, coordinator, submitted):
    client.force_login(coordinator)
    page = from_batch_page(client, submitted)
    form = read_form(page, "#upload")
    form.attach("file", SimpleUploadedFile("cleared.csv", b"shoe size\r\n42\r\n"))
    answer = form.submit(client)
    assert answer.status_code == 400
    assert 'row 1: unknown column "shoe size"' in html.unescape(answer.content.decode())
    assert not PendingImport.objects.exists()
