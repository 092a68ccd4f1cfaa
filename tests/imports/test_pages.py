"""The screens importing a list of cases (patients/views/imports.py): upload, preview, fields
chosen for cases already held, confirm all or nothing; forms submitted as rendered; the
pending upload kept encrypted, its uploader's alone, refused once expired; never a name or a
national ID in a URL."""

from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from casetracker.audit.context import Channel
from patients.imports import pending as store
from patients.models import Patient, PendingImport
from patients.tasks import purge_expired_imports
from tests import factories
from tests.html_forms import read_form

from .files import case_row, csv_bytes, database_state, import_events, xlsx_bytes

UPLOAD = reverse("patients:import-cases")


@pytest.fixture
def coordinator_client(client, coordinator, facility):
    client.force_login(coordinator)
    return client


def upload(client, data: bytes, name: str = "list.csv", page=None):
    """Choose the file in the upload form as the page renders it, and send it."""
    form = read_form(page or client.get(UPLOAD), "#upload")
    form.attach("file", SimpleUploadedFile(name, data))
    return form.submit(client)


def personal(rows) -> set[str]:
    """What must never appear in a URL: every name and national ID of the rows."""
    found = set()
    for row in rows:
        for key, value in row.items():
            if value and key.endswith(("name_latin", "name_arabic", "national_id")):
                found.add(value)
    return found


def assert_no_personal_data(url: str, rows) -> None:
    for value in personal(rows):
        assert value not in unquote(url), f"{value!r} in {url}"


def test_import_page_refuses_nurses_and_auditors(client, nurse, auditor, coordinator):
    pending = store.pending_create(
        actor=coordinator, kind="cases", name="l.csv", content=b"x", sha256="0" * 64, preview={}
    )
    for user in (nurse, auditor):
        client.force_login(user)
        assert client.get(UPLOAD).status_code == 403
        assert client.post(UPLOAD).status_code == 403
        assert client.get(reverse("patients:import-template")).status_code == 403
        for name in ("check", "confirm", "discard"):
            url = reverse(f"patients:import-{name}", args=[pending.pk])
            assert client.post(url).status_code == 403
        assert client.get(reverse("patients:import-preview", args=[pending.pk])).status_code == 403
    assert PendingImport.objects.filter(pk=pending.pk).exists()


def test_import_page_shows_the_rules_and_the_template_links(coordinator_client):
    page = coordinator_client.get(UPLOAD)
    html = page.content.decode()
    assert "04/02/2026 is 4 February 2026" in html
    for query in ("headers=en&amp;type=xlsx", "headers=ar&amp;type=csv"):
        assert query in html
    answer = coordinator_client.get(reverse("patients:import-template") + "?headers=ar&type=csv")
    assert answer["Content-Disposition"] == 'attachment; filename="cases-template-ar.csv"'
    assert "رقم الهوية" in answer.content.decode("utf-8-sig")
    xlsx = coordinator_client.get(reverse("patients:import-template") + "?headers=en&type=xlsx")
    assert xlsx.content.startswith(b"PK")
    bad = coordinator_client.get(reverse("patients:import-template") + "?headers=fr&type=csv")
    assert bad.status_code == 404


def test_import_bad_row_previewed_then_fixed_file_confirmed(coordinator_client, coordinator):
    bad_rows = [case_row(1), case_row(2, date_of_birth="31/02/1980")]
    answer = upload(coordinator_client, csv_bytes(bad_rows))
    assert answer.status_code == 302
    assert_no_personal_data(answer["Location"], bad_rows)
    pending = PendingImport.objects.get()
    # Kept encrypted: neither the names nor the numbers are in the stored bytes.
    for value in personal(bad_rows):
        for stored in (pending.content, pending.preview, pending.file_name):
            assert value.encode() not in bytes(stored)
    page = coordinator_client.get(answer["Location"])
    html = page.content.decode()
    assert 'id="row-3"' in html and "date_of_birth" in html
    assert "Amal Haddad B" in html  # whose row it is, from the file
    assert 'id="confirm"' not in html  # nothing to confirm while a row is refused
    before = database_state()

    good_rows = [case_row(1), case_row(2)]
    fixed = upload(coordinator_client, csv_bytes(good_rows), page=page)
    assert fixed.status_code == 302
    assert PendingImport.objects.count() == 1  # the corrected file replaced the first
    preview = coordinator_client.get(fixed["Location"])
    assert database_state() == before  # the dry runs saved nothing
    done = read_form(preview, "#confirm").submit(coordinator_client)
    assert done.status_code == 302 and done["Location"] == reverse("patients:queue")
    assert Patient.objects.filter(name_latin__startswith="Amal Haddad").count() == 2
    assert not PendingImport.objects.exists()
    events = import_events()
    assert [(e.details["dry_run"], e.details["applied"]) for e in events] == [
        (True, False),
        (True, False),
        (False, True),
    ]
    assert {e.channel for e in events} == {Channel.WEB} and events[-1].actor == coordinator
    assert events[-1].details["rows"] == {"create": 2, "update": 0, "reject": 0}


def test_import_confirm_refused_now_saves_nothing_and_shows_why(
    coordinator_client, coordinator, facility
):
    rows = [case_row(1), case_row(2)]
    answer = upload(coordinator_client, csv_bytes(rows))
    preview = coordinator_client.get(answer["Location"])
    # Meanwhile someone registers the second row's person: the import now refuses that row.
    factories.PatientFactory(facility=facility, national_id=rows[1]["national_id"])
    before = database_state()
    refused = read_form(preview, "#confirm").submit(coordinator_client)
    assert refused.status_code == 302 and refused["Location"] == answer["Location"]
    assert database_state() == before
    page = coordinator_client.get(refused["Location"])
    html = page.content.decode()
    assert "Nothing was saved" in html and 'id="row-3"' in html
    assert "already registered" in html
    assert import_events()[-1].details["applied"] is False


def test_import_update_field_chosen_updates_only_that_field(
    coordinator_client, coordinator, facility
):
    held = factories.PatientFactory(facility=facility, priority="routine", phone="+970599111111")
    row = case_row(1, national_id=held.national_id, priority="critical", phone="+970599222222")
    answer = upload(coordinator_client, csv_bytes([row]))
    page = coordinator_client.get(answer["Location"])
    form = read_form(page, "#update-fields")
    assert form.value("update_fields") == []  # none preselected
    checked = form.fill(update_fields=["priority"]).submit(coordinator_client)
    page = coordinator_client.get(checked["Location"] + "?show=update")
    assert held.case_reference in page.content.decode()
    read_form(page, "#confirm").submit(coordinator_client)
    held.refresh_from_db()
    assert (held.priority, held.phone) == ("critical", "+970599111111")
    assert import_events()[-1].details["rows"] == {"create": 0, "update": 1, "reject": 0}


def test_import_another_coordinators_pending_upload_is_not_found(client, coordinator):
    answer = upload_as(client, coordinator, csv_bytes([case_row(1)]))
    other = factories.UserFactory(username="coordinator-2", role="coordinator")
    client.force_login(other)
    assert client.get(answer["Location"]).status_code == 404
    pending = PendingImport.objects.get()
    for name in ("check", "confirm", "discard"):
        assert client.post(reverse(f"patients:import-{name}", args=[pending.pk])).status_code == 404
    assert not Patient.objects.exists()
    assert PendingImport.objects.filter(pk=pending.pk).exists()


def upload_as(client, user, data):
    client.force_login(user)
    return upload(client, data)


def test_import_expired_upload_is_refused_and_purged(client, coordinator):
    answer = upload_as(client, coordinator, csv_bytes([case_row(1)]))
    pending = PendingImport.objects.get()
    PendingImport.objects.filter(pk=pending.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    confirm = client.post(reverse("patients:import-confirm", args=[pending.pk]))
    assert confirm.status_code == 410
    assert not Patient.objects.exists() and not PendingImport.objects.exists()
    assert client.get(answer["Location"]).status_code == 404


def test_import_beat_purges_expired_uploads_only(coordinator):
    kept, gone = (
        store.pending_create(
            actor=coordinator, kind="cases", name="l.csv", content=b"x", sha256="0", preview={}
        )
        for _ in range(2)
    )
    PendingImport.objects.filter(pk=gone.pk).update(expires_at=timezone.now())
    assert purge_expired_imports() == 1
    assert list(PendingImport.objects.values_list("pk", flat=True)) == [kept.pk]


def test_import_refused_file_names_its_problem_and_keeps_nothing(coordinator_client):
    answer = upload(coordinator_client, b"name_latin,shoe size\r\nA,42\r\n")
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "row 1" in html and "unknown columns" in html
    assert not PendingImport.objects.exists()
    (event,) = import_events()
    assert event.details["file_refused"] is True


def test_import_file_over_the_limit_is_refused_naming_the_limit(coordinator_client, settings):
    settings.IMPORT_MAX_BYTES = 100
    answer = upload(coordinator_client, csv_bytes([case_row(1)]))
    assert answer.status_code == 400
    assert "at most 100 are accepted" in answer.content.decode()
    assert not PendingImport.objects.exists()


def test_import_too_many_rows_is_refused_naming_the_row(coordinator_client, settings):
    settings.IMPORT_MAX_ROWS = 1
    answer = upload(coordinator_client, xlsx_bytes([case_row(1), case_row(2)]), "list.xlsx")
    assert answer.status_code == 400
    assert "row 3" in answer.content.decode() and "more than 1 rows" in answer.content.decode()


def test_import_large_preview_is_paged(coordinator_client, settings):
    rows = [case_row(n, date_of_birth="99/99/1999") for n in range(1, 121)]
    answer = upload(coordinator_client, csv_bytes(rows))
    page = coordinator_client.get(answer["Location"])
    html = page.content.decode()
    assert html.count('<tr id="row-') == 50
    assert "show=reject&amp;page=2" in html
    last = coordinator_client.get(answer["Location"] + "?show=reject&page=3")
    assert last.content.decode().count('<tr id="row-') == 20


def test_import_body_over_the_upload_limit_is_refused_before_reading(coordinator_client, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    data = csv_bytes([case_row(n) for n in range(1, 20)])
    answer = upload(coordinator_client, data)
    assert answer.status_code == 413
    assert "larger than 1000 bytes" in answer.content.decode()
    assert not PendingImport.objects.exists() and not import_events()


def test_import_stored_file_not_the_one_checked_is_refused(coordinator_client):
    answer = upload(coordinator_client, csv_bytes([case_row(1)]))
    pending = PendingImport.objects.get()
    # Another file under the same id: its SHA-256 is not the one the dry run saw.
    other = store.pending_create(
        actor=pending.actor,
        kind="cases",
        name="x.csv",
        content=csv_bytes([case_row(2)]),
        sha256="0" * 64,
        preview={},
    )
    PendingImport.objects.filter(pk=pending.pk).update(content=other.content)
    confirm = coordinator_client.post(reverse("patients:import-confirm", args=[pending.pk]))
    assert confirm.status_code == 410
    assert not Patient.objects.exists()
    assert answer.status_code == 302


def test_import_link_shows_only_to_roles_allowed(client, coordinator, nurse, auditor):
    for user, shown in ((coordinator, True), (nurse, False), (auditor, False)):
        client.force_login(user)
        home = client.get(reverse("patients:queue")).content.decode()
        assert (f'href="{UPLOAD}"' in home) is shown, user.username


def test_import_confirm_while_another_import_runs_keeps_the_preview(
    coordinator_client, monkeypatch
):
    """Another list being imported at that moment: nothing is saved, the message says so and
    the preview stays confirmable."""
    from patients.imports import cases

    rows = [case_row(1)]
    answer = upload(coordinator_client, csv_bytes(rows))
    preview = coordinator_client.get(answer["Location"])
    before = database_state()

    def busy():
        raise cases.ImportBusy("another list of cases is being imported at this moment")

    monkeypatch.setattr(cases, "_one_import_at_a_time", busy)
    refused = read_form(preview, "#confirm").submit(coordinator_client)
    assert refused.status_code == 302 and refused["Location"] == answer["Location"]
    assert database_state() == before
    again = coordinator_client.get(refused["Location"]).content.decode()
    assert "another list of cases is being imported" in again
    assert 'id="confirm"' in again
    monkeypatch.undo()
    done = read_form(coordinator_client.get(answer["Location"]), "#confirm").submit(
        coordinator_client
    )
    assert done["Location"] == reverse("patients:queue")
