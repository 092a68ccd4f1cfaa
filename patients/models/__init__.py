"""Patients, companions, referrals, readiness and returnees.

Django finds the models through this package; every name is re-exported here, so code and
migrations (`patients.models.new_case_reference`) import them from `patients.models` whichever
module holds them."""

from .pending import ImportKind, PendingImport, PendingImportQuerySet
from .people import (
    MOBILITY_NEEDS,
    PRIORITY_RANK,
    REFERENCE_ALPHABET,
    ClinicalCategory,
    Companion,
    CompanionQuerySet,
    Patient,
    PatientQuerySet,
    PatientStatus,
    PersonFields,
    Priority,
    Sex,
    age_on,
    new_case_reference,
    new_reference,
    new_returnee_reference,
    priority_rank,
)
from .readiness import READINESS_FLAGS, Readiness, ReadinessChange, ReadinessQuerySet, yes_no
from .referrals import Referral, ReferralQuerySet, ReferralStatus
from .returnees import Returnee, ReturneeQuerySet, ReturneeStatus

__all__ = [
    "MOBILITY_NEEDS",
    "PRIORITY_RANK",
    "READINESS_FLAGS",
    "REFERENCE_ALPHABET",
    "ClinicalCategory",
    "Companion",
    "CompanionQuerySet",
    "ImportKind",
    "Patient",
    "PatientQuerySet",
    "PatientStatus",
    "PendingImport",
    "PendingImportQuerySet",
    "PersonFields",
    "Priority",
    "Readiness",
    "ReadinessChange",
    "ReadinessQuerySet",
    "Referral",
    "ReferralQuerySet",
    "ReferralStatus",
    "Returnee",
    "ReturneeQuerySet",
    "ReturneeStatus",
    "Sex",
    "age_on",
    "new_case_reference",
    "new_reference",
    "new_returnee_reference",
    "priority_rank",
    "yes_no",
]
