"""Every write on patients, companions, referrals, readiness and returnees.

Each function runs in one transaction, locks the rows it changes and writes its audit event."""

from .bulk import CaseData, patients_register_bulk
from .duplicates import (
    OPEN_PATIENT_STATUSES,
    OPEN_RETURNEE_STATUSES,
    open_holders,
    refuse_duplicate_national_id,
)
from .patients import (
    COMPANION_EDITABLE,
    PATIENT_EDITABLE,
    RegistrationRefused,
    companion_add,
    companion_update,
    patient_move,
    patient_register,
    patient_register_with_family,
    patient_set_status,
    patient_update,
    patients_move,
)
from .readiness import readiness_update
from .referrals import REFERRAL_DECISIONS, REFERRAL_EDITABLE, referral_create, referral_decide
from .returnees import RETURNEE_EDITABLE, returnee_move, returnee_register, returnee_withdraw

__all__ = [
    "COMPANION_EDITABLE",
    "OPEN_PATIENT_STATUSES",
    "OPEN_RETURNEE_STATUSES",
    "PATIENT_EDITABLE",
    "REFERRAL_DECISIONS",
    "REFERRAL_EDITABLE",
    "RETURNEE_EDITABLE",
    "CaseData",
    "RegistrationRefused",
    "companion_add",
    "companion_update",
    "open_holders",
    "patient_move",
    "patient_register",
    "patient_register_with_family",
    "patient_set_status",
    "patient_update",
    "patients_move",
    "patients_register_bulk",
    "readiness_update",
    "referral_create",
    "referral_decide",
    "refuse_duplicate_national_id",
    "returnee_move",
    "returnee_register",
    "returnee_withdraw",
]
