"""Every write on patients, companions, referrals, readiness and returnees.

Each function runs in one transaction, locks the rows it changes and writes its audit event.
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casetracker import crypto
from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event
from casetracker.errors import TransitionRefused, check_transition

from .fields import normalise_national_id
from .models import (
    READINESS_FLAGS,
    Companion,
    Patient,
    PatientStatus,
    Readiness,
    ReadinessChange,
    Referral,
    ReferralStatus,
    Returnee,
    ReturneeStatus,
)
from .occurred import person_occurred_at, registration_occurred_at
from .states import PATIENT_TRANSITIONS, RETURNEE_TRANSITIONS

PATIENT_EDITABLE = (
    "name_latin",
    "name_arabic",
    "national_id",
    "date_of_birth",
    "sex",
    "phone",
    "sms_consent",
    "contact_language",
    "facility",
    "priority",
    "clinical_category",
    "diagnosis",
    "needs_stretcher",
    "needs_wheelchair",
    "needs_oxygen",
    "needs_incubator",
    "needs_escort_nurse",
)
COMPANION_EDITABLE = (
    "name_latin",
    "name_arabic",
    "national_id",
    "date_of_birth",
    "sex",
    "relationship",
    "is_guardian",
)
REFERRAL_EDITABLE = (
    "number",
    "specialty",
    "referring_facility",
    "destination_country",
    "destination_hospital",
    "issued_on",
    "expires_on",
)
RETURNEE_EDITABLE = (
    "name_latin",
    "name_arabic",
    "national_id",
    "date_of_birth",
    "sex",
    "phone",
    "left_on",
)


def _patient_event(patient: Patient, *, action: Action, actor, **fields) -> None:
    """Events about a case are filed under its reference and its facility."""
    record_event(
        subject_type=fields.pop("subject_type", SubjectType.PATIENT),
        subject_ref=patient.case_reference,
        subject_facility_id=patient.facility_id,
        action=action,
        actor=actor,
        **fields,
    )


def _assign(instance, data: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    """Set the given fields; returns the names (never the values) of those that changed."""
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(
            {name: _("this field cannot be set here") for name in sorted(unknown)}
        )
    if isinstance(data.get("national_id"), str):
        # "٤٠٠ ١٢٣" typed again for a stored "400123" is no change.
        data = {**data, "national_id": normalise_national_id(data["national_id"])}
    # getattr with a default: an unset foreign key raises an AttributeError on a new row.
    changed = sorted(name for name, value in data.items() if getattr(instance, name, None) != value)
    for name, value in data.items():
        setattr(instance, name, value)
    return changed


# --- Duplicates -----------------------------------------------------------------------------

OPEN_PATIENT_STATUSES = (PatientStatus.WAITING, PatientStatus.SCHEDULED)
OPEN_RETURNEE_STATUSES = (ReturneeStatus.WAITING, ReturneeStatus.SCHEDULED)


def _lock_national_id(number: str) -> None:
    """Serialise registrations of one number until commit, so two at once cannot both pass the
    duplicate check. SQLite needs nothing: its write transactions already run one at a time."""
    if connection.vendor == "postgresql":
        key = int(crypto.keyed_hash(number)[:15], 16)  # fits a bigint
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def refuse_duplicate_national_id(
    model: type[Patient] | type[Returnee], *, national_id: str, actor, exclude_pk: int | None = None
) -> None:
    """Refuse a number already held by an open patient (an evacuated, deceased or withdrawn case
    is closed: the person may be registered again) or an open returnee. The other record's
    reference is named only to someone allowed to see it. The admin form calls it too, to show
    the error beside the field before the service runs."""
    if model is Patient:
        statuses, reference = OPEN_PATIENT_STATUSES, "case_reference"
        message = _("a patient with this national ID is already registered")
    else:
        statuses, reference = OPEN_RETURNEE_STATUSES, "reference"
        message = _("a returnee with this national ID is already registered")
    hashes = crypto.lookup_hashes(normalise_national_id(national_id))
    others = model.objects.filter(status__in=statuses, national_id_hash__in=hashes)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    other = others.order_by("pk").first()
    if other is None:
        return
    if model.objects.visible_to(actor).filter(pk=other.pk).exists():
        message = f"{message} ({getattr(other, reference)})"
    raise ValidationError({"national_id": message}, code="duplicate")


def _refuse_duplicate(person: Patient | Returnee, *, actor) -> None:
    _lock_national_id(person.national_id)
    refuse_duplicate_national_id(
        type(person), national_id=person.national_id, actor=actor, exclude_pk=person.pk
    )


# --- Patients -------------------------------------------------------------------------------


@transaction.atomic
def patient_register(*, actor, occurred_at: datetime | None = None, **data: Any) -> Patient:
    """Register a case. It joins the waiting queue at the time of registration: `occurred_at`,
    when the person really registered (default now; not in the future, nor more than
    `REGISTRATION_BACKDATE_DAYS` before now), which is the case's `registered_at` and so its
    place in the queue."""
    occurred_at = registration_occurred_at(occurred_at)
    patient = Patient()
    if occurred_at is not None:
        patient.registered_at = occurred_at
    _assign(patient, data, PATIENT_EDITABLE)
    patient.full_clean()
    _refuse_duplicate(patient, actor=actor)
    patient.save()
    Readiness.objects.create(patient=patient, updated_by=actor)
    _patient_event(
        patient,
        action=Action.REGISTER,
        actor=actor,
        to_state=patient.status,
        details={"priority": patient.priority, "category": patient.clinical_category},
        occurred_at=patient.registered_at,
    )
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, actor, **data: Any) -> Patient:
    """Change a case's details (not its status: that moves only through batches or
    `patient_set_status`)."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    changed = _assign(patient, data, PATIENT_EDITABLE)
    patient.full_clean()
    if not changed:
        return patient
    if "national_id" in changed:
        _refuse_duplicate(patient, actor=actor)
    patient.save()
    # A priority or facility change moves the case in the queue or to other staff: keep a trace.
    _patient_event(patient, action=Action.UPDATE, actor=actor, details={"fields": changed})
    return patient


def patient_move(*, patient: Patient, to: str) -> str:
    """Move a locked patient along the declared transitions; returns the old status.
    Called by the batch services inside their transaction."""
    what = _("patient %(ref)s") % {"ref": patient.case_reference}
    check_transition(PATIENT_TRANSITIONS, patient.status, to, what)
    old = patient.status
    patient.status = to
    patient.save(update_fields=["status", "updated_at"])
    return old


@transaction.atomic
def patient_set_status(
    *,
    patient: Patient,
    status: str,
    actor,
    reason_text: str = "",
    occurred_at: datetime | None = None,
) -> Patient:
    """Record a death or a withdrawal of a waiting patient. `occurred_at` is when it happened
    (default now), refused in the future and before the latest step of the patient's record:
    their registration, or the batch step that last sent them back to the queue
    (`occurred.latest_step`)."""
    if status not in (PatientStatus.DECEASED, PatientStatus.WITHDRAWN):
        raise ValidationError({"status": _("only deceased or withdrawn can be recorded directly")})
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.status == PatientStatus.SCHEDULED:
        raise TransitionRefused(
            _("patient %(ref)s is in an open batch: remove them from it first")
            % {"ref": patient.case_reference}
        )
    occurred_at = person_occurred_at(patient, occurred_at)
    old = patient_move(patient=patient, to=status)
    _patient_event(
        patient,
        action=Action.STATUS_CHANGE,
        actor=actor,
        from_state=old,
        to_state=status,
        reason_text=reason_text,
        occurred_at=occurred_at,
    )
    return patient


# --- Companions -----------------------------------------------------------------------------


@transaction.atomic
def companion_add(*, patient: Patient, actor, **data: Any) -> Companion:
    """Register a companion of a patient. A national ID already used by another companion is
    accepted: one relative may accompany two patients (a mother with two sick children, in the
    same batch), or accompany again after coming back; the hash still lets a search find them."""
    companion = Companion(patient=patient)
    _assign(companion, data, COMPANION_EDITABLE)
    companion.full_clean()
    companion.save()
    _patient_event(
        patient,
        action=Action.COMPANION_ADD,
        actor=actor,
        details={"companion": companion.pk, "guardian": companion.is_guardian},
    )
    return companion


@transaction.atomic
def companion_update(*, companion: Companion, actor, **data: Any) -> Companion:
    companion = Companion.objects.select_for_update().get(pk=companion.pk)
    changed = _assign(companion, data, COMPANION_EDITABLE)
    companion.full_clean()
    if not changed:
        return companion
    companion.save()
    _patient_event(
        companion.patient,
        action=Action.UPDATE,
        actor=actor,
        details={"companion": companion.pk, "fields": changed},
    )
    return companion


# --- A whole case at once -------------------------------------------------------------------


class RegistrationRefused(ValidationError):
    """A registration of a case refused in one or more of its parts. `parts` lists
    `(part, index, error)`: part is "patient", "companion" (index: its place in the list given)
    or "referral"; error is the `ValidationError` of that part, with its fields' messages.
    As a plain `ValidationError` its fields read `companions.1.date_of_birth`."""

    def __init__(self, parts: list[tuple[str, int | None, ValidationError]]):
        self.parts = parts
        flat: dict[str, list] = {}
        for part, index, error in parts:
            prefix = f"companions.{index}" if part == "companion" else part
            for name, messages in error.message_dict.items():
                flat.setdefault(f"{prefix}.{name}", []).extend(messages)
        super().__init__(flat)


def _error_of(exc: ValidationError) -> ValidationError:
    # A message without a field (full_clean's own, or a plain ValidationError) goes on the form.
    return exc if hasattr(exc, "error_dict") else ValidationError({"__all__": exc.messages})


@transaction.atomic
def patient_register_with_family(
    *,
    actor,
    patient: dict[str, Any],
    companions: list[dict[str, Any]],
    referral: dict | None,
    occurred_at: datetime | None = None,
) -> Patient:
    """Register a case with its companions and its referral, all or nothing: a companion or a
    referral refused leaves no patient behind. Each part goes through its own service
    (`patient_register`, `companion_add`, `referral_create`), so the events are theirs.
    Every part is checked before giving up, so the user sees every mistake at once; the error
    is a `RegistrationRefused` naming the part of each message. `occurred_at`: when the case
    registered (its place in the queue), as `patient_register`."""
    try:
        case = patient_register(actor=actor, occurred_at=occurred_at, **patient)
    except ValidationError as exc:
        raise RegistrationRefused([("patient", None, _error_of(exc))]) from exc
    refused: list[tuple[str, int | None, ValidationError]] = []
    # Each service call is its own savepoint: a refused part is undone alone, the others are
    # checked, and the whole transaction is rolled back below if anything was refused.
    for index, data in enumerate(companions):
        try:
            companion_add(patient=case, actor=actor, **data)
        except ValidationError as exc:
            refused.append(("companion", index, _error_of(exc)))
    if referral is not None:
        try:
            referral_create(patient=case, actor=actor, **referral)
        except ValidationError as exc:
            refused.append(("referral", None, _error_of(exc)))
    if refused:
        raise RegistrationRefused(refused)
    return case


# --- Referrals ------------------------------------------------------------------------------


@transaction.atomic
def referral_create(*, patient: Patient, actor, **data: Any) -> Referral:
    referral = Referral(patient=patient)
    _assign(referral, data, REFERRAL_EDITABLE)
    referral.full_clean()
    referral.save()
    _patient_event(
        patient,
        subject_type=SubjectType.REFERRAL,
        action=Action.CREATE,
        actor=actor,
        to_state=referral.status,
        details={"referral_id": referral.pk},
    )
    return referral


REFERRAL_DECISIONS = {
    ReferralStatus.PENDING: {ReferralStatus.APPROVED, ReferralStatus.REJECTED},
    ReferralStatus.APPROVED: {ReferralStatus.EXPIRED},
    ReferralStatus.REJECTED: set(),
    ReferralStatus.EXPIRED: set(),
}


@transaction.atomic
def referral_decide(*, referral: Referral, status: str, actor) -> Referral:
    """Record the decision on a referral (approved, rejected, or expired)."""
    if status not in ReferralStatus.values:
        raise ValidationError(
            {"status": _("unknown referral status %(status)r") % {"status": status}}
        )
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("patient")
        .get(pk=referral.pk)
    )
    what = _("referral %(number)s") % {"number": referral.number}
    check_transition(REFERRAL_DECISIONS, referral.status, status, what)
    old, referral.status = referral.status, status
    referral.save(update_fields=["status"])
    _patient_event(
        referral.patient,
        subject_type=SubjectType.REFERRAL,
        action=Action.REFERRAL_DECISION,
        actor=actor,
        from_state=old,
        to_state=status,
        details={"referral_id": referral.pk},
    )
    return referral


# --- Readiness ------------------------------------------------------------------------------


@transaction.atomic
def readiness_update(*, patient: Patient, actor, **changes: Any) -> Readiness:
    """Record what the facility reports; the old and new values go to the history."""
    allowed = (*READINESS_FLAGS, "note")
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError({name: _("not a readiness field") for name in sorted(unknown)})
    readiness, _created = Readiness.objects.select_for_update().get_or_create(patient=patient)
    old = readiness.snapshot()
    for name, value in changes.items():
        setattr(readiness, name, value)
    readiness.full_clean(exclude=["patient", "updated_by"])
    new = readiness.snapshot()
    if new == old:
        return readiness
    readiness.updated_by = actor
    readiness.updated_at = timezone.now()
    readiness.save()
    ReadinessChange.objects.create(
        patient=patient, changed_by=actor, changed_at=readiness.updated_at, old=old, new=new
    )
    _patient_event(
        patient,
        action=Action.READINESS_UPDATE,
        actor=actor,
        # Flags only: the free-text note may hold clinical detail.
        details={k: new[k] for k in READINESS_FLAGS if new[k] != old[k]},
    )
    return readiness


# --- Returnees ------------------------------------------------------------------------------


@transaction.atomic
def returnee_register(*, actor, occurred_at: datetime | None = None, **data: Any) -> Returnee:
    """Register a person to come back. Only people who left after the war began may return.
    `occurred_at`, when they registered (default now; checked as for `patient_register`), is
    their `registered_at`."""
    occurred_at = registration_occurred_at(occurred_at)
    returnee = Returnee()
    if occurred_at is not None:
        returnee.registered_at = occurred_at
    _assign(returnee, data, RETURNEE_EDITABLE)
    returnee.full_clean()
    _refuse_duplicate(returnee, actor=actor)
    returnee.save()
    record_event(
        subject_type=SubjectType.RETURNEE,
        subject_ref=returnee.reference,
        action=Action.REGISTER,
        to_state=returnee.status,
        actor=actor,
        occurred_at=returnee.registered_at,
    )
    return returnee


def returnee_move(*, returnee: Returnee, to: str) -> str:
    what = _("returnee %(ref)s") % {"ref": returnee.reference}
    check_transition(RETURNEE_TRANSITIONS, returnee.status, to, what)
    old = returnee.status
    returnee.status = to
    returnee.save(update_fields=["status"])
    return old


@transaction.atomic
def returnee_withdraw(
    *, returnee: Returnee, actor, reason_text: str = "", occurred_at: datetime | None = None
) -> Returnee:
    """Record that a waiting returnee no longer wants to come back; `occurred_at` as
    `patient_set_status`."""
    returnee = Returnee.objects.select_for_update().get(pk=returnee.pk)
    if returnee.status == ReturneeStatus.SCHEDULED:
        raise TransitionRefused(
            _("returnee %(ref)s is in an open batch: remove them from it first")
            % {"ref": returnee.reference}
        )
    occurred_at = person_occurred_at(returnee, occurred_at)
    old = returnee_move(returnee=returnee, to=ReturneeStatus.WITHDRAWN)
    record_event(
        subject_type=SubjectType.RETURNEE,
        subject_ref=returnee.reference,
        action=Action.STATUS_CHANGE,
        from_state=old,
        to_state=returnee.status,
        actor=actor,
        reason_text=reason_text,
        occurred_at=occurred_at,
    )
    return returnee
