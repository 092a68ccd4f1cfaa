"""A demo scenario modelled on the first days of the reopened crossing (DESIGN section 1).

Everything is written through the services, so the demo carries real events and notifications.
Dates are relative to today; names are invented from common names. Deterministic (seeded).
"""

import random
from dataclasses import dataclass
from datetime import date, time, timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from casetracker.accounts.models import Facility, User
from casetracker.accounts.roles import Role
from casetracker.accounts.services import facility_create, user_create
from patients import services as patient_services
from patients.models import Patient, PatientStatus, Returnee

from . import services
from .models import DEFAULT_CROSSING, Batch, Crossing, CrossingState, Direction
from .services.crossings import crossing_create, crossing_set_state

FACILITIES = [
    ("al-amal", "Al-Amal Hospital", "مستشفى الأمل", "staging", "khan_younis"),
    ("nasser", "Nasser Medical Complex", "مجمع ناصر الطبي", "hospital", "khan_younis"),
    ("european-gaza", "European Gaza Hospital", "المستشفى الأوروبي", "hospital", "khan_younis"),
    ("al-aqsa", "Al-Aqsa Martyrs Hospital", "مستشفى شهداء الأقصى", "hospital", "deir_al_balah"),
]

# username, role, facility, language, password (demo only: printed by `make run`)
ACCOUNTS = [
    ("coordinator", Role.COORDINATOR, None, "en", "demo-coordinator-2026"),
    ("coordinator.ar", Role.COORDINATOR, None, "ar", "demo-coordinator-ar-2026"),
    ("nurse.amal", Role.HOSPITAL_STAFF, "al-amal", "ar", "demo-nurse-amal-2026"),
    ("nurse.nasser", Role.HOSPITAL_STAFF, "nasser", "en", "demo-nurse-nasser-2026"),
    ("auditor", Role.AUDITOR, None, "en", "demo-auditor-2026"),
]
ADMIN = ("admin", "demo-admin-2026")

FIRST = [
    ("Ahmad", "أحمد", "male"),
    ("Mohammed", "محمد", "male"),
    ("Yousef", "يوسف", "male"),
    ("Omar", "عمر", "male"),
    ("Khaled", "خالد", "male"),
    ("Ibrahim", "إبراهيم", "male"),
    ("Mahmoud", "محمود", "male"),
    ("Hamza", "حمزة", "male"),
    ("Fatima", "فاطمة", "female"),
    ("Mariam", "مريم", "female"),
    ("Aisha", "عائشة", "female"),
    ("Huda", "هدى", "female"),
    ("Layla", "ليلى", "female"),
    ("Noor", "نور", "female"),
    ("Salma", "سلمى", "female"),
    ("Rana", "رنا", "female"),
]
FAMILY = [
    ("Abu Shamala", "أبو شمالة"),
    ("Al-Masri", "المصري"),
    ("Barhoum", "برهوم"),
    ("Abu Jazar", "أبو جزر"),
    ("Al-Astal", "الأسطل"),
    ("Qishta", "قشطة"),
    ("Al-Farra", "الفرا"),
    ("Shaath", "شعث"),
    ("Abu Taha", "أبو طه"),
    ("Al-Najjar", "النجار"),
]
CATEGORIES = ["oncology"] * 9 + ["cardiac"] * 2 + ["renal"] * 2 + ["trauma"] * 3 + ["other"]


@dataclass
class DemoResult:
    created: bool
    accounts: list[tuple[str, str, str]]


def _accounts() -> list[tuple[str, str, str]]:
    rows = [(name, role.value, password) for name, role, _, _, password in ACCOUNTS]
    return [*rows, (ADMIN[0], "admin", ADMIN[1])]


def load_demo() -> DemoResult:
    if Facility.objects.filter(code="al-amal").exists():
        return DemoResult(created=False, accounts=_accounts())
    with transaction.atomic():
        Scenario(random.Random(2026), timezone.localdate()).build()  # noqa: S311 (demo data)
    return DemoResult(created=True, accounts=_accounts())


class Scenario:
    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.today = today
        self.national_ids = iter(range(400_100_000, 500_000_000, 7919))

    def build(self) -> None:
        for name in (r.value for r in (Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.AUDITOR)):
            Group.objects.get_or_create(name=name)
        self.facilities = {
            code: facility_create(
                actor=None, code=code, name_en=en, name_ar=ar, kind=kind, governorate=gov
            )
            for code, en, ar, kind, gov in FACILITIES
        }
        for username, role, facility, language, password in ACCOUNTS:
            user_create(
                username=username,
                password=password,
                role=role,
                facility=self.facilities.get(facility),
                email=f"{username}@demo.invalid",
                preferred_language=language,
                validate=False,
            )
        self.admin = user_create(
            username=ADMIN[0],
            password=ADMIN[1],
            role=Role.ADMIN,
            email="admin@demo.invalid",
            validate=False,
        )
        self.actor = User.objects.get(username="coordinator")
        self.nurse = User.objects.get(username="nurse.amal")
        self.rafah = Crossing.objects.get(code=DEFAULT_CROSSING)
        # Evacuations also leave through Kerem Shalom, by road to an airport and on by air.
        self.kerem_shalom = crossing_create(
            actor=self.admin,
            code="kerem-shalom",
            prefix="KSH",
            name_en="Kerem Shalom",
            name_ar="كرم أبو سالم",
            opens_at=time(8, 0),
            closes_at=time(15, 0),
            note="Medical evacuations by road to an airport, then by air.",
        )
        for offset in range(-4, 8):
            day = self.today + timedelta(days=offset)
            services.quota_set(
                actor=self.admin,
                crossing=self.rafah,
                day=day,
                direction=Direction.EXIT,
                agreed_patients=50,
                agreed_companions=100,
                source="who",
            )
            services.quota_set(
                actor=self.admin,
                crossing=self.rafah,
                day=day,
                direction=Direction.RETURN,
                agreed_returnees=50,
                source="who",
            )
            services.quota_set(
                actor=self.admin,
                crossing=self.kerem_shalom,
                day=day,
                direction=Direction.EXIT,
                agreed_patients=20,
                agreed_companions=30,
                source="who",
            )
        self.patients = [self._patient(i) for i in range(60)]
        self.returnees = [self._returnee() for _ in range(64)]
        self._batches()
        self._death_while_waiting()
        self._kerem_shalom_closed()

    def _death_while_waiting(self) -> None:
        """Over a thousand died waiting (DESIGN section 1): one waiting patient of the demo."""
        waiting = Patient.objects.filter(status=PatientStatus.WAITING, lines__isnull=True)
        patient_services.patient_set_status(
            patient=waiting.order_by("pk").last(),
            status=PatientStatus.DECEASED,
            actor=self.actor,
            reason_text="Died at the referring hospital while waiting for a place.",
        )

    # --- people ---------------------------------------------------------------------------

    def _name(self, sex: str | None = None) -> tuple[str, str, str]:
        choices = [f for f in FIRST if sex is None or f[2] == sex]
        first_en, first_ar, sex = self.rng.choice(choices)
        family_en, family_ar = self.rng.choice(FAMILY)
        return f"{first_en} {family_en}", f"{first_ar} {family_ar}", sex

    def _dob(self, child: bool) -> date:
        years = self.rng.randint(1, 16) if child else self.rng.randint(19, 75)
        return self.today - timedelta(days=365 * years + self.rng.randint(0, 300))

    def _patient(self, i: int) -> Patient:
        child = i % 5 == 0  # one in five is a child
        latin, arabic, sex = self._name()
        priority = "critical" if i % 8 == 0 else ("urgent" if i % 3 == 0 else "routine")
        category = "paediatric" if child and i % 2 else self.rng.choice(CATEGORIES)
        facility = self.facilities[["al-amal", "nasser", "european-gaza", "al-aqsa"][i % 4]]
        patient = patient_services.patient_register(
            actor=self.actor,
            name_latin=latin,
            name_arabic=arabic,
            national_id=str(next(self.national_ids)),
            date_of_birth=self._dob(child),
            sex=sex,
            phone=f"+97059{self.rng.randint(1000000, 9999999)}",
            # Most agree to SMS news of their batch; a few read English.
            sms_consent=i % 3 != 1,
            contact_language="en" if i % 10 == 0 else "ar",
            facility=facility,
            priority=priority,
            clinical_category=category,
            diagnosis="Demo record: clinical summary held by the referring hospital.",
            needs_stretcher=priority == "critical",
            needs_oxygen=category == "cardiac",
            needs_wheelchair=category == "trauma",
        )
        family = latin.split(" ", 1)[1], arabic.split(" ", 1)[1]
        companions = 1 if child else self.rng.choice([0, 1, 2, 2])
        for n in range(companions):
            first_en, first_ar, csex = self.rng.choice(FIRST)
            patient_services.companion_add(
                patient=patient,
                actor=self.actor,
                name_latin=f"{first_en} {family[0]}",
                name_arabic=f"{first_ar} {family[1]}",
                national_id=str(next(self.national_ids)),
                date_of_birth=self._dob(child=False),
                sex=csex,
                relationship=("mother" if csex == "female" else "father") if child else "relative",
                is_guardian=child and n == 0,
            )
        referral = patient_services.referral_create(
            patient=patient,
            actor=self.actor,
            number=f"MOH-{self.today.year}-{i + 1:04d}",
            specialty=category,
            referring_facility=facility,
            destination_country=self.rng.choice(["Egypt", "Jordan", "United Arab Emirates"]),
            destination_hospital="",
            issued_on=self.today - timedelta(days=self.rng.randint(20, 200)),
            expires_on=self.today + timedelta(days=self.rng.randint(30, 180)),
        )
        decision = "approved" if i < 50 else ("rejected" if i < 54 else None)
        if decision:
            patient_services.referral_decide(referral=referral, status=decision, actor=self.actor)
        if i < 45:
            patient_services.readiness_update(
                patient=patient,
                actor=self.nurse,
                fit_to_travel=True,
                documents_ready=True,
                companions_present=True,
                transport_confirmed=True,
            )
        return patient

    def _returnee(self) -> Returnee:
        latin, arabic, sex = self._name()
        return patient_services.returnee_register(
            actor=self.actor,
            name_latin=latin,
            name_arabic=arabic,
            national_id=str(next(self.national_ids)),
            date_of_birth=self._dob(child=False),
            sex=sex,
            left_on=date(2024, 1, 15) + timedelta(days=self.rng.randint(0, 400)),
        )

    # --- batches --------------------------------------------------------------------------

    def _exit_batch(
        self, offset: int, patients: list[Patient], crossing: Crossing | None = None
    ) -> Batch:
        batch = services.batch_create(
            actor=self.actor,
            crossing=crossing or self.rafah,
            direction=Direction.EXIT,
            planned_date=self.today + timedelta(days=offset),
            staging_facility=self.facilities["al-amal"],
        )
        for patient in patients:
            services.batch_add_patient(
                batch=batch,
                patient=patient,
                companions=list(patient.companions.all()),
                actor=self.actor,
            )
        return batch

    def _through_vetting(self, batch: Batch, rejected: int = 0) -> Batch:
        batch = services.batch_prepare(batch=batch, actor=self.actor)
        batch = services.batch_submit(batch=batch, actor=self.actor)
        for n, line in enumerate(batch.members.filter(patient__isnull=False)):
            clearance = "rejected" if n < rejected else "approved"
            services.batch_record_clearance(
                batch=batch, member=line, clearance=clearance, actor=self.actor
            )
        for line in batch.members.filter(companion__isnull=False):
            services.batch_record_clearance(
                batch=batch, member=line, clearance="approved", actor=self.actor
            )
        return services.batch_clear(batch=batch, actor=self.actor)

    def _cross(self, batch: Batch, outcome_of) -> Batch:
        batch = services.batch_depart(batch=batch, actor=self.actor)
        lines = list(batch.members.filter(is_open=True))
        return services.batch_cross(
            batch=batch, actor=self.actor, outcomes={line.pk: outcome_of(line) for line in lines}
        )

    def _batches(self) -> None:
        ready = [
            p
            for p in Patient.objects.filter(pk__in=[p.pk for p in self.patients[:45]]).queue_order()
            if p.status == PatientStatus.WAITING
        ]
        take = iter(ready)

        def patients(n: int) -> list[Patient]:
            return [next(take) for _ in range(n)]

        # Day 1: five patients and their companions crossed; twelve returnees came back and
        # the rest of the return batch was held overnight after failing checks.
        day1 = self._through_vetting(self._exit_batch(-3, patients(5)))
        self._cross(day1, lambda line: "crossed")
        back = services.batch_create(
            actor=self.actor,
            direction=Direction.RETURN,
            planned_date=self.today - timedelta(days=3),
            staging_facility=self.facilities["al-amal"],
        )
        for returnee in self.returnees[:50]:
            services.batch_add_returnee(batch=back, returnee=returnee, actor=self.actor)
        back = services.batch_prepare(batch=back, actor=self.actor)
        back = services.batch_submit(batch=back, actor=self.actor)
        for line in back.members.all():
            services.batch_record_clearance(
                batch=back, member=line, clearance="approved", actor=self.actor
            )
        back = services.batch_clear(batch=back, actor=self.actor)
        crossed = set(list(back.members.values_list("pk", flat=True))[:12])
        self._cross(back, lambda line: "crossed" if line.pk in crossed else "held")

        # Day 2: a larger batch; one patient refused at vetting, one turned back at the gate.
        day2 = self._through_vetting(self._exit_batch(-2, patients(9)), rejected=1)
        turned = day2.members.filter(is_open=True, patient__isnull=False).first()
        self._cross(day2, lambda line: "turned_back" if line.pk == turned.pk else "crossed")

        # Day 3: cleared, teams ready, cancelled at the last minute with no reason given.
        day3 = self._through_vetting(self._exit_batch(-1, patients(6)))
        day3 = services.batch_cancel(
            batch=day3,
            actor=self.actor,
            reason_code="no_reason_given",
            reason_text="Cancelled at the last minute while teams stood ready; no reason given.",
            # The border authority decided; WHO relayed it to the Red Crescent.
            source="border_authority",
            relayed_by="who",
        )
        # What the authority said afterwards, as WHO passed it on.
        services.statement_add(
            batch=day3,
            actor=self.actor,
            source="border_authority",
            relayed_by="who",
            text="Coordination details were missing.",
            about_cancellation=True,
        )
        services.batch_reschedule(
            batch=day3, actor=self.actor, planned_date=self.today + timedelta(days=1)
        )

        # Today: the list is with the border authority; some decisions are in.
        today = self._exit_batch(0, patients(7))
        today = services.batch_prepare(batch=today, actor=self.actor)
        today = services.batch_submit(batch=today, actor=self.actor)
        for line in list(today.members.filter(patient__isnull=False))[:3]:
            services.batch_record_clearance(
                batch=today, member=line, clearance="approved", actor=self.actor
            )

        # In two days: a draft being put together.
        self._exit_batch(2, patients(4))

        # Two days ago, three patients left through Kerem Shalom for the airport.
        airport = self._through_vetting(self._exit_batch(-2, patients(3), self.kerem_shalom))
        self._cross(airport, lambda line: "crossed")

    def _kerem_shalom_closed(self) -> None:
        """Kerem Shalom closed this morning: the builder refuses it, `prepare` would say why."""
        crossing_set_state(
            crossing=self.kerem_shalom,
            state=CrossingState.CLOSED,
            actor=self.actor,
            reason_text="Closed by the authorities this morning; no date given for reopening.",
            source="border_authority",
        )
