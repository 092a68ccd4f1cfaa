"""The access log: who read whose personal data, when, and which kind of data.

Every view of a patient, companion or returnee record, every list page of them and every search
writes one audit event through `log_access`. The event names references, counts and a data
category, never the data itself, and never the value that was searched for. Who, with which role
and from which facility, and when, `record_access` adds. Only auditors and admins see these events
(`EventQuerySet.visible_to`).
"""

from collections.abc import Iterable, Sequence

from casetracker.accounts.roles import Role, user_role
from casetracker.audit.models import Action, Event, SubjectType
from casetracker.audit.services import record_access

from .models import Companion, Patient, Referral, Returnee


class Category:
    """What kind of personal data a read disclosed."""

    IDENTITY = "identity"  # names, national ID, date of birth, phone
    CLINICAL = "clinical"  # the above and the diagnosis text
    READINESS = "readiness"  # fitness to travel and the staff's note
    JOURNEY = "journey"  # batches, clearances and outcomes of one case


def record_category(user) -> str:
    """A patient record shows the diagnosis to everyone but auditors."""
    return Category.IDENTITY if user_role(user) is Role.AUDITOR else Category.CLINICAL


def _subject(person) -> tuple[SubjectType, str, int | None, dict]:
    if isinstance(person, Patient):
        return SubjectType.PATIENT, person.case_reference, person.facility_id, {}
    if isinstance(person, Companion | Referral):
        # Filed under their patient's case, like the events that change them.
        patient = person.patient
        return (
            SubjectType.PATIENT,
            patient.case_reference,
            patient.facility_id,
            {person._meta.model_name: person.pk},
        )
    if isinstance(person, Returnee):
        return SubjectType.RETURNEE, person.reference, None, {}
    raise TypeError(f"no access log for {type(person).__name__}")


def log_access(
    *,
    actor,
    category: str,
    subject: Patient | Companion | Referral | Returnee | None = None,
    results: Sequence[Patient | Companion | Referral | Returnee] | None = None,
    model: type[Patient | Companion | Referral | Returnee] = Patient,
    search_by: str = "",
) -> Event:
    """One event for one read: of a record (`subject`), or of a list page or search answer
    (`results`, rows of `model`; `search_by` names the kind of search, not the value)."""
    details: dict = {"category": category}
    if subject is not None:
        subject_type, reference, facility_id, extra = _subject(subject)
        details.update(extra)
        action = Action.VIEW
    else:
        rows = list(results or [])
        subject_type = SubjectType.RETURNEE if model is Returnee else SubjectType.PATIENT
        references = [_subject(row)[1] for row in rows]
        details.update(rows=len(rows), results=references)
        if model in (Companion, Referral):
            details[f"{model._meta.model_name}s"] = [row.pk for row in rows]
        # Not filed under one facility: a list may span several, and nurses never see these.
        facility_id = None
        if search_by:
            reference, action = "search", Action.SEARCH
            details["by"] = search_by
        else:
            reference, action = "list", Action.VIEW
    return record_access(
        subject_type=subject_type,
        subject_ref=reference,
        subject_facility_id=facility_id,
        action=action,
        actor=actor,
        details=details,
    )


# --- National ID numbers on pages and manifests ---------------------------------------------

MASK = "•"
SHOWN_DIGITS = 4


def shows_full_national_id(user) -> bool:
    """Coordinators and admins see whole national ID numbers (they register and match cases,
    and the border checks them); hospital staff and auditors see the last four digits, enough
    to check a card in hand against the record."""
    return user_role(user) in (Role.COORDINATOR, Role.ADMIN)


def mask_national_id(number: str) -> str:
    """ "400123456" -> "•••••3456"; a number of four digits or fewer is masked whole."""
    number = number or ""
    if len(number) <= SHOWN_DIGITS:
        return MASK * len(number)
    return MASK * (len(number) - SHOWN_DIGITS) + number[-SHOWN_DIGITS:]


def national_id_for(user, number: str) -> str:
    """The number as this user may see it."""
    return number if shows_full_national_id(user) else mask_national_id(number)


def log_people_shown(*, actor, people: Iterable[Patient | Companion | Returnee]) -> None:
    """A page that names people (a manifest, a day's alerts): one list event for the cases (a
    companion counts under their patient's case) and one for the returnees, if any."""
    cases: dict[int, Patient] = {}
    returnees: dict[int, Returnee] = {}
    for person in people:
        if isinstance(person, Returnee):
            returnees[person.pk] = person
        else:
            case = person if isinstance(person, Patient) else person.patient
            cases[case.pk] = case
    if cases:
        log_access(actor=actor, category=Category.IDENTITY, results=list(cases.values()))
    if returnees:
        rows = list(returnees.values())
        log_access(actor=actor, category=Category.IDENTITY, results=rows, model=Returnee)
