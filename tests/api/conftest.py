"""A small world for the schema-driven API tests: two staging facilities with people at each,
batches in every state (one cancelled at each facility), the events and notifications those
transitions wrote, one failed delivery, and an API token per role."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.authtoken.models import Token

from batches import services as batch_services
from batches.models import Batch, BatchMember, Crossing
from casetracker.accounts.models import Facility
from casetracker.audit.models import Event
from casetracker.notifications.models import Notification, NotificationStatus
from patients.models import Companion, Patient, Referral, Returnee
from patients.services import patient_set_status, readiness_update
from tests import factories
from tests.api_helpers import world_rolled_back
from tests.service_helpers import advance

ROLES = ["anonymous", "coordinator", "hospital_staff", "auditor", "admin"]


@dataclass
class World:
    """What exists, by the value each URL, query or body names it with."""

    tokens: dict[str, str] = field(default_factory=dict)
    facilities: list[str] = field(default_factory=list)
    crossings: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    lines: dict[str, list[int]] = field(default_factory=dict)  # batch code -> its lines
    patients: list[str] = field(default_factory=list)
    companions: list[int] = field(default_factory=list)
    referrals: list[int] = field(default_factory=list)
    returnees: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)  # case and returnee references
    members: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    notifications: list[int] = field(default_factory=list)


def _people(facility, count: int) -> list:
    """Fit patients with an approved referral and one companion each."""
    patients = []
    for _ in range(count):
        patient = factories.PatientFactory(facility=facility)
        factories.ReferralFactory(patient=patient)
        factories.CompanionFactory(patient=patient)
        patients.append(patient)
    return patients


def _batch(facility, coordinator, patients, to: str | None = None) -> Batch:
    batch = factories.BatchFactory(staging_facility=facility)
    for patient in patients:
        batch_services.batch_add_patient(
            batch=batch,
            patient=patient,
            companions=list(patient.companions.all()),
            actor=coordinator,
        )
    return advance(batch, to, coordinator) if to else batch


def _values(queryset, name: str) -> list:
    return list(queryset.order_by("pk").values_list(name, flat=True))


def build_world() -> World:
    today = timezone.localdate()
    home = factories.FacilityFactory(code="al-amal", kind="staging")
    away = factories.FacilityFactory(code="nasser", kind="staging")
    factories.FacilityFactory(code="european-gaza", kind="hospital")
    users = {
        "coordinator": factories.UserFactory(username="coordinator", role="coordinator"),
        "hospital_staff": factories.UserFactory(
            username="nurse", role="hospital_staff", facility=home, preferred_language="ar"
        ),
        "auditor": factories.UserFactory(username="auditor", role="auditor"),
        "admin": factories.UserFactory(username="admin", is_superuser=True),
    }
    factories.UserFactory(username="other-nurse", role="hospital_staff", facility=away)
    coordinator = users["coordinator"]
    for day in range(8):
        for direction in ("exit", "return"):
            factories.QuotaFactory(date=today + dt.timedelta(days=day), direction=direction)

    here, there = _people(home, 9), _people(away, 3)
    readiness_update(patient=here[8], actor=users["hospital_staff"], note="oxygen on the way")
    patient_set_status(patient=here[7], status="withdrawn", actor=coordinator, reason_text="")
    _batch(home, coordinator, here[0:1])
    _batch(home, coordinator, here[1:2], "prepared")
    # Submitted with the clearance still to record.
    submitted = _batch(home, coordinator, here[2:3], "prepared")
    batch_services.batch_submit(batch=submitted, actor=coordinator)
    _batch(home, coordinator, here[3:4], "cleared")
    _batch(home, coordinator, here[4:5], "in_transit")
    _batch(home, coordinator, here[5:6], "crossed")
    _batch(home, coordinator, here[6:7], "cancelled")
    _batch(away, coordinator, there[0:1])
    _batch(away, coordinator, there[1:2], "cancelled")
    returnees = [factories.ReturneeFactory() for _ in range(3)]
    homecoming = factories.BatchFactory(staging_facility=home, direction="return")
    batch_services.batch_add_returnee(batch=homecoming, returnee=returnees[0], actor=coordinator)

    # A delivery that gave up, for the retry route (written directly: setup, not under test).
    failed = Notification.objects.filter(recipient=users["hospital_staff"]).first()
    failed.status = NotificationStatus.FAILED
    failed.attempts = failed.attempt_limit
    failed.last_error = "provider answered 503"
    failed.save()

    lines = defaultdict(list)
    for code, line in BatchMember.objects.order_by("pk").values_list("batch__code", "pk"):
        lines[code].append(line)
    return World(
        tokens={role: Token.objects.create(user=user).key for role, user in users.items()},
        facilities=_values(Facility.objects, "code"),
        crossings=_values(Crossing.objects, "code"),
        batches=_values(Batch.objects, "code"),
        lines=dict(lines),
        patients=_values(Patient.objects, "case_reference"),
        companions=_values(Companion.objects, "pk"),
        referrals=_values(Referral.objects, "pk"),
        returnees=_values(Returnee.objects, "reference"),
        people=_values(Patient.objects, "case_reference") + _values(Returnee.objects, "reference"),
        members=_values(BatchMember.objects, "pk"),
        events=_values(Event.objects, "pk"),
        notifications=_values(Notification.objects, "pk"),
    )


@pytest.fixture(scope="module")
def wsgi_in_test_transaction():
    """The WSGI handler closes the connection around each request; inside the test's
    transaction that would drop it, as Django's own test client knows."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with world_rolled_back(django_db_blocker, build_world) as built:
        yield built
