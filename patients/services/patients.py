"""Registering and changing a case, moving it between statuses, its companions, and a whole
case registered at once with its companions and referral."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casetracker.audit.models import Action
from casetracker.audit.services import record_event
from casetracker.errors import TransitionRefused, check_transition

from ..models import Companion, Patient, PatientStatus, Readiness, new_case_reference
from ..occurred import person_occurred_at, registration_occurred_at
from ..states import PATIENT_TRANSITIONS
from .checks import clean_new
from .common import _assign, _patient_event, patient_event_fields
from .duplicates import _refuse_duplicate
from .referrals import referral_create

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


@transaction.atomic
def patient_register(*, actor, occurred_at: datetime | None = None, **data: Any) -> Patient:
    """Register a case. It joins the waiting queue at the time of registration: `occurred_at`,
    when the person really registered (default now; not in the future, nor more than
    `REGISTRATION_BACKDATE_DAYS` before now), which is the case's `registered_at` and so its
    place in the queue."""
    patient = new_patient(occurred_at=occurred_at, **data)
    _refuse_duplicate(patient, actor=actor)
    patient.save()
    Readiness.objects.create(patient=patient, updated_by=actor)
    record_event(**registered_event(patient, actor=actor))
    return patient


def new_patient(
    *, occurred_at: datetime | None = None, batched: bool = False, **data: Any
) -> Patient:
    """A case to register, checked as `patient_register` checks it but for its national ID
    (held by no open case: checked under its lock, `duplicates`). `batched`:
    `checks.clean_new`, for the bulk registration."""
    occurred_at = registration_occurred_at(occurred_at)
    patient = Patient()
    if occurred_at is not None:
        patient.registered_at = occurred_at
    _assign(patient, data, PATIENT_EDITABLE)
    if not batched:  # the bulk registration draws them for all its cases at once
        draw_free_references([patient])
    clean_new(patient, batched=batched)
    return patient


def draw_free_references(patients: list[Patient]) -> None:
    """Give each new case a reference no other case holds. References are drawn at random
    (`new_case_reference`, about 887 million of them): one already held is rare for one case
    but likely among thousands (an import of 20,000 cases met one about every third time), and
    refusing the registration for a value nobody typed makes no sense: it is drawn again."""
    given: set[str] = set()
    pending = list(patients)
    while pending:
        wanted = {patient.case_reference for patient in pending}
        held = set(
            Patient.objects.filter(case_reference__in=wanted).values_list(
                "case_reference", flat=True
            )
        )
        again = []
        for patient in pending:
            if patient.case_reference in held or patient.case_reference in given:
                patient.case_reference = new_case_reference()
                again.append(patient)
            else:
                given.add(patient.case_reference)
        pending = again


def registered_event(patient: Patient, *, actor) -> dict[str, Any]:
    return patient_event_fields(
        patient,
        action=Action.REGISTER,
        actor=actor,
        to_state=patient.status,
        details={"priority": patient.priority, "category": patient.clinical_category},
        occurred_at=patient.registered_at,
    )


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
    return patients_move(moves=[(patient, to)])[0]


def patients_move(*, moves: Iterable[tuple[Patient, str]]) -> list[str]:
    """Move locked patients, each to its target, along the declared transitions; returns their
    old statuses in order. Called by the batch services inside their transaction.

    Every move is checked before anything is written, then one UPDATE for them all (a CASE on
    the id, `bulk_update`): a save each was a round trip each (50 for a cancelled batch of 50
    patients)."""
    old: list[str] = []
    moved: list[Patient] = []
    now = timezone.now()
    for patient, to in moves:
        what = _("patient %(ref)s") % {"ref": patient.case_reference}
        check_transition(PATIENT_TRANSITIONS, patient.status, to, what)
        old.append(patient.status)
        patient.status = to
        # `bulk_update` skips `auto_now`: set it as `save` did.
        patient.updated_at = now
        moved.append(patient)
    Patient.objects.bulk_update(moved, ["status", "updated_at"])
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
    companion = new_companion(patient=patient, **data)
    companion.save()
    record_event(**companion_added_event(companion, actor=actor))
    return companion


def new_companion(*, patient: Patient, batched: bool = False, **data: Any) -> Companion:
    """A companion of `patient` to register, checked as `companion_add` checks it (`batched`:
    `checks.clean_new`, for the bulk registration)."""
    companion = Companion(patient=patient)
    _assign(companion, data, COMPANION_EDITABLE)
    clean_new(companion, batched=batched, parent="patient")
    return companion


def companion_added_event(companion: Companion, *, actor) -> dict[str, Any]:
    return patient_event_fields(
        companion.patient,
        action=Action.COMPANION_ADD,
        actor=actor,
        details={"companion": companion.pk, "guardian": companion.is_guardian},
    )


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
