"""The import screens in Debian's chromium, in Arabic: a coordinator uploads a list with a bad
row, reads the error in the preview, uploads the corrected file and confirms; the cases are in
the queue. Then the clearance list of a submitted batch, from the batch page. Screenshots at
390 px and 1366 px (import-*.png in SCREENSHOT_DIR); no page is wider than a phone."""

import pytest
from django.urls import reverse

from batches import services
from patients.models import Patient, PendingImport
from tests import factories
from tests.e2e.test_field_day import DESKTOP, PHONE, Session
from tests.imports.files import case_row, csv_bytes, xlsx_bytes
from tests.service_helpers import advance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def arabic_coordinator(db):
    return factories.UserFactory(
        username="coordinator-ar", role="coordinator", preferred_language="ar"
    )


def _fits(session, width: int) -> None:
    assert session.page.evaluate("document.documentElement.scrollWidth") <= width


def test_import_cases_bad_row_fixed_then_confirmed(
    live_server, chromium, shots, tmp_path, facility, arabic_coordinator
):
    bad, good = tmp_path / "list.xlsx", tmp_path / "list-fixed.xlsx"
    rows = [case_row(n, name_arabic=f"أمل حداد {n}") for n in (1, 2, 3)]
    bad.write_bytes(xlsx_bytes([*rows[:2], {**rows[2], "date_of_birth": "31/02/1980"}]))
    good.write_bytes(xlsx_bytes(rows))

    phone = Session(chromium, live_server, shots, arabic_coordinator, PHONE, "import-phone")
    phone.go(reverse("patients:import-cases"))
    assert phone.page.locator("html").get_attribute("dir") == "rtl"
    phone.shot("upload")
    _fits(phone, PHONE["width"])
    phone.page.set_input_files("#upload input[type=file]", str(bad))
    phone.submit("#upload button[type=submit]")
    error = phone.page.locator("#row-4")
    assert "date_of_birth" in error.inner_text()
    assert "31/02/1980" not in phone.page.url and "Haddad" not in phone.page.url
    phone.shot("preview-refused")
    _fits(phone, PHONE["width"])
    phone.page.click("#held summary")
    phone.shot("preview-held")
    _fits(phone, PHONE["width"])
    phone.close()
    PendingImport.objects.all().delete()

    desk = Session(chromium, live_server, shots, arabic_coordinator, DESKTOP, "import-desktop")
    desk.go(reverse("patients:import-cases"))
    desk.shot("upload")
    desk.page.set_input_files("#upload input[type=file]", str(bad))
    desk.submit("#upload button[type=submit]")
    assert desk.page.locator("#confirm").count() == 0
    desk.shot("preview-refused")
    # The corrected file, from the preview itself.
    desk.page.set_input_files("#upload input[type=file]", str(good))
    desk.submit("#upload button[type=submit]")
    desk.page.click("nav.tabs a:nth-child(3)")
    desk.page.wait_for_load_state()
    assert desk.page.locator("#row-4").count() == 1
    desk.shot("preview-ready")
    assert not Patient.objects.exists()
    desk.submit("#confirm button")
    assert desk.page.url.endswith(reverse("patients:queue"))
    content = desk.page.content()
    for row in rows:
        assert row["name_latin"] in content
    desk.shot("queue")
    desk.close()
    assert Patient.objects.count() == 3 and not PendingImport.objects.exists()


def test_import_clearance_list_from_the_batch_page(
    live_server, chromium, shots, tmp_path, facility, quota, arabic_coordinator, ready_patient
):
    batch = factories.BatchFactory(staging_facility=facility)
    first = ready_patient(name_latin="Mariam Barhoum", name_arabic="مريم برهوم")
    second = ready_patient(name_latin="Omar Qishta", name_arabic="عمر قشطة")
    mother = factories.CompanionFactory(patient=first, name_arabic="فاطمة برهوم")
    services.batch_add_patient(
        batch=batch, patient=first, companions=[mother], actor=arabic_coordinator
    )
    services.batch_add_patient(batch=batch, patient=second, actor=arabic_coordinator)
    batch = advance(batch, "submitted", arabic_coordinator)
    headers = ["national_id", "reference", "decision", "note"]
    listed = tmp_path / "cleared.csv"
    listed.write_bytes(
        csv_bytes(
            [
                {"reference": first.case_reference, "decision": "موافق"},
                {"national_id": mother.national_id, "decision": "approved"},
                {"reference": second.case_reference, "decision": "مرفوض", "note": "security"},
            ],
            headers,
        )
    )
    for viewport, name in ((PHONE, "clearance-phone"), (DESKTOP, "clearance-desktop")):
        session = Session(chromium, live_server, shots, arabic_coordinator, viewport, name)
        session.go(reverse("batches:detail", args=[batch.code]))
        session.submit("#clearance-list-link")
        session.shot("upload")
        _fits(session, viewport["width"])
        session.page.set_input_files("#upload input[type=file]", str(listed))
        session.submit("#upload button[type=submit]")
        assert "Omar Qishta" in session.page.locator("#rejected").inner_text()
        session.shot("preview")
        _fits(session, viewport["width"])
        if viewport is DESKTOP:
            session.submit("#confirm button")
            session.shot("recorded")
        session.close()
    decided = {line.person.name_latin: line.clearance for line in batch.members.all()}
    assert decided == {
        "Mariam Barhoum": "approved",
        mother.name_latin: "approved",
        "Omar Qishta": "rejected",
    }
