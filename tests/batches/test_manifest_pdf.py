"""The printed manifest: a PDF per batch and per vehicle, for every signed-in role, with full ID
numbers for coordinators and admins only, Arabic names printed, and every download in the access
log. The PDFs are read back with poppler's pdftotext (Debian package poppler-utils)."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from batches import manifest as sheet
from batches.services import (
    batch_add_patient,
    batch_add_returnee,
    vehicle_add,
    vehicle_assign,
)
from batches.views import manifest as views
from casetracker.audit.models import Event
from patients import access
from tests import factories
from tests.api_helpers import decryptions
from tests.pdf import pdf_text
from tests.service_helpers import advance, mark

# Arabic names with the letter pairs that Arabic fonts join into ligatures (lam-alef in "سلام",
# "لافي"; the word "الله"): extracting them is where a PDF's text goes wrong first.
FATIMA = ("Fatima Zahra", "فاطمة الزهراء", "401234567")
MOTHER = ("Salam Khaled", "سلام خالد", "802345678")
YOUSEF = ("Yousef Lafi", "يوسف لافي", "409876543")
ABDALLAH = ("Abdallah Najjar", "عبد الله النجار", "903456789")


def row_of(text: str, words: str) -> str:
    [row] = [line for line in text.splitlines() if words in line]
    return row


def has_arabic(text: str, name: str) -> bool:
    # An older poppler writes right-to-left runs in visual order: accept the name reversed too.
    return name in text or name[::-1] in text


@pytest.fixture
def batch(facility, coordinator, ready_patient, quota):
    """A draft at `facility`: Fatima (stretcher) with her mother, guardian, in Ambulance 1;
    Yousef in Bus 2."""
    batch = factories.BatchFactory(staging_facility=facility)
    fatima = ready_patient(
        name_latin=FATIMA[0], name_arabic=FATIMA[1], national_id=FATIMA[2], needs_stretcher=True
    )
    mother = factories.CompanionFactory(
        patient=fatima,
        name_latin=MOTHER[0],
        name_arabic=MOTHER[1],
        national_id=MOTHER[2],
        relationship="mother",
        is_guardian=True,
    )
    yousef = ready_patient(name_latin=YOUSEF[0], name_arabic=YOUSEF[1], national_id=YOUSEF[2])
    lines = batch_add_patient(batch=batch, patient=fatima, actor=coordinator, companions=[mother])
    [line] = batch_add_patient(batch=batch, patient=yousef, actor=coordinator)
    vehicle_add(
        batch=batch, actor=coordinator, kind="ambulance", seats=2, stretchers=1, label="PRCS-14"
    )
    vehicle_add(batch=batch, actor=coordinator, kind="bus", seats=20)
    vehicle_assign(
        batch=batch,
        actor=coordinator,
        assignments={lines[0].pk: 1, lines[1].pk: 1, line.pk: 2},
    )
    batch.fatima, batch.yousef = fatima, yousef
    return batch


def download(client, user, batch, vehicle=None):
    client.force_login(user)
    if vehicle is None:
        return client.get(reverse("batches:manifest-pdf", args=[batch.code]))
    return client.get(reverse("batches:vehicle-manifest-pdf", args=[batch.code, vehicle]))


def access_event(since) -> Event:
    [event] = Event.objects.filter(pk__gt=since.event_id, action="view")
    return event


def test_batch_pdf_for_a_coordinator_prints_everyone_with_full_ids(
    client, coordinator, batch, tmp_path
):
    since = mark()
    response = download(client, coordinator, batch)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{batch.code}.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content, tmp_path)
    assert batch.code in text
    for ref in (batch.fatima.case_reference, batch.yousef.case_reference):
        assert ref in text
    for latin, arabic, national_id in (FATIMA, MOTHER, YOUSEF):
        assert latin in text
        assert has_arabic(text, arabic), arabic
        assert national_id in text
    for words in ("Passenger manifest", "needs stretcher", "mother", "guardian", "Ambulance 1"):
        assert words in text
    assert "Page 1 of 1" in text
    row = row_of(text, FATIMA[0])
    assert row.index(batch.fatima.case_reference) < row.index(FATIMA[0])

    event = access_event(since)
    assert (event.subject_type, event.subject_ref, event.batch_ref) == (
        "batch",
        batch.code,
        batch.code,
    )
    assert (event.actor_id, event.actor_role) == (coordinator.pk, "coordinator")
    assert event.details == {
        "category": "identity",
        "document": "manifest",
        "vehicle": None,
        "rows": 3,
        "national_id": "full",
        "results": sorted([batch.fatima.case_reference, batch.yousef.case_reference]),
        "companions": 1,
    }
    # Never a name or a number in the log.
    for latin, _arabic, national_id in (FATIMA, MOTHER, YOUSEF):
        assert latin not in str(event.details) and national_id not in str(event.details)


def test_batch_pdf_for_the_staging_nurse_masks_ids_and_reads_right_to_left(
    client, nurse, batch, tmp_path
):
    since = mark()
    response = download(client, nurse, batch)

    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    for latin, arabic, national_id in (FATIMA, MOTHER, YOUSEF):
        assert latin in text
        assert has_arabic(text, arabic), arabic
        assert national_id not in text
        assert "•" * 5 + national_id[-4:] in text
    # The nurse reads Arabic: values in Arabic ("pending", "needs stretcher"), headings in
    # Arabic and English, and the columns run from the right: the row number and reference
    # stand right of the names on the line (pdftotext -layout keeps the page's geometry).
    assert "قيد الانتظار" in text and "يحتاج نقالة" in text
    assert "المرجع" in text and "Reference" in text
    row = row_of(text, FATIMA[0])
    assert row.index(FATIMA[0]) < row.index(batch.fatima.case_reference)
    assert re.search(r"(Page|صفحة)\s*1\s*(of|من)\s*1", text)
    event = access_event(since)
    assert (event.actor_id, event.actor_role) == (nurse.pk, "hospital_staff")
    assert event.details["national_id"] == "last_4_digits"
    assert event.details["rows"] == 3


def test_batch_pdf_for_an_auditor_masks_ids(client, auditor, batch, tmp_path):
    since = mark()
    response = download(client, auditor, batch)
    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    assert FATIMA[0] in text and FATIMA[2] not in text and FATIMA[2][-4:] in text
    assert access_event(since).details["national_id"] == "last_4_digits"


def test_batch_pdf_of_another_facility_is_not_found(client, other_nurse, batch):
    since = mark()
    assert download(client, other_nurse, batch).status_code == 404
    assert download(client, other_nurse, batch, vehicle=1).status_code == 404
    assert not Event.objects.filter(pk__gt=since.event_id).exists()


def test_batch_pdf_refused_to_someone_not_signed_in(client, batch):
    response = client.get(reverse("batches:manifest-pdf", args=[batch.code]))
    assert response.status_code in (302, 403)
    assert b"%PDF" not in response.content


def test_vehicle_pdf_lists_only_that_vehicles_people(client, coordinator, batch, tmp_path):
    since = mark()
    response = download(client, coordinator, batch, vehicle=1)

    assert response.status_code == 200
    assert response["Content-Disposition"] == (f'attachment; filename="{batch.code}-vehicle-1.pdf"')
    text = pdf_text(response.content, tmp_path)
    assert "Vehicle manifest" in text
    assert "Ambulance 1 (PRCS-14)" in text
    assert FATIMA[0] in text and MOTHER[0] in text
    assert YOUSEF[0] not in text and batch.yousef.case_reference not in text
    assert not has_arabic(text, YOUSEF[1])
    details = access_event(since).details
    assert (details["vehicle"], details["rows"], details["results"]) == (
        1,
        2,
        [batch.fatima.case_reference],
    )

    bus = pdf_text(download(client, coordinator, batch, vehicle=2).content, tmp_path)
    assert YOUSEF[0] in bus and FATIMA[0] not in bus


def test_vehicle_pdf_of_a_vehicle_not_on_the_batch_is_not_found(client, coordinator, batch):
    assert download(client, coordinator, batch, vehicle=9).status_code == 404


def test_batch_pdf_repeats_the_header_and_numbers_pages(
    client, coordinator, facility, ready_patient, quota, tmp_path
):
    batch = factories.BatchFactory(staging_facility=facility)
    for i in range(24):
        patient = ready_patient(name_latin=f"Patient Number {i}", name_arabic="مريض")
        batch_add_patient(
            batch=batch,
            patient=patient,
            actor=coordinator,
            companions=[factories.CompanionFactory(patient=patient, name_latin=f"Escort {i}")],
        )
    text = pdf_text(download(client, coordinator, batch).content, tmp_path)
    pages = re.findall(r"Page (\d+) of (\d+)", text)
    assert len(pages) >= 2
    assert pages == [(str(n), pages[0][1]) for n in range(1, len(pages) + 1)]
    # The column headings are printed again at the top of every page.
    assert text.count("National ID") == len(pages)
    assert "Patient Number 23" in text and "Escort 23" in text


def test_batch_pdf_of_a_return_batch_lists_returnees_for_readers_of_every_facility(
    client, coordinator, nurse, facility, tmp_path
):
    factories.QuotaFactory(direction="return", agreed_patients=10)
    batch = factories.BatchFactory(staging_facility=facility, direction="return")
    returnee = factories.ReturneeFactory(
        name_latin=ABDALLAH[0], name_arabic=ABDALLAH[1], national_id=ABDALLAH[2]
    )
    batch_add_returnee(batch=batch, returnee=returnee, actor=coordinator)

    text = pdf_text(download(client, coordinator, batch).content, tmp_path)
    assert returnee.reference in text and ABDALLAH[0] in text and ABDALLAH[2] in text
    assert has_arabic(text, ABDALLAH[1])
    # Returnees belong to no facility: the staging facility's nurse gets the sheet without them.
    since = mark()
    text = pdf_text(download(client, nurse, batch).content, tmp_path)
    assert returnee.reference not in text and ABDALLAH[0] not in text
    assert access_event(since).details["rows"] == 0


def test_batch_pdf_of_a_crossed_batch_lists_who_travelled_with_the_outcome(
    client, coordinator, batch, tmp_path
):
    advance(batch, "crossed", coordinator)
    text = pdf_text(download(client, coordinator, batch).content, tmp_path)
    assert FATIMA[0] in text and MOTHER[0] in text and YOUSEF[0] in text
    assert "Outcome" in text and "crossed" in text


def test_batch_pdf_of_a_cancelled_batch_says_so(client, coordinator, batch, tmp_path):
    advance(batch, "cancelled", coordinator)
    text = pdf_text(download(client, coordinator, batch).content, tmp_path)
    assert "This batch was cancelled" in text
    assert FATIMA[0] in text


def test_batch_pdf_without_the_fonts_says_so_instead_of_printing_boxes(
    client, coordinator, batch, monkeypatch
):
    monkeypatch.setattr(views, "_fonts_found", False)
    monkeypatch.setattr(views, "_has_font", lambda family: family != "Amiri")
    since = mark()
    response = download(client, coordinator, batch)

    assert response.status_code == 302
    assert response.url == reverse("batches:detail", args=[batch.code])
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "lacks the fonts Amiri" in message
    assert not Event.objects.filter(pk__gt=since.event_id).exists()


def test_fonts_the_sheet_needs_are_installed_here():
    # The Makefile installs them (fonts-hosny-amiri, fonts-dejavu-core).
    assert views._has_font("Amiri") and views._has_font("DejaVu Sans")
    assert not views._has_font("No Such Font Family")


# --- Who sees full ID numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "full"),
    [
        ("coordinator", True),
        ("admin_user", True),
        ("nurse", False),
        ("auditor", False),
    ],
)
def test_shows_full_national_id_for_coordinators_and_admins_only(request, who, full):
    assert access.shows_full_national_id(request.getfixturevalue(who)) is full


@pytest.mark.parametrize(
    ("number", "masked"),
    [("401234567", "•••••4567"), ("12345", "•2345"), ("1234", "••••"), ("", "")],
)
def test_mask_national_id_keeps_the_last_four_digits(number, masked):
    assert access.mask_national_id(number) == masked


def test_build_manifest_groups_companions_under_their_patient(coordinator, batch):
    manifest = sheet.build_manifest(batch=batch, user=coordinator)
    rows = [(p.number, p.kind, p.reference, p.vehicle, p.takes_stretcher) for p in manifest.people]
    assert rows == [
        (1, "patient", batch.fatima.case_reference, "Ambulance 1", True),
        (2, "companion", batch.fatima.case_reference, "Ambulance 1", False),
        (3, "patient", batch.yousef.case_reference, "Bus 2", False),
    ]
    mother = manifest.groups[0].people[1]
    assert (mother.relationship, mother.is_guardian) == ("mother", True)
    assert mother.age == batch.fatima.companions.get().age_on(batch.planned_date)
    assert manifest.counts == {
        "patients": 2,
        "companions": 1,
        "returnees": 0,
        "people": 3,
        "stretcher_places": 1,
    }
    assert [v.people for v in manifest.vehicles] == [2, 1]


def test_build_manifest_reads_only_the_columns_it_prints(
    coordinator, batch, django_assert_max_num_queries
):
    # The lines in one query (people and vehicles joined), the vehicles in another.
    with django_assert_max_num_queries(3):
        sheet.build_manifest(batch=batch, user=coordinator)
    line = sheet.manifest_lines(batch, coordinator).first()
    assert "diagnosis" in line.patient.get_deferred_fields()


@pytest.mark.parametrize("who", ["coordinator", "nurse", "auditor"])
def test_build_manifest_decrypts_the_ids_it_prints_and_no_other(request, batch, who):
    """One decryption per person printed (the whole number for coordinators, its last four
    digits for the others): none for the companion's patient, nor for a vehicle's sheet the
    people of the other vehicles."""
    user = request.getfixturevalue(who)
    with decryptions() as decrypted:
        whole = sheet.build_manifest(batch=batch, user=user)
    assert len(decrypted) == len(whole.people) == 3
    with decryptions() as decrypted:
        bus = sheet.build_manifest(batch=batch, user=user, vehicle=batch.vehicles.get(number=2))
    assert len(decrypted) == len(bus.people) == 1
    shown = bus.people[0].national_id
    assert shown == (YOUSEF[2] if who == "coordinator" else access.mask_national_id(YOUSEF[2]))


def test_batch_page_decrypts_only_the_ids_of_its_printed_sheet(client, nurse, batch):
    """The page lists the manifest without ID numbers; its print sheet shows the last four
    digits of each person who travels: that many decryptions, no more."""
    client.force_login(nurse)
    with decryptions() as decrypted:
        response = client.get(reverse("batches:detail", args=[batch.code]))
    assert response.status_code == 200
    assert len(decrypted) == 3
    assert access.mask_national_id(YOUSEF[2]) in response.content.decode()


def test_manifest_download_shows_in_the_auditors_timeline_only(client, coordinator, auditor, batch):
    download(client, coordinator, batch)
    event = Event.objects.filter(action="view", subject_ref=batch.code).get()
    assert Event.objects.visible_to(auditor).filter(pk=event.pk).exists()
    assert not Event.objects.visible_to(coordinator).filter(pk=event.pk).exists()
    client.force_login(auditor)
    response = client.get(reverse("reports:batch", args=[batch.code]))
    assert response.status_code == 200
    assert "record viewed" in response.content.decode()
