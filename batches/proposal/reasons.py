"""Why the proposal leaves someone out, or says something of the day: a machine code and a
sentence in the active language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from casetracker.text import listed
from patients.eligibility import Check, Finding
from patients.models import Patient, Readiness, ReferralStatus

from ..models import Direction


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
