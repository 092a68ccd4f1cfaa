"""Patients and their companions, the identity fields every person shares, the references
and the vocabularies of a case (sex, priority, clinical category, status)."""

import secrets
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.roles import Role, user_role
from casetracker.choices import ChoiceLabels
from casetracker.constraints import max_length_check

from ..fields import KeyedHashField, NationalIdField
from ..names import normalise_name, validate_person_name

# No 0/O, 1/I/L: references are read aloud over bad phone lines.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def new_case_reference() -> str:
    return new_reference("EV")


def new_returnee_reference() -> str:
    return new_reference("RT")


def age_on(date_of_birth: date, on: date) -> int:
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - before_birthday


class Sex(models.TextChoices):
    FEMALE = "female", _("female")
    MALE = "male", _("male")


class Priority(models.TextChoices):
    CRITICAL = "critical", _("critical")
    URGENT = "urgent", _("urgent")
    ROUTINE = "routine", _("routine")


PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.URGENT: 1, Priority.ROUTINE: 2}


class ClinicalCategory(models.TextChoices):
    ONCOLOGY = "oncology", _("oncology")
    CARDIAC = "cardiac", _("cardiac")
    RENAL = "renal", _("renal")
    TRAUMA = "trauma", _("trauma")
    PAEDIATRIC = "paediatric", _("paediatric")
    OTHER = "other", _("other")


class PatientStatus(models.TextChoices):
    WAITING = "waiting", _("waiting")
    SCHEDULED = "scheduled", _("scheduled")
    EVACUATED = "evacuated", _("evacuated")
    DECEASED = "deceased", _("deceased")
    WITHDRAWN = "withdrawn", _("withdrawn")


class PersonFields(ChoiceLabels, models.Model):
    """Identity fields shared by patients, companions and returnees."""

    name_latin = models.CharField(
        _("full name (Latin)"), max_length=200, validators=[validate_person_name]
    )
    name_arabic = models.CharField(
        _("full name (Arabic)"), max_length=200, validators=[validate_person_name]
    )
    # Encrypted in its column; the hash beside it is what searches and duplicate checks compare.
    national_id = NationalIdField(_("national ID"), db_column="national_id_encrypted")
    national_id_hash = KeyedHashField(source="national_id", db_index=True)
    date_of_birth = models.DateField(verbose_name=_("date of birth"))
    sex = models.CharField(max_length=10, choices=Sex.choices, verbose_name=_("sex"))

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # The hash follows the number, also on a save limited to some fields.
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "national_id" in update_fields:
            kwargs["update_fields"] = {*update_fields, "national_id_hash"}
        super().save(*args, **kwargs)

    def age_on(self, on: date) -> int:
        return age_on(self.date_of_birth, on)

    def clean_fields(self, exclude=None) -> None:
        # Before the validators: the stored name is the normalised one.
        for name in ("name_latin", "name_arabic"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, normalise_name(value))
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        super().clean()
        if self.date_of_birth and self.date_of_birth > timezone.localdate():
            raise ValidationError({"date_of_birth": gettext("date of birth is in the future")})


def _facility_scoped(qs, user, facility_path: str):
    role = user_role(user)
    if role in (Role.COORDINATOR, Role.AUDITOR, Role.ADMIN):
        return qs
    if role is Role.HOSPITAL_STAFF and user.facility_id:
        return qs.filter(**{facility_path: user.facility_id})
    return qs.none()


class PatientQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PatientQuerySet":
        return _facility_scoped(self, user, "facility_id")

    def queue_order(self) -> "PatientQuerySet":
        """Most urgent first; within a priority, who registered first. The expression indexes
        `patient_waiting_queue` and `patient_queue_order` are built on this very order."""
        return self.alias(priority_rank=priority_rank()).order_by(
            "priority_rank", "registered_at", "id"
        )


def priority_rank() -> models.Case:
    """0 for critical, 1 urgent, 2 routine: the queue's first sort key. The waiting queue's
    expression index is built on the same expression, so PostgreSQL reads the queue in order
    instead of sorting every waiting case."""
    return models.Case(
        *(models.When(priority=p, then=models.Value(r)) for p, r in PRIORITY_RANK.items()),
        output_field=models.IntegerField(),
    )


MOBILITY_NEEDS = (
    "needs_stretcher",
    "needs_wheelchair",
    "needs_oxygen",
    "needs_incubator",
    "needs_escort_nurse",
)


class Patient(PersonFields):
    case_reference = models.CharField(
        max_length=12,
        unique=True,
        default=new_case_reference,
        editable=False,
        verbose_name=_("case reference"),
    )
    phone = models.CharField(max_length=20, blank=True, verbose_name=_("phone"))
    sms_consent = models.BooleanField(
        default=False,
        verbose_name=_("agrees to SMS"),
        help_text=_("The patient agreed to receive batch news by SMS on this phone."),
    )
    contact_language = models.CharField(
        max_length=5,
        choices=settings.LANGUAGES,
        default="ar",
        verbose_name=_("language for SMS"),
    )
    facility = models.ForeignKey(
        "accounts.Facility",
        on_delete=models.PROTECT,
        related_name="patients",
        verbose_name=_("facility"),
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, verbose_name=_("priority"))
    clinical_category = models.CharField(
        max_length=12, choices=ClinicalCategory.choices, verbose_name=_("clinical category")
    )
    diagnosis = models.TextField(_("diagnosis (clinical detail)"), max_length=4000, blank=True)
    needs_stretcher = models.BooleanField(default=False, verbose_name=_("needs stretcher"))
    needs_wheelchair = models.BooleanField(default=False, verbose_name=_("needs wheelchair"))
    needs_oxygen = models.BooleanField(default=False, verbose_name=_("needs oxygen"))
    needs_incubator = models.BooleanField(default=False, verbose_name=_("needs incubator"))
    needs_escort_nurse = models.BooleanField(default=False, verbose_name=_("needs escort nurse"))
    status = models.CharField(
        max_length=10,
        choices=PatientStatus.choices,
        default=PatientStatus.WAITING,
        verbose_name=_("status"),
    )
    registered_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("registered at")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = PatientQuerySet.as_manager()

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["registered_at", "id"]
        indexes = [
            models.Index(
                priority_rank(),
                "registered_at",
                "id",
                name="patient_waiting_queue",
                condition=Q(status="waiting"),
            ),
            # The same order over every case: the API's patient list, unfiltered or filtered
            # by anything but the waiting status, reads its pages in order instead of sorting
            # every case for each.
            models.Index(priority_rank(), "registered_at", "id", name="patient_queue_order"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PatientStatus.values), name="patient_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="patient_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(clinical_category__in=ClinicalCategory.values),
                name="patient_category_valid",
            ),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
            max_length_check("diagnosis", 4000, name="patient_diagnosis_length"),
        ]

    def __str__(self) -> str:
        return self.case_reference

    def clean(self) -> None:
        super().clean()
        if self.sms_consent and not self.phone.strip():
            raise ValidationError({"phone": gettext("a phone number is needed to send SMS")})

    def is_child_on(self, on: date) -> bool:
        return age_on(self.date_of_birth, on) < settings.ADULT_AGE

    def mobility_needs(self) -> list[str]:
        """The transport needs set on the case, as their translated labels."""
        return [
            str(self._meta.get_field(name).verbose_name)
            for name in MOBILITY_NEEDS
            if getattr(self, name)
        ]


class CompanionQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CompanionQuerySet":
        return _facility_scoped(self, user, "patient__facility_id")


class Companion(PersonFields):
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="companions", verbose_name=_("patient")
    )
    relationship = models.CharField(max_length=50, verbose_name=_("relationship"))
    is_guardian = models.BooleanField(default=False, verbose_name=_("is guardian"))
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )

    objects = CompanionQuerySet.as_manager()

    class Meta:
        verbose_name = _("companion")
        verbose_name_plural = _("companions")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="companion_sex_valid"),
        ]

    def __str__(self) -> str:
        return f"companion #{self.pk} of {self.patient.case_reference}"

    def is_adult_on(self, on: date) -> bool:
        return age_on(self.date_of_birth, on) >= settings.ADULT_AGE

    def clean(self) -> None:
        super().clean()
        if self.is_guardian and self.date_of_birth and not self.is_adult_on(timezone.localdate()):
            raise ValidationError({"is_guardian": gettext("a guardian must be an adult")})
