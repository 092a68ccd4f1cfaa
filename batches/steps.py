"""The steps a batch page offers: which are possible now, what each needs, and what the page
says once it is taken. The transitions themselves are declared in `states.py`."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from . import states
from .forms import CancelForm, CrossForm, RescheduleForm
from .models import Batch, BatchStatus

# Steps that ask for more than a confirmation.
STEP_FORMS = {"cancel": CancelForm, "cross": CrossForm, "reschedule": RescheduleForm}

DONE_MESSAGES = {
    "prepare": _("Batch %(code)s is prepared: its places in the quota are held."),
    "reopen": _("Batch %(code)s is a draft again: people can be added or taken off."),
    "submit": _("Batch %(code)s was sent for security vetting."),
    "clear": _("Batch %(code)s is cleared: the people approved may travel."),
    "depart": _("Batch %(code)s left for the crossing."),
    "cross": _("Crossing of batch %(code)s recorded."),
    "cancel": _("Batch %(code)s is cancelled; everyone on it is back in the queue."),
    "reschedule": _("New draft batch %(code)s made with the same people."),
}


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    needs_form: bool
    danger: bool


def allowed_steps(batch: Batch) -> list[Step]:
    names = states.allowed_transitions(batch.status)
    if batch.status == BatchStatus.CANCELLED and not hasattr(batch, "rescheduled_as"):
        names.append("reschedule")
    return [
        Step(name, states.LABELS[name], name in STEP_FORMS, danger=name == "cancel")
        for name in names
    ]
