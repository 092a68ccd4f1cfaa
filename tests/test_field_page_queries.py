"""The field pages read each table once, whatever the rows they show (issue 12): the queries a
page runs do not grow with its rows, no row is read twice, and every page that shows people
still writes its access event."""

import datetime as dt

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from batches.models import BatchMember, Clearance
from batches.services import batch_add_patient, batch_create, vehicle_add
from casetracker.audit.models import Action, Event
from casetracker.notifications.models import Notification
from tests import factories

pytestmark = pytest.mark.django_db

QUEUE = reverse("patients:queue")
TODAY = reverse("batches:today")


def _get(client, url) -> list[str]:
    """The SQL of one request."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in ctx.captured_queries]


def _reads_of(queries: list[str], table: str) -> int:
    """How many reads have `table` as their main table (not a join)."""
    main_table = f' FROM "{table}" '
    return sum(1 for sql in queries if sql.startswith("SELECT") and main_table in f"{sql} ")


def _access_events(**filters):
    return Event.objects.filter(action=Action.VIEW, **filters)


# --- The patient page -----------------------------------------------------------------------


def test_patient_page_queries_do_not_grow_with_its_rows(client, coordinator, ready_patient):
    patient = ready_patient(date_of_birth=dt.date(2015, 3, 1))
    client.force_login(coordinator)
    url = reverse("patients:detail", args=[patient.case_reference])
    _get(client, url)  # the session, once
    few = _get(client, url)
    for _ in range(4):
        factories.CompanionFactory(patient=patient, is_guardian=True)
        factories.ReferralFactory(patient=patient, status="pending")
    many = _get(client, url)
    assert len(many) == len(few)
    # Referrals and readiness are read once: validity today and the batch needs use those rows.
    assert _reads_of(many, "patients_referral") == 1
    assert _reads_of(many, "patients_readiness") <= 1
    assert _access_events(subject_ref=patient.case_reference).count() == 3


def test_patient_page_batch_needs_still_name_a_missing_referral(client, coordinator, ready_patient):
    patient = ready_patient()
    patient.referrals.update(status="pending")
    client.force_login(coordinator)
    url = reverse("patients:detail", args=[patient.case_reference])
    html = client.get(url).content.decode()
    assert "an approved referral that has not expired" in html
    patient.referrals.update(status="approved")
    html = client.get(url).content.decode()
    assert "an approved referral that has not expired" not in html


# --- The queue ------------------------------------------------------------------------------


def test_queue_queries_do_not_grow_with_children_and_their_guardians(client, coordinator, facility):
    """A child's row asks whether an adult guardian travels: the guardians' birth dates come
    with the companions, not one query per guardian."""

    def add(n):
        for _ in range(n):
            child = factories.PatientFactory(facility=facility, date_of_birth=dt.date(2016, 1, 1))
            factories.ReferralFactory(patient=child)
            factories.CompanionFactory(patient=child, is_guardian=True)

    client.force_login(coordinator)
    add(2)
    _get(client, QUEUE)
    few = _get(client, QUEUE)
    add(10)
    many = _get(client, QUEUE)
    assert len(many) == len(few)
    assert _reads_of(many, "patients_companion") == 1
    (event,) = _access_events(subject_ref="list").order_by("-id")[:1]
    assert event.details["rows"] == 12


# --- The day --------------------------------------------------------------------------------


def test_today_reads_the_crossings_and_the_failed_count_once(client, coordinator, facility, today):
    factories.QuotaFactory(date=today)
    draft = batch_create(
        actor=coordinator, direction="exit", planned_date=today, staging_facility=facility
    )
    event = Event.objects.filter(batch_ref=draft.code).first()
    Notification.objects.create(
        event=event, recipient=coordinator, channel="email", status="failed", idempotency_key="x"
    )
    client.force_login(coordinator)
    _get(client, TODAY)
    queries = _get(client, TODAY)
    assert _reads_of(queries, "batches_crossing") == 1
    failed_counts = [sql for sql in queries if "COUNT(*)" in sql and "\"status\" = 'failed'" in sql]
    assert len(failed_counts) == 1
    html = client.get(TODAY).content.decode()
    assert "1 notification could not be delivered." in html


# --- The batch page -------------------------------------------------------------------------


@pytest.fixture
def batch(facility, coordinator, quota, ready_patient, today):
    draft = batch_create(
        actor=coordinator, direction="exit", planned_date=today, staging_facility=facility
    )
    vehicle_add(batch=draft, actor=coordinator, kind="ambulance", seats=2, stretchers=1)
    return draft


def test_batch_page_queries_do_not_grow_with_people_and_read_each_table_once(
    client, coordinator, batch, ready_patient
):
    def add(n):
        for _ in range(n):
            patient = ready_patient()
            companion = factories.CompanionFactory(patient=patient, is_guardian=True)
            batch_add_patient(
                batch=batch, patient=patient, actor=coordinator, companions=[companion]
            )

    client.force_login(coordinator)
    url = reverse("batches:detail", args=[batch.code])
    add(1)
    _get(client, url)
    few = _get(client, url)
    add(4)
    BatchMember.objects.filter(batch=batch).update(clearance=Clearance.PENDING)
    many = _get(client, url)
    assert len(many) == len(few) == 18
    # The vehicles serve the links and the printed sheet; the batch it was rescheduled as
    # comes with the batch.
    assert _reads_of(many, "batches_vehicle") == 1
    assert _reads_of(many, "batches_batch") == 1
    # The lines serve the list and the printed sheet (the quota's counts are no read of them);
    # the events serve the timeline and the redactions.
    assert len([sql for sql in many if sql.startswith('SELECT "batches_batchmember"."id"')]) == 1
    assert _reads_of(many, "audit_event") == 1
    event = _access_events(subject_type="patient").order_by("-id").first()
    assert len(event.details["results"]) == 5


def test_batch_page_links_the_batch_it_was_rescheduled_as(client, coordinator, batch, today):
    later = batch_create(
        actor=coordinator,
        direction="exit",
        planned_date=today + dt.timedelta(days=1),
        staging_facility=batch.staging_facility,
    )
    type(later).objects.filter(pk=later.pk).update(rescheduled_from=batch)
    client.force_login(coordinator)
    html = client.get(reverse("batches:detail", args=[batch.code])).content.decode()
    assert reverse("batches:detail", args=[later.code]) in html


# --- Labels of choices ----------------------------------------------------------------------


def test_choice_labels_are_djangos_in_every_language(batch):
    """The same text as Django's own `get_<field>_display`, in the active language; an unknown
    value is shown as it is."""
    line = BatchMember(clearance=Clearance.APPROVED)
    field = BatchMember._meta.get_field("clearance")
    for language in ("en", "ar"):
        with translation.override(language):
            assert line.get_clearance_display() == Model._get_FIELD_display(line, field)
            assert batch.get_status_display() == Model._get_FIELD_display(
                batch, type(batch)._meta.get_field("status")
            )
    with translation.override("ar"):
        assert line.get_clearance_display() != "approved"
    line.clearance = "no-such-value"
    assert line.get_clearance_display() == "no-such-value"


def test_today_names_only_the_patients_without_a_referral_valid_on_their_day(
    client, coordinator, facility, ready_patient, today
):
    """The database leaves out whoever holds a referral valid on the batch's day; the others
    are named, with the expiry when one lapsed before the day."""
    day = today + dt.timedelta(days=3)
    draft = batch_create(
        actor=coordinator, direction="exit", planned_date=day, staging_facility=facility
    )
    valid, lapsed, later, pending = (
        ready_patient(name_latin=f"{name} Case") for name in ("Valid", "Lapsed", "Later", "Pending")
    )
    for patient in (valid, lapsed, later, pending):
        batch_add_patient(batch=draft, patient=patient, actor=coordinator)
    # Their referrals change after they were put on the batch.
    lapsed.referrals.update(expires_on=day - dt.timedelta(days=1))
    later.referrals.update(issued_on=day + dt.timedelta(days=1))
    pending.referrals.update(status="pending")
    client.force_login(coordinator)
    soup = BeautifulSoup(client.get(TODAY).content, "html.parser")
    heading = soup.find("h3", string="No referral valid on the batch's day")
    named = {li.find("bdi", dir="auto").text: li.text for li in heading.find_next("ul")("li")}
    assert set(named) == {"Lapsed Case", "Later Case", "Pending Case"}
    assert "referral expires" in named["Lapsed Case"]
    assert "no approved referral" in named["Later Case"]
    assert "no approved referral" in named["Pending Case"]
