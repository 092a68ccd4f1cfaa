"""Batch transitions, declared once. Read DESIGN section 4 beside this table."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from casetracker.errors import TransitionRefused

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


def check(name: str, batch) -> Transition:
    transition = TRANSITIONS[name]
    if batch.status not in transition.sources:
        raise TransitionRefused(f"batch {batch.code} is {batch.status}: cannot {name} it")
    return transition


def allowed_transitions(status: str) -> list[str]:
    return [name for name, t in TRANSITIONS.items() if status in t.sources]
