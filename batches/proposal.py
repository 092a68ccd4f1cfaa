"""The batch builder's proposal: who the next batch of a day should take, and why the others
are left out. The page (`batches/views/builder.py`) and the API (`batches/api/views.py`) both
call `propose`; the eligibility checks are those of `prepare` (`services/rules.py`).

Exit: the waiting patients the user may see, in queue order, each with their registered
companions (guardian first, up to the limit), while patient and companion places are left in the
day's quota. Return: the waiting returnees in registration order, within the returnee places.
Patients and returnees already on an open batch are listed as skipped, naming the batch.

The walk reads the queue in chunks with everything it needs prefetched (a constant number of
queries per chunk, not per person), and stops once the places are full and a few more people
were looked at, or at a hard limit: it never reads the whole queue for one page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.db.models import Prefetch
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from casetracker.accounts.models import Facility
from casetracker.text import listed
from patients.eligibility import Check, Finding, exit_patient_findings, guardian_first
from patients.models import (
    Companion,
    Patient,
    PatientStatus,
    Readiness,
    Referral,
    ReferralStatus,
    Returnee,
    ReturneeStatus,
)

from .models import BatchMember, Crossing, Direction
from .services.crossings import crossing_of
from .services.quotas import PlacesLeft, places_left_on

# Queue rows read per query, and at most per proposal.
CHUNK = 100
SCAN_LIMIT = 400
# Once every place is taken, this many more people are looked at (and listed as skipped, so
# the coordinator sees who comes next), then the walk stops.
LOOK_AFTER_FULL = 10

# Columns never needed here: decrypting national IDs costs per row (DESIGN section 7).
_PERSON_DEFER = ("national_id", "national_id_hash")


class Reason:
    """Machine codes of the reasons, beside those of `rules.Check`."""

    NO_VALID_REFERRAL = Check.NO_VALID_REFERRAL.value
    NOT_READY = Check.NOT_READY.value
    TOO_MANY_COMPANIONS = Check.TOO_MANY_COMPANIONS.value
    CHILD_WITHOUT_GUARDIAN = Check.CHILD_WITHOUT_GUARDIAN.value
    ON_ANOTHER_BATCH = "on_another_batch"
    QUOTA_FULL = "quota_full"
    NOT_WAITING = "not_waiting"
    NO_QUOTA = "no_quota"
    LIMIT_REACHED = "limit_reached"
    CROSSING_CLOSED = "crossing_closed"
    CROSSING_RESTRICTED = "crossing_restricted"


REASON_CODES = tuple(
    value for name, value in vars(Reason).items() if name.isupper() and isinstance(value, str)
)


@dataclass(frozen=True)
class Why:
    """One reason, as a machine code and a readable sentence in the active language; `batch`,
    the code of the batch it names, if any."""

    code: str
    text: str
    batch: str = ""

    def __str__(self) -> str:
        return self.text

    @property
    def html(self) -> str:
        """The sentence for a page, the batch code kept on one line."""
        text = escape(self.text)
        if self.batch:
            code = escape(self.batch)
            text = text.replace(code, f'<bdi class="code">{code}</bdi>')
        return mark_safe(text)  # noqa: S308 (escaped above)


@dataclass(frozen=True)
class ProposedCompanion:
    companion: Companion
    age: int
    is_adult: bool
    proposed: bool  # within the limit (guardian first); the others are listed unticked


@dataclass
class ProposedPatient:
    patient: Patient
    age: int
    is_child: bool
    companions: list[ProposedCompanion]

    @property
    def reference(self) -> str:
        return self.patient.case_reference

    @property
    def travelling(self) -> list[Companion]:
        return [c.companion for c in self.companions if c.proposed]


@dataclass
class ProposedReturnee:
    returnee: Returnee
    age: int

    @property
    def reference(self) -> str:
        return self.returnee.reference


@dataclass
class Skipped:
    """A person the proposal left out, with every reason."""

    reasons: list[Why]
    patient: Patient | None = None
    returnee: Returnee | None = None
    age: int | None = None

    @property
    def reference(self) -> str:
        return self.patient.case_reference if self.patient else self.returnee.reference

    @property
    def person(self) -> Patient | Returnee:
        return self.patient or self.returnee


@dataclass
class Proposal:
    crossing: str  # its code
    direction: str
    day: date
    staging_facility: Facility | None
    places: PlacesLeft | None  # left before this batch; None: no quota agreed
    patients: list[ProposedPatient] = field(default_factory=list)
    returnees: list[ProposedReturnee] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Why] = field(default_factory=list)  # about the proposal as a whole
    looked_at: int = 0
    truncated: bool = False  # stopped at the hard limit with more people waiting

    @property
    def is_exit(self) -> bool:
        return self.direction == Direction.EXIT

    @property
    def people(self) -> int:
        """Patient places (returnee places on a return batch) the proposal takes."""
        return len(self.patients) if self.is_exit else len(self.returnees)

    @property
    def companions(self) -> int:
        return sum(len(p.travelling) for p in self.patients)

    def places_after(self) -> tuple[int, int] | None:
        """(patients or returnees, companions) left once this batch holds its places."""
        if self.places is None:
            return None
        return self.places.patients - self.people, self.places.companions - self.companions


# --- Reasons, in words -------------------------------------------------------------------


def _day(day: date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def _referral_reason(patient: Patient, day: date) -> Why:
    """No approved referral valid that day; says why when a referral exists."""
    known = getattr(patient, "open_referrals", [])
    approved = [r for r in known if r.status == ReferralStatus.APPROVED]
    expired = [r for r in approved if r.expires_on and r.expires_on < day]
    later = [r for r in approved if r.issued_on > day]
    if expired:
        last = max(r.expires_on for r in expired)
        text = _("The approved referral expires on %(expiry)s, before %(day)s.") % {
            "expiry": _day(last),
            "day": _day(day),
        }
    elif later:
        first = min(r.issued_on for r in later)
        text = _("The approved referral is issued on %(issued)s, after %(day)s.") % {
            "issued": _day(first),
            "day": _day(day),
        }
    elif any(r.status == ReferralStatus.PENDING for r in known):
        text = _("The referral is still waiting for approval.")
    else:
        text = _("No approved referral valid on %(day)s.") % {"day": _day(day)}
    return Why(Reason.NO_VALID_REFERRAL, text)


def finding_reason(patient: Patient, day: date, finding: Finding) -> Why:
    """A check of `rules.exit_patient_findings`, as the builder says it."""
    match finding.check:
        case Check.NO_VALID_REFERRAL:
            return _referral_reason(patient, day)
        case Check.NOT_READY:
            items = listed(Readiness.label(flag) for flag in finding.missing)
            return Why(Reason.NOT_READY, _("Not ready yet: %(items)s.") % {"items": items})
        case Check.TOO_MANY_COMPANIONS:
            return Why(
                Reason.TOO_MANY_COMPANIONS,
                _("%(count)d companions chosen; at most %(limit)d may travel.")
                % {"count": finding.companions, "limit": settings.MAX_COMPANIONS_PER_PATIENT},
            )
        case Check.CHILD_WITHOUT_GUARDIAN:
            return Why(
                Reason.CHILD_WITHOUT_GUARDIAN,
                _("A child, and no adult guardian travels with them."),
            )
    raise ValueError(finding.check)


def _on_batch(code: str | None) -> Why:
    if not code:
        return Why(Reason.ON_ANOTHER_BATCH, _("Already on a batch."))
    return Why(Reason.ON_ANOTHER_BATCH, _("Already on batch %(code)s.") % {"code": code}, code)


def _not_waiting(status_label: str) -> Why:
    return Why(Reason.NOT_WAITING, _("Not waiting (%(status)s).") % {"status": status_label})


def _no_patient_place(direction: str) -> Why:
    if direction == Direction.EXIT:
        return Why(Reason.QUOTA_FULL, _("Quota full: no patient places left that day."))
    return Why(Reason.QUOTA_FULL, _("Quota full: no returnee places left that day."))


def _no_companion_place(needed: int, left: int) -> Why:
    text = ngettext(
        "Quota full: needs %(needed)d companion place, %(left)d left.",
        "Quota full: needs %(needed)d companion places, %(left)d left.",
        needed,
    ) % {"needed": needed, "left": max(left, 0)}
    return Why(Reason.QUOTA_FULL, text)


# --- Reading the queue --------------------------------------------------------------------


def exit_candidates(user, day: date):
    """Patients the user may see, with what the checks read prefetched. Not filtered by
    status, so the builder can also explain a case reference typed by hand."""
    return (
        Patient.objects.visible_to(user)
        .select_related("readiness", "facility")
        .defer("diagnosis", *_PERSON_DEFER)
        .prefetch_related(
            Prefetch(
                "companions",
                queryset=Companion.objects.defer(*_PERSON_DEFER).order_by("id"),
                to_attr="registered_companions",
            ),
            # Validity on `day` is read from these (`Referral.is_valid_on`).
            Prefetch(
                "referrals",
                queryset=Referral.objects.filter(
                    status__in=(ReferralStatus.APPROVED, ReferralStatus.PENDING)
                ).only("id", "patient_id", "status", "issued_on", "expires_on"),
                to_attr="open_referrals",
            ),
        )
    )


def return_candidates(user):
    return Returnee.objects.visible_to(user).defer(*_PERSON_DEFER)


def _chunks(queryset) -> Iterator[list]:
    """The rows in chunks of CHUNK (each one query plus its prefetches), up to SCAN_LIMIT."""
    for start in range(0, SCAN_LIMIT, CHUNK):
        end = min(start + CHUNK, SCAN_LIMIT)
        rows = list(queryset[start:end])
        if rows:
            yield rows
        if len(rows) < end - start:
            return


def open_batches(field_name: str, people: Iterable) -> dict[int, str]:
    """Person id -> code of the open batch they are on, in one query."""
    ids = [p.pk for p in people]
    if not ids:
        return {}
    lines = BatchMember.objects.filter(is_open=True, **{f"{field_name}__in": ids})
    return dict(lines.values_list(f"{field_name}_id", "batch__code"))


def evaluate_patient(
    patient: Patient, day: date, *, on_batch: str | None = None
) -> tuple[ProposedPatient, list[Why]]:
    """A patient read through `exit_candidates`: their place in a proposal (companions guardian
    first, the first ones up to the limit proposed) and what stops them from travelling."""
    ordered = guardian_first(patient.registered_companions, day)
    limit = settings.MAX_COMPANIONS_PER_PATIENT
    companions = [
        ProposedCompanion(c, c.age_on(day), c.is_adult_on(day), proposed=i < limit)
        for i, c in enumerate(ordered)
    ]
    candidate = ProposedPatient(
        patient=patient,
        age=patient.age_on(day),
        is_child=patient.is_child_on(day),
        companions=companions,
    )
    return candidate, patient_reasons(patient, day, candidate.travelling, on_batch=on_batch)


def patient_reasons(
    patient: Patient, day: date, companions: list[Companion], *, on_batch: str | None = None
) -> list[Why]:
    """Why this patient, read through `exit_candidates`, cannot travel on `day` with these
    companions: not waiting, and every check `prepare` makes (`rules.exit_patient_findings`)."""
    reasons = []
    if patient.status == PatientStatus.SCHEDULED:
        reasons.append(_on_batch(on_batch))
    elif patient.status != PatientStatus.WAITING:
        reasons.append(_not_waiting(patient.get_status_display()))
    findings = exit_patient_findings(
        patient,
        day=day,
        companions=companions,
        has_valid_referral=any(r.is_valid_on(day) for r in patient.open_referrals),
    )
    return reasons + [finding_reason(patient, day, f) for f in findings]


def evaluate_returnee(
    returnee: Returnee, day: date, *, on_batch: str | None = None
) -> tuple[ProposedReturnee, list[Why]]:
    reasons = []
    if returnee.status == ReturneeStatus.SCHEDULED:
        reasons.append(_on_batch(on_batch))
    elif returnee.status != ReturneeStatus.WAITING:
        reasons.append(_not_waiting(returnee.get_status_display()))
    return ProposedReturnee(returnee, returnee.age_on(day)), reasons


def check_patient(*, user, reference: str, day: date):
    """One case typed by hand (the builder's "add"): (candidate, reasons), or None when the
    user may see no such case."""
    patient = exit_candidates(user, day).filter(case_reference=reference).first()
    if patient is None:
        return None
    on_batch = open_batches("patient", [patient]).get(patient.pk)
    return evaluate_patient(patient, day, on_batch=on_batch)


def check_returnee(*, user, reference: str, day: date):
    returnee = return_candidates(user).filter(reference=reference).first()
    if returnee is None:
        return None
    on_batch = open_batches("returnee", [returnee]).get(returnee.pk)
    return evaluate_returnee(returnee, day, on_batch=on_batch)


# --- The proposal ---------------------------------------------------------------------


def propose(
    *,
    user,
    crossing: Crossing | str | None,
    direction: str,
    day: date,
    staging_facility: Facility | None = None,
) -> Proposal:
    """Who the next batch of `day` should take, within the places left in the day's quota,
    and every person it skipped with the reasons (see the module docstring). A closed or
    restricted crossing is said in a note; the proposal is made all the same (a draft may
    wait for the crossing to open, `prepare` refuses it while it is closed)."""
    crossing = crossing_of(crossing)
    places = places_left_on(crossing=crossing, day=day, direction=direction)
    proposal = Proposal(
        crossing=crossing.code,
        direction=direction,
        day=day,
        staging_facility=staging_facility,
        places=places,
    )
    if crossing.is_closed or crossing.is_restricted:
        code = Reason.CROSSING_CLOSED if crossing.is_closed else Reason.CROSSING_RESTRICTED
        proposal.notes.append(Why(code, crossing.state_sentence()))
    if places is None:
        proposal.notes.append(
            Why(
                Reason.NO_QUOTA,
                _("No quota is agreed for %(day)s yet: nobody can be proposed.")
                % {"day": _day(day)},
            )
        )
        return proposal
    if direction == Direction.EXIT:
        _walk_exit(proposal, user)
    else:
        _walk_return(proposal, user)
    if proposal.truncated:
        proposal.notes.append(
            Why(
                Reason.LIMIT_REACHED,
                _("Only the first %(count)d people in the queue were looked at.")
                % {"count": SCAN_LIMIT},
            )
        )
    return proposal


def _walk(proposal: Proposal, rows, take, full) -> None:
    """Feed the queue to `take(person, on_batch)` chunk by chunk; once `full()`, look at
    LOOK_AFTER_FULL more people, then stop."""
    after_full = 0
    field_name = "patient" if proposal.is_exit else "returnee"
    for chunk in _chunks(rows):
        on_batches = open_batches(field_name, [p for p in chunk if p.status == "scheduled"])
        for person in chunk:
            if full():
                if after_full >= LOOK_AFTER_FULL:
                    return
                after_full += 1
            proposal.looked_at += 1
            take(person, on_batches.get(person.pk))
    proposal.truncated = proposal.looked_at >= SCAN_LIMIT and rows[SCAN_LIMIT:].exists()


def _walk_exit(proposal: Proposal, user) -> None:
    day = proposal.day
    left = [proposal.places.patients, proposal.places.companions]
    rows = (
        exit_candidates(user, day)
        .filter(status__in=(PatientStatus.WAITING, PatientStatus.SCHEDULED))
        .queue_order()
    )

    def take(patient: Patient, on_batch: str | None) -> None:
        candidate, reasons = evaluate_patient(patient, day, on_batch=on_batch)
        if not reasons:
            needed = len(candidate.travelling)
            if left[0] <= 0:
                reasons.append(_no_patient_place(proposal.direction))
            elif needed > left[1]:
                reasons.append(_no_companion_place(needed, left[1]))
            else:
                left[0] -= 1
                left[1] -= needed
                proposal.patients.append(candidate)
        if reasons:
            proposal.skipped.append(Skipped(reasons, patient=patient, age=candidate.age))

    _walk(proposal, rows, take, full=lambda: left[0] <= 0)


def _walk_return(proposal: Proposal, user) -> None:
    day = proposal.day
    left = [proposal.places.patients]
    rows = (
        return_candidates(user)
        .filter(status__in=(ReturneeStatus.WAITING, ReturneeStatus.SCHEDULED))
        .order_by("registered_at", "id")
    )

    def take(returnee: Returnee, on_batch: str | None) -> None:
        candidate, reasons = evaluate_returnee(returnee, day, on_batch=on_batch)
        if not reasons:
            if left[0] <= 0:
                reasons.append(_no_patient_place(proposal.direction))
            else:
                left[0] -= 1
                proposal.returnees.append(candidate)
        if reasons:
            proposal.skipped.append(Skipped(reasons, returnee=returnee, age=candidate.age))

    _walk(proposal, rows, take, full=lambda: left[0] <= 0)
