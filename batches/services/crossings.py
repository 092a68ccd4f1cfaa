"""Crossings as data: creating one, changing its details, and its state (open, restricted,
closed), each an audit event. Batches and quotas name a crossing by its code."""

import re
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.occurred import checked_occurred_at
from casetracker.audit.services import record_event
from casetracker.codes import is_code
from casetracker.updates import apply_update

from ..models import DEFAULT_CROSSING, Crossing, CrossingState, InformationSource
from .common import too_long

PREFIX_PATTERN = re.compile(r"[A-Z]{2,6}")
# What `crossing_update` may change; the code never changes (batches and quotas point at it),
# nor the prefix (it is in every batch code already given).
DETAILS = ("name_en", "name_ar", "opens_at", "closes_at", "note")


def crossing_of(value: "Crossing | str | None", *, field: str = "crossing") -> Crossing:
    """The crossing a service was given, by instance or by code (None: the default crossing).
    An unknown code is refused naming `field`."""
    if isinstance(value, Crossing):
        return value
    code = DEFAULT_CROSSING if value in (None, "") else value
    crossing = Crossing.objects.filter(code=code).first() if isinstance(code, str) else None
    if crossing is None:
        known = list(Crossing.objects.values_list("code", flat=True))
        raise ValidationError(
            {
                field: _("no crossing %(code)r; use one of %(values)s")
                % {"code": code, "values": known}
            }
        )
    return crossing


def code_problem(code: str) -> str | None:
    """What is wrong with a new crossing's code, if anything (it names the crossing in the API
    and in links: a slug)."""
    if not is_code(code, limit=Crossing._meta.get_field("code").max_length):
        return _("lower-case letters, digits and dashes, at most 20 (e.g. kerem-shalom)")
    if Crossing.objects.filter(code=code).exists():
        return _("a crossing with the code %(code)s already exists") % {"code": code}
    return None


def prefix_problem(prefix: str) -> str | None:
    """What is wrong with a new crossing's batch code prefix, if anything."""
    if not PREFIX_PATTERN.fullmatch(prefix):
        return _("two to six capital letters (e.g. KSH)")
    if Crossing.objects.filter(prefix=prefix).exists():
        return _("another crossing already uses the prefix %(prefix)s") % {"prefix": prefix}
    return None


def _check_text(errors: dict, name: str, value: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        errors[name] = _("this field is required")
    elif problem := too_long(Crossing, name, value):
        errors[name] = problem
    return value


def _check_hours(errors: dict, opens_at: time | None, closes_at: time | None) -> None:
    if (opens_at is None) != (closes_at is None):
        errors["opens_at" if opens_at is None else "closes_at"] = _(
            "give both the opening and the closing time, or neither"
        )


def _details(crossing: Crossing) -> dict:
    return {
        "prefix": crossing.prefix,
        "hours": crossing.hours,
    }


@transaction.atomic
def crossing_create(
    *,
    actor,
    code: str,
    prefix: str,
    name_en: str,
    name_ar: str,
    opens_at: time | None = None,
    closes_at: time | None = None,
    note: str = "",
    state: str = CrossingState.OPEN,
    state_reason: str = "",
    state_source: str = "",
) -> Crossing:
    """A new crossing, open unless said otherwise (then since now, with the reason and who told
    us). Its code names it in the API and links; its prefix starts its batch codes."""
    errors: dict = {}
    code, prefix = (code or "").strip(), (prefix or "").strip()
    if problem := code_problem(code):
        errors["code"] = problem
    if problem := prefix_problem(prefix):
        errors["prefix"] = problem
    name_en = _check_text(errors, "name_en", name_en, required=True)
    name_ar = _check_text(errors, "name_ar", name_ar, required=True)
    note = _check_text(errors, "note", note)
    _check_hours(errors, opens_at, closes_at)
    if state not in CrossingState.values:
        errors["state"] = _("must be one of %(values)s") % {"values": CrossingState.values}
    state_reason = _check_text(errors, "state_reason", state_reason)
    if state_source and state_source not in InformationSource.values:
        errors["state_source"] = _("must be one of %(values)s") % {
            "values": InformationSource.values
        }
    if errors:
        raise ValidationError(errors)
    crossing = Crossing.objects.create(
        code=code,
        prefix=prefix,
        name_en=name_en,
        name_ar=name_ar,
        opens_at=opens_at,
        closes_at=closes_at,
        note=note,
        state=state,
        state_since=timezone.now(),
        state_reason=state_reason,
        state_source=state_source,
    )
    record_event(
        subject_type=SubjectType.CROSSING,
        subject_ref=crossing.code,
        action=Action.CREATE,
        actor=actor,
        to_state=crossing.state,
        reason_text=state_reason,
        source=state_source,
        details=_details(crossing),
    )
    return crossing


@transaction.atomic
def crossing_update(*, crossing: Crossing, actor, **changes) -> Crossing:
    """Change a crossing's names, daily hours or note (not its state: `crossing_set_state`).
    The event names the fields that changed."""
    unknown = sorted(set(changes) - set(DETAILS))
    if unknown:
        raise ValidationError(
            {name: _("cannot be changed here") for name in unknown}  # code, prefix, state...
        )
    crossing = Crossing.objects.select_for_update().get(pk=crossing.pk)
    errors: dict = {}
    for name in ("name_en", "name_ar", "note"):
        if name in changes:
            changes[name] = _check_text(errors, name, changes[name], required=name != "note")
    opens_at = changes.get("opens_at", crossing.opens_at)
    closes_at = changes.get("closes_at", crossing.closes_at)
    _check_hours(errors, opens_at, closes_at)
    if errors:
        raise ValidationError(errors)
    apply_update(
        crossing, changes, actor=actor, subject_type=SubjectType.CROSSING, details=_details
    )
    return crossing


@transaction.atomic
def crossing_set_state(
    *,
    crossing: Crossing,
    state: str,
    actor,
    reason_text: str = "",
    source: str = "",
    occurred_at: datetime | None = None,
) -> Crossing:
    """Open, restrict or close a crossing from `occurred_at` (default now; never in the future
    nor before its current state began), saying why and who told us (both required to close or
    restrict it). A closed crossing refuses `prepare`; a restricted one is a warning on the
    batch page and the builder. The event keeps the old and new states."""
    errors: dict = {}
    if state not in CrossingState.values:
        errors["state"] = _("must be one of %(values)s") % {"values": CrossingState.values}
    reason_text = (reason_text or "").strip()
    if not reason_text and state in (CrossingState.CLOSED, CrossingState.RESTRICTED):
        errors["reason_text"] = _("say why, even if no reason was given")
    elif problem := too_long(Crossing, "state_reason", reason_text):
        errors["reason_text"] = problem
    if source and source not in InformationSource.values:
        errors["source"] = _("must be one of %(values)s") % {"values": InformationSource.values}
    elif not source and state in (CrossingState.CLOSED, CrossingState.RESTRICTED):
        errors["source"] = _("say who informed us")
    if errors:
        raise ValidationError(errors)
    crossing = Crossing.objects.select_for_update().get(pk=crossing.pk)
    occurred_at = checked_occurred_at(
        occurred_at,
        follows=crossing.state_since,
        follows_what=_("the crossing's current state began"),
    )
    previous = crossing.state
    if previous == state and (reason_text, source) == (
        crossing.state_reason,
        crossing.state_source,
    ):
        return crossing  # nothing new: no second event
    if previous != state:
        crossing.state_since = occurred_at or timezone.now()
    crossing.state = state
    crossing.state_reason = reason_text
    crossing.state_source = source
    crossing.save(update_fields=["state", "state_since", "state_reason", "state_source"])
    record_event(
        subject_type=SubjectType.CROSSING,
        subject_ref=crossing.code,
        action=Action.CROSSING_STATE,
        actor=actor,
        from_state=previous,
        to_state=state,
        reason_text=reason_text,
        source=source,
        details={"since": crossing.state_since.isoformat()},
        occurred_at=occurred_at,
    )
    return crossing
