"""Patients with their companions and referral, and returnees: model instances with their ids
set, written later by COPY, and the events of their registration, as the services record them
(`patient_register_with_family`, `referral_decide`, `returnee_register`)."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random

from django.utils import timezone

from batches.demo import CATEGORIES, FAMILY, FIRST
from casetracker.audit.models import Action, SubjectType
from patients.models import (
    PRIORITY_RANK,
    REFERENCE_ALPHABET,
    Companion,
    Patient,
    PatientStatus,
    Referral,
    ReferralStatus,
    Returnee,
    ReturneeStatus,
)

from .chain import EventStream
from .copy import Ids
from .setup import Setting

# Registrations begin this long before the first batch of the history.
LEAD_IN = timedelta(days=90)
DIAGNOSES = {
    "oncology": "Lymphoma, chemotherapy interrupted; needs radiotherapy not available locally.",
    "cardiac": "Congenital heart defect; surgery required abroad.",
    "renal": "End-stage renal failure on intermittent dialysis.",
    "trauma": "Blast injury, open fractures; reconstructive surgery required.",
    "paediatric": "Leukaemia in a child; protocol cannot continue locally.",
    "other": "Clinical summary held by the referring hospital.",
}
RELATIVES = ["wife", "husband", "son", "daughter", "brother", "sister", "mother", "father"]
DESTINATIONS = [("Egypt", 6), ("Jordan", 2), ("United Arab Emirates", 2), ("Türkiye", 1)]
REFERRAL_STATUS = [("approved", 85), ("pending", 7), ("rejected", 4), ("expired", 4)]
# Companions a patient registers, by share: 152,000 for 100,000 patients.
COMPANIONS_PER_PATIENT = [(0, 10), (1, 30), (2, 58), (3, 2)]


@dataclass
class People:
    patients: list[Patient]
    # Each patient's companions, a child's guardian first.
    companions: dict[int, list[Companion]]
    referrals: list[Referral]
    # When each patient with an approved referral could first be put on a batch.
    approved_at: dict[int, datetime]
    returnees: list[Returnee]
    # The coordinator and time of each registration, for the steps that follow it.
    registered_by: dict[int, object] = field(default_factory=dict)


class PeopleMaker:
    def __init__(self, rng: Random, ids: Ids, setting: Setting, stream: EventStream):
        self.rng, self.ids, self.setting, self.stream = rng, ids, setting, stream
        self.references: set[str] = set()

    def reference(self, prefix: str) -> str:
        while True:
            ref = prefix + "-" + "".join(self.rng.choices(REFERENCE_ALPHABET, k=6))
            if ref not in self.references:
                self.references.add(ref)
                return ref

    def name(self, sex: str | None = None, family: tuple[str, str] | None = None):
        first_en, first_ar, sex = self.rng.choice([f for f in FIRST if sex in (None, f[2])])
        father_en, father_ar, _male = self.rng.choice([f for f in FIRST if f[2] == "male"])
        family_en, family_ar = family or self.rng.choice(FAMILY)
        return f"{first_en} {father_en} {family_en}", f"{first_ar} {father_ar} {family_ar}", sex

    def born(self, today: date, low: int, high: int) -> date:
        return today - timedelta(days=365 * self.rng.randint(low, high) + self.rng.randint(0, 360))

    def phone(self) -> str:
        return f"+97059{self.rng.randint(0, 9_999_999):07d}"

    def spread(self, count: int, start: datetime, end: datetime) -> list[datetime]:
        """`count` times from `start` to `end`, in order, a little apart at random."""
        span = end - start
        return [start + span * ((i + self.rng.random()) / count) for i in range(count)]

    def weighted(self, pairs):
        return self.rng.choices([v for v, _w in pairs], weights=[w for _v, w in pairs])[0]


def make_people(maker: PeopleMaker, figures, start: datetime, now: datetime) -> People:
    today = timezone.localdate(now)
    people = People([], {}, [], {}, [])
    counts = _companion_counts(maker, figures.patients, figures.companions)
    hospitals = maker.setting.hospitals
    times = maker.spread(figures.patients, start - LEAD_IN, now - timedelta(hours=2))
    for registered_at, companions in zip(times, counts, strict=True):
        coordinator = maker.rng.choice(maker.setting.coordinators)
        patient = _patient(maker, registered_at, today, hospitals)
        if companions and maker.rng.random() < 0.22:
            patient.date_of_birth = maker.born(today, 1, 16)
            patient.clinical_category = "paediatric"
            patient.diagnosis = DIAGNOSES["paediatric"]
        people.patients.append(patient)
        people.registered_by[patient.pk] = coordinator
        maker.stream.add(
            registered_at + timedelta(seconds=1),
            actor=coordinator,
            occurred_at=registered_at,
            subject_type=SubjectType.PATIENT,
            subject_ref=patient.case_reference,
            subject_facility_id=patient.facility_id,
            action=Action.REGISTER,
            to_state=PatientStatus.WAITING,
            details={"priority": patient.priority, "category": patient.clinical_category},
        )
        people.companions[patient.pk] = [
            _companion(maker, patient, number, today, coordinator) for number in range(companions)
        ]
        referral, approved_at = _referral(maker, patient, coordinator, today, now)
        people.referrals.append(referral)
        if approved_at is not None:
            people.approved_at[patient.pk] = approved_at
    times = maker.spread(figures.returnees, start - LEAD_IN, now - timedelta(hours=2))
    people.returnees = [_returnee(maker, registered_at, today) for registered_at in times]
    return people


def _companion_counts(maker: PeopleMaker, patients: int, companions: int) -> list[int]:
    """How many companions each patient registers, adding up to `companions`."""
    counts = [maker.weighted(COMPANIONS_PER_PATIENT) for _ in range(patients)]
    while (total := sum(counts)) != companions:
        i = maker.rng.randrange(patients)
        if total > companions and counts[i] > 1:
            counts[i] -= 1
        elif total < companions and counts[i] < 3:
            counts[i] += 1
    return counts


def _patient(maker: PeopleMaker, registered_at, today, hospitals) -> Patient:
    rng = maker.rng
    pk = maker.ids.take(Patient)
    latin, arabic, sex = maker.name()
    category = rng.choice(CATEGORIES)
    phone = maker.phone() if rng.random() < 0.6 else ""
    needs = {
        "needs_stretcher": rng.random() < 0.12,
        "needs_wheelchair": rng.random() < 0.2,
        "needs_oxygen": rng.random() < 0.08,
        "needs_incubator": False,
        "needs_escort_nurse": rng.random() < 0.05,
    }
    return Patient(
        id=pk,
        case_reference=maker.reference("EV"),
        name_latin=latin,
        name_arabic=arabic,
        national_id=str(400_000_000 + (pk * 7919) % 99_000_000),
        date_of_birth=maker.born(today, 18, 80),
        sex=sex,
        phone=phone,
        sms_consent=bool(phone) and rng.random() < 0.5,
        contact_language="ar" if rng.random() < 0.9 else "en",
        facility=rng.choice(hospitals),
        priority=maker.weighted([("critical", 5), ("urgent", 30), ("routine", 65)]),
        clinical_category=category,
        diagnosis=DIAGNOSES[category],
        status=PatientStatus.WAITING,
        registered_at=registered_at,
        **needs,
    )


def _companion(maker: PeopleMaker, patient: Patient, number: int, today, coordinator):
    family = tuple(part.split(" ", 2)[2] for part in (patient.name_latin, patient.name_arabic))
    child = patient.date_of_birth > today - timedelta(days=365 * 18)
    latin, arabic, sex = maker.name(family=family)
    guardian = child and number == 0
    relationship = ("mother" if sex == "female" else "father") if guardian else ""
    pk = maker.ids.take(Companion)
    companion = Companion(
        id=pk,
        patient=patient,
        name_latin=latin,
        name_arabic=arabic,
        national_id=str(500_000_000 + (pk * 7919) % 99_000_000),
        date_of_birth=maker.born(today, 20, 65),
        sex=sex,
        relationship=relationship or maker.rng.choice(RELATIVES),
        is_guardian=guardian,
        created_at=patient.registered_at + timedelta(seconds=2 + number),
    )
    maker.stream.add(
        companion.created_at,
        actor=coordinator,
        subject_type=SubjectType.PATIENT,
        subject_ref=patient.case_reference,
        subject_facility_id=patient.facility_id,
        action=Action.COMPANION_ADD,
        details={"companion": companion.pk, "guardian": guardian},
    )
    return companion


def _referral(maker: PeopleMaker, patient: Patient, coordinator, today, now):
    """The case's referral, created with it, and when it was approved (None: never)."""
    rng = maker.rng
    status = maker.weighted(REFERRAL_STATUS)
    issued = patient.registered_at.date() - timedelta(days=rng.randint(0, 20))
    expires = today + timedelta(days=rng.randint(60, 720))
    if status == ReferralStatus.EXPIRED:
        expires = min(issued + timedelta(days=rng.randint(90, 360)), today - timedelta(days=1))
        expires = max(expires, issued)
    pk = maker.ids.take(Referral)
    referral = Referral(
        id=pk,
        patient=patient,
        number=f"MOH-{issued.year}-{pk:07d}",
        specialty=patient.clinical_category,
        referring_facility_id=patient.facility_id,
        destination_country=maker.weighted(DESTINATIONS),
        issued_on=issued,
        expires_on=expires,
        status=status,
        created_at=patient.registered_at + timedelta(seconds=5),
    )
    event = {
        "subject_type": SubjectType.REFERRAL,
        "subject_ref": patient.case_reference,
        "subject_facility_id": patient.facility_id,
        "details": {"referral_id": pk},
    }
    maker.stream.add(
        referral.created_at,
        actor=coordinator,
        action=Action.CREATE,
        to_state=ReferralStatus.PENDING,
        **event,
    )
    if status == ReferralStatus.PENDING:
        return referral, None
    decided = min(patient.registered_at + timedelta(days=rng.uniform(0.5, 10)), now)
    decision = ReferralStatus.REJECTED if status == "rejected" else ReferralStatus.APPROVED
    steps = [(decided, ReferralStatus.PENDING, decision)]
    if status == ReferralStatus.EXPIRED:
        lapsed = datetime.combine(expires, datetime.min.time(), tzinfo=decided.tzinfo)
        steps.append((max(lapsed, decided), ReferralStatus.APPROVED, ReferralStatus.EXPIRED))
    for at, old, new in steps:
        maker.stream.add(
            at,
            actor=coordinator,
            action=Action.REFERRAL_DECISION,
            from_state=old,
            to_state=new,
            **event,
        )
    return referral, (decided if status == ReferralStatus.APPROVED else None)


def _returnee(maker: PeopleMaker, registered_at: datetime, today: date) -> Returnee:
    rng = maker.rng
    latin, arabic, sex = maker.name()
    pk = maker.ids.take(Returnee)
    left = date(2023, 10, 7) + timedelta(days=rng.randint(0, 300))
    returnee = Returnee(
        id=pk,
        reference=maker.reference("RT"),
        name_latin=latin,
        name_arabic=arabic,
        national_id=str(600_000_000 + (pk * 7919) % 99_000_000),
        date_of_birth=maker.born(today, 2, 75) if rng.random() < 0.1 else maker.born(today, 18, 75),
        sex=sex,
        phone=maker.phone() if rng.random() < 0.5 else "",
        left_on=max(date(2023, 10, 7), min(left, registered_at.date())),
        status=ReturneeStatus.WAITING,
        registered_at=registered_at,
    )
    maker.stream.add(
        registered_at + timedelta(seconds=1),
        actor=rng.choice(maker.setting.coordinators),
        occurred_at=registered_at,
        subject_type=SubjectType.RETURNEE,
        subject_ref=returnee.reference,
        action=Action.REGISTER,
        to_state=ReturneeStatus.WAITING,
    )
    return returnee


def queue_key(patient: Patient) -> tuple:
    """The waiting queue's order: most urgent first, then who registered first."""
    return (PRIORITY_RANK[patient.priority], patient.registered_at, patient.pk)
