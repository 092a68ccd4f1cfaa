"""The round trip through the downloads: the waiting queue downloaded from the queue page (CSV
and XLSX, English and Arabic headers) and imported into a database without those cases gives
the same cases, field by field: patients, companions, referrals."""

import datetime as dt
import io

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from patients.imports.cases import import_cases
from patients.imports.template import COMPANION, PATIENT, REFERRAL, columns
from patients.models import Companion, Patient, Referral
from tests import factories

pytestmark = pytest.mark.django_db

FIELDS = {part: [c.field for c in columns() if c.part == part] for part in (PATIENT, REFERRAL)}
FIELDS[COMPANION] = list(dict.fromkeys(c.field for c in columns() if c.part == COMPANION))


def _value(instance, field: str):
    value = getattr(instance, field)
    return value.code if field in ("facility", "referring_facility") else value


def cases() -> dict[str, dict]:
    """Every case by national ID, as the template's fields: the patient, the companions in
    order, the referrals."""
    found = {}
    for patient in Patient.objects.order_by("pk"):
        found[patient.national_id] = {
            "patient": {f: _value(patient, f) for f in FIELDS[PATIENT]},
            "companions": [
                {f: _value(c, f) for f in FIELDS[COMPANION]}
                for c in Companion.objects.filter(patient=patient).order_by("pk")
            ],
            "referrals": [
                {f: _value(r, f) for f in FIELDS[REFERRAL]}
                for r in Referral.objects.filter(patient=patient).order_by("pk")
            ],
        }
    return found


def register(facility, other_facility) -> None:
    today = timezone.localdate()
    huda = factories.PatientFactory(
        facility=facility,
        name_latin="Huda Barhoum",
        name_arabic="هدى برهوم",
        national_id="400765432",
        date_of_birth=dt.date(2015, 2, 4),
        sex="female",
        phone="+970599123456",
        sms_consent=True,
        contact_language="ar",
        priority="critical",
        clinical_category="paediatric",
        diagnosis="ALL, relapse; needs platelets",
        needs_stretcher=True,
        needs_oxygen=True,
    )
    factories.CompanionFactory(
        patient=huda,
        name_latin="Salam Khaled",
        name_arabic="سلام خالد",
        national_id="802345678",
        date_of_birth=dt.date(1988, 7, 9),
        sex="female",
        relationship="mother",
        is_guardian=True,
    )
    factories.CompanionFactory(
        patient=huda,
        name_latin="Khaled Barhoum",
        name_arabic="خالد برهوم",
        national_id="803456789",
        sex="male",
        relationship="father",
    )
    factories.ReferralFactory(
        patient=huda,
        number="MoH-2026-0415",
        specialty="haematology",
        referring_facility=other_facility,
        destination_country="Egypt",
        destination_hospital="Al-Arish General",
        issued_on=today - dt.timedelta(days=10),
        expires_on=today + dt.timedelta(days=80),
        status="pending",
    )
    yousef = factories.PatientFactory(
        facility=other_facility,
        name_latin="Yousef Lafi",
        name_arabic="يوسف لافي",
        national_id="409876543",
        sex="male",
        priority="routine",
        clinical_category="renal",
        diagnosis="",
    )
    factories.ReferralFactory(patient=yousef, destination_hospital="", expires_on=None)
    factories.PatientFactory(
        facility=facility, name_latin="Alone Case", national_id="405550001", diagnosis=""
    )


@pytest.mark.parametrize(
    ("fmt", "language"), [("csv", "en"), ("xlsx", "en"), ("csv", "ar"), ("xlsx", "ar")]
)
def test_queue_download_imports_again_as_the_same_cases(
    fmt, language, client, coordinator, facility, other_facility
):
    coordinator.preferred_language = language
    coordinator.save(update_fields=["preferred_language"])
    client.force_login(coordinator)
    # The cases exist only inside this savepoint: once it is rolled back the database holds
    # none of them (the facilities and the coordinator stay), as a new deployment would.
    with transaction.atomic():
        register(facility, other_facility)
        before = cases()
        huda = before["400765432"]
        assert (len(huda["companions"]), len(huda["referrals"])) == (2, 1)
        assert huda["patient"]["diagnosis"] and huda["patient"]["needs_oxygen"]
        response = client.get(reverse("patients:queue-export"), {"download": fmt})
        assert response.status_code == 200
        exported = b"".join(response.streaming_content)
        transaction.set_rollback(True)
    assert not Patient.objects.exists() and not Companion.objects.exists()

    result = import_cases(
        file=io.BytesIO(exported), name=f"queue.{fmt}", actor=coordinator, dry_run=False
    )
    assert result.applied, [row.errors for row in result.rows if row.errors]
    after = cases()
    assert set(after) == set(before) == {"400765432", "409876543", "405550001"}
    for number, case in before.items():
        again = after[number]
        assert again["patient"] == case["patient"], number
        assert again["companions"] == case["companions"], number
        # The referral's decision (pending, approved) is not in the template: a new one waits.
        assert again["referrals"] == case["referrals"], number
