"""A day on the field pages alone, in Debian's chromium: a coordinator registers a patient with
two companions and a referral, finds them in the queue, builds a batch, takes it through
vetting (one companion refused), seats everyone, sees it leave and cross person by person, and
downloads the manifest; another batch is cancelled with a reason and a source, then
rescheduled; a nurse on a phone, in Arabic, reports readiness. Screenshots in var/screenshots/
(field-*.png)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from batches.models import Batch
from batches.services import batch_add_patient, batch_create
from casetracker.audit.models import Event
from patients.models import Patient
from tests import factories
from tests.pdf import pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
# Arabic names with letters that join (and a lam-alef ligature), to read back from the PDF.
PATIENT_AR = "سلمى الأسطل"
MOTHER_AR = "فاطمة الأسطل"
UNCLE_AR = "خالد الأسطل"


@pytest.fixture
def day(facility, coordinator, nurse, other_facility):
    """Tomorrow's quota, and another patient already on a draft of tomorrow (to cancel)."""
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    factories.QuotaFactory(date=tomorrow, agreed_patients=50, agreed_companions=100)
    other = factories.PatientFactory(facility=facility, name_latin="Omar Qishta")
    factories.ReferralFactory(patient=other)
    draft = batch_create(
        actor=coordinator, direction="exit", planned_date=tomorrow, staging_facility=facility
    )
    batch_add_patient(batch=draft, patient=other, actor=coordinator)
    return {"tomorrow": tomorrow, "to_cancel": draft}


class Session:
    """One person's browser: signs in, follows pages, takes screenshots, fails on a page error."""

    def __init__(self, chromium, live_server, shots, user, viewport, name):
        self.context = chromium.new_context(
            base_url=live_server.url, viewport=viewport, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "response",
            lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.url}"),
        )
        self.shots, self.name, self.count = shots, name, 0
        self.page.goto(reverse("admin:login"))
        self.page.fill("#id_username", user.username)
        self.page.fill("#id_password", PASSWORD)
        self.page.click("input[type=submit]")
        self.page.wait_for_load_state()

    def go(self, url: str):
        self.page.goto(url)
        self.page.wait_for_load_state()

    def shot(self, label: str) -> None:
        self.count += 1
        path = self.shots / f"field-{self.name}-{self.count:02d}-{label}.png"
        self.page.screenshot(path=path, full_page=True)

    def submit(self, button_selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(button_selector)

    def close(self):
        self.context.close()
        assert not self.errors, self.errors


def test_field_day_coordinator_and_nurse(
    live_server, chromium, shots, tmp_path, day, coordinator, nurse, facility, other_facility
):
    coord = Session(chromium, live_server, shots, coordinator, DESKTOP, "coordinator")
    page = coord.page

    # --- Register a patient with two companions and a referral ------------------------------
    coord.go(reverse("patients:register"))
    form = "#register"
    page.fill(f"{form} [name=name_latin]", "Salma Al-Astal")
    page.fill(f"{form} [name=name_arabic]", PATIENT_AR)
    page.fill(f"{form} [name=national_id]", "411223344")
    page.fill(f"{form} [name=date_of_birth]", "2016-04-02")
    page.select_option(f"{form} [name=sex]", "female")
    page.select_option(f"{form} [name=facility]", str(facility.pk))
    page.select_option(f"{form} [name=priority]", "critical")
    page.select_option(f"{form} [name=clinical_category]", "oncology")
    page.check(f"{form} [name=needs_stretcher]")
    companions = [
        ("Fatima Al-Astal", MOTHER_AR, "800111222", "1984-01-10", "female", "mother", True),
        ("Khaled Al-Astal", UNCLE_AR, "800111333", "1979-06-21", "male", "uncle", False),
    ]
    for i, (latin, arabic, nid, born, sex, relationship, guardian) in enumerate(companions):
        prefix = f"{form} [name=companions-{i}-"
        page.fill(f"{prefix}name_latin]", latin)
        page.fill(f"{prefix}name_arabic]", arabic)
        page.fill(f"{prefix}national_id]", nid)
        page.fill(f"{prefix}date_of_birth]", born)
        page.select_option(f"{prefix}sex]", sex)
        page.fill(f"{prefix}relationship]", relationship)
        if guardian:
            page.check(f"{prefix}is_guardian]")
    page.fill(f"{form} [name=referral-number]", "MOH-2026-0042")
    page.fill(f"{form} [name=referral-specialty]", "paediatric oncology")
    page.select_option(f"{form} [name=referral-referring_facility]", str(other_facility.pk))
    page.fill(f"{form} [name=referral-destination_country]", "Egypt")
    page.fill(f"{form} [name=referral-issued_on]", timezone.localdate().isoformat())
    coord.shot("register")
    coord.submit(f"{form} button[type=submit]")
    patient = Patient.objects.get(name_latin="Salma Al-Astal")
    ref = patient.case_reference
    assert page.url.endswith(reverse("patients:detail", args=[ref]))
    assert patient.companions.count() == 2

    # The referral arrives approved: the coordinator records the decision on the case's page.
    referral = patient.referrals.get()
    page.select_option(f"#decide-{referral.pk} select", "approved")
    coord.submit(f"#decide-{referral.pk} button[type=submit]")
    coord.shot("patient-page")

    # --- A nurse on a phone, in Arabic, reports readiness -----------------------------------
    ward = Session(chromium, live_server, shots, nurse, PHONE, "nurse")
    ward.go(reverse("patients:ward"))
    assert ward.page.locator("html").get_attribute("dir") == "rtl"
    card = f"#card-{ref}"
    ward.page.wait_for_selector(card)
    ward.shot("ward-before")
    for flag in ("fit_to_travel", "documents_ready", "companions_present", "transport_confirmed"):
        toggle = f"#t-{ref}-{flag}"
        if ward.page.get_attribute(toggle, "aria-pressed") == "false":
            ward.page.click(toggle)  # htmx: the card is redrawn, no page load
            ward.page.wait_for_selector(f"{toggle}[aria-pressed=true]")
    ward.shot("ward-after")
    assert ward.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    ward.close()
    patient.readiness.refresh_from_db()
    assert patient.readiness.missing() == []

    # --- The queue finds her (a POST search, by name) --------------------------------------
    coord.go(reverse("patients:queue"))
    page.fill("#queue-search input[type=search], #queue-search input[type=text]", "Astal")
    coord.submit("#queue-search button[type=submit]")
    assert ref in page.content()
    coord.shot("queue-search")

    # --- The builder proposes her with her companions; save the draft ----------------------
    coord.go(reverse("batches:builder"))
    page.fill("#choose [name=date]", day["tomorrow"].isoformat())
    page.select_option("#choose [name=staging_facility]", facility.code)
    coord.submit("#choose button[type=submit]")
    assert page.is_checked(f"#keep-{ref}")
    coord.shot("builder")
    coord.submit("#build button[value=save]")
    batch = Batch.objects.filter(members__patient=patient, status="draft").get()
    assert page.url.endswith(reverse("batches:detail", args=[batch.code]))
    assert batch.members.count() == 3

    # --- Prepare, submit, vetting with one companion refused, clear ------------------------
    step = "form[action$='/step/{}/'] button"
    coord.submit(step.format("prepare"))
    coord.submit(step.format("submit"))
    uncle = batch.members.get(companion__relationship="uncle")
    page.fill(f"#clearance-{uncle.pk} [name=note]", "Not on the cleared list")
    page.click(f"#clearance-{uncle.pk} button[value=rejected]")
    page.wait_for_selector(f"#line-{uncle.pk} .chip.rejected")  # htmx: manifest redrawn
    page.click("#approve-all button")
    page.wait_for_selector("#approve-all", state="detached")
    coord.shot("vetted")
    coord.submit(step.format("clear"))
    batch.refresh_from_db()
    assert batch.status == "cleared"

    # --- Vehicles: an ambulance with a stretcher for her, everyone seated -------------------
    coord.go(reverse("batches:vehicles", args=[batch.code]))
    page.select_option("#add-vehicle [name=kind]", "ambulance")
    page.fill("#add-vehicle [name=seats]", "3")
    page.fill("#add-vehicle [name=stretchers]", "1")
    coord.submit("#add-vehicle button[name=add]")
    for select in page.locator("#seating select").all():
        select.select_option("1")
    coord.submit("#seating button[name=seat]")
    coord.shot("vehicles")
    coord.go(reverse("batches:detail", args=[batch.code]))
    coord.submit(step.format("depart"))
    batch.refresh_from_db()
    assert batch.status == "in_transit"

    # --- The crossing: an outcome for each person, chosen one by one -----------------------
    coord.go(reverse("batches:transition", args=[batch.code, "cross"]))
    for line in batch.members.filter(is_open=True):
        page.check(f"#cross input[name=line_{line.pk}][value=crossed]")
    coord.shot("cross")
    coord.submit("#cross button[type=submit]")
    batch.refresh_from_db()
    assert batch.status == "crossed"
    patient.refresh_from_db()
    assert patient.status == "evacuated"

    # --- The manifest, as printed for the border -------------------------------------------
    with page.expect_download() as download:
        page.click(f"a[href='{reverse('batches:manifest-pdf', args=[batch.code])}']")
    pdf = download.value.path().read_bytes()
    text = pdf_text(pdf, tmp_path)
    for expected in (batch.code, ref, "Salma Al-Astal", PATIENT_AR, MOTHER_AR, "411223344"):
        assert expected in text, expected
    assert UNCLE_AR not in text  # refused at vetting: he did not travel
    assert Event.objects.filter(
        batch_ref=batch.code, action="view", details__document="manifest"
    ).exists()

    # --- Another batch cancelled (reason and source stated), then rescheduled --------------
    cancelled = day["to_cancel"]
    coord.go(reverse("batches:transition", args=[cancelled.code, "cancel"]))
    assert page.input_value("#step [name=reason_code]") == ""
    assert page.input_value("#step [name=source]") == ""
    assert page.input_value("#step [name=relayed_by]") == ""
    page.select_option("#step [name=reason_code]", "no_reason_given")
    page.select_option("#step [name=source]", "border_authority")
    page.select_option("#step [name=relayed_by]", "who")
    page.fill("#step [name=reason_text]", "WHO relayed at 07:40 that the batch will not cross.")
    coord.shot("cancel")
    coord.submit("#step button[type=submit]")
    cancelled.refresh_from_db()
    assert (cancelled.status, cancelled.cancel_source, cancelled.cancel_relayed_by) == (
        "cancelled",
        "border_authority",
        "who",
    )
    coord.go(reverse("batches:transition", args=[cancelled.code, "reschedule"]))
    page.fill("#step [name=planned_date]", (day["tomorrow"] + dt.timedelta(days=1)).isoformat())
    coord.submit("#step button[type=submit]")
    new = Batch.objects.get(rescheduled_from=cancelled)
    assert page.url.endswith(reverse("batches:detail", args=[new.code]))
    coord.shot("rescheduled")
    coord.close()
