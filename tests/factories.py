"""Test data. Factories write rows directly (setup is not what is under test); the code under
test always goes through the services."""

import datetime as dt

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from batches.models import DEFAULT_CROSSING, RAFAH, Batch, Crossing, CrossingQuota
from casetracker.accounts.models import Facility, User
from patients.models import Companion, Patient, Readiness, Referral, Returnee


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"facility-{n}")
    name_en = factory.Sequence(lambda n: f"Hospital {n}")
    name_ar = factory.Sequence(lambda n: f"مستشفى {n}")
    kind = "hospital"
    governorate = "khan_younis"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    is_staff = True
    password = factory.django.Password("correct-horse-battery-staple")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient
        skip_postgeneration_save = True

    name_latin = factory.Faker("name")
    name_arabic = "مريض تجريبي"
    national_id = factory.Sequence(lambda n: f"{400000000 + n}")
    date_of_birth = dt.date(1980, 5, 17)
    sex = "female"
    facility = factory.SubFactory(FacilityFactory)
    priority = "urgent"
    clinical_category = "oncology"
    diagnosis = "clinical detail"
    readiness = factory.RelatedFactory(
        "tests.factories.ReadinessFactory", factory_related_name="patient"
    )


class ReadinessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Readiness

    fit_to_travel = True
    documents_ready = True
    companions_present = True
    transport_confirmed = True


class CompanionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Companion

    patient = factory.SubFactory(PatientFactory)
    name_latin = factory.Faker("name")
    name_arabic = "مرافق"
    national_id = factory.Sequence(lambda n: f"{800000000 + n}")
    date_of_birth = dt.date(1975, 1, 1)
    sex = "male"
    relationship = "brother"
    is_guardian = False


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral

    patient = factory.SubFactory(PatientFactory)
    number = factory.Sequence(lambda n: f"REF-{n:05d}")
    specialty = "oncology"
    referring_facility = factory.SelfAttribute("patient.facility")
    destination_country = "Egypt"
    destination_hospital = "Al-Arish General"
    issued_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    expires_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=90))
    status = "approved"


class ReturneeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Returnee

    name_latin = factory.Faker("name")
    name_arabic = "عائد"
    national_id = factory.Sequence(lambda n: f"{900000000 + n}")
    date_of_birth = dt.date(1990, 3, 3)
    sex = "male"
    left_on = dt.date(2024, 5, 1)


def rafah() -> Crossing:
    """The default crossing (migration 0004 creates it; `batches/apps.py` after a flush)."""
    return Crossing.objects.get_or_create(code=DEFAULT_CROSSING, defaults=RAFAH)[0]


class CrossingFactory(factory.django.DjangoModelFactory):
    """Kerem Shalom by default: the second crossing, to an airport."""

    class Meta:
        model = Crossing
        django_get_or_create = ("code",)

    code = "kerem-shalom"
    prefix = "KSH"
    name_en = "Kerem Shalom"
    name_ar = "كرم أبو سالم"


class QuotaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CrossingQuota
        django_get_or_create = ("crossing", "date", "direction")

    crossing = factory.LazyFunction(rafah)
    date = factory.LazyFunction(timezone.localdate)
    direction = "exit"
    agreed_patients = 50
    # A return quota has no companions.
    agreed_companions = factory.LazyAttribute(lambda o: 100 if o.direction == "exit" else 0)


class BatchFactory(factory.django.DjangoModelFactory):
    """A draft batch. Later states are reached through the services."""

    class Meta:
        model = Batch

    code = factory.Sequence(lambda n: f"RAF-TEST-{n}")
    crossing = factory.LazyFunction(rafah)
    direction = "exit"
    planned_date = factory.LazyFunction(timezone.localdate)
    staging_facility = factory.SubFactory(FacilityFactory, kind="staging")
