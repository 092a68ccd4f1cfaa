"""Batch transitions, declared once. Read DESIGN section 4 beside this table."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from casetracker.errors import TransitionRefused, state_word

from .models import BatchStatus as S


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str


OPEN = frozenset({S.DRAFT, S.PREPARED, S.SUBMITTED, S.CLEARED, S.IN_TRANSIT})

TRANSITIONS: dict[str, Transition] = {
    "prepare": Transition(frozenset({S.DRAFT}), S.PREPARED),
    "reopen": Transition(frozenset({S.PREPARED}), S.DRAFT),
    "submit": Transition(frozenset({S.PREPARED}), S.SUBMITTED),
    "clear": Transition(frozenset({S.SUBMITTED}), S.CLEARED),
    "depart": Transition(frozenset({S.CLEARED}), S.IN_TRANSIT),
    "cross": Transition(frozenset({S.IN_TRANSIT}), S.CROSSED),
    "cancel": Transition(OPEN, S.CANCELLED),
}


# What the buttons say.
LABELS = {
    "prepare": _("Prepare"),
    "reopen": _("Reopen"),
    "submit": _("Submit for vetting"),
    "clear": _("Clear"),
    "depart": _("Record departure"),
    "cross": _("Record crossing"),
    "cancel": _("Cancel batch"),
    "reschedule": _("Reschedule"),
}


# What a refused step says, one sentence per step so that every language can word it.
_CANNOT = {
    "prepare": _("batch %(code)s is %(status)s: cannot prepare it"),
    "reopen": _("batch %(code)s is %(status)s: cannot reopen it"),
    "submit": _("batch %(code)s is %(status)s: cannot submit it"),
    "clear": _("batch %(code)s is %(status)s: cannot clear it"),
    "depart": _("batch %(code)s is %(status)s: cannot depart it"),
    "cross": _("batch %(code)s is %(status)s: cannot cross it"),
    "cancel": _("batch %(code)s is %(status)s: cannot cancel it"),
}


def check(name: str, batch) -> Transition:
    transition = TRANSITIONS[name]
    if batch.status not in transition.sources:
        raise TransitionRefused(
            str(_CANNOT[name] % {"code": batch.code, "status": state_word(batch.status)})
        )
    return transition


def allowed_transitions(status: str) -> list[str]:
    return [name for name, t in TRANSITIONS.items() if status in t.sources]
