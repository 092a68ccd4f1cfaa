"""Forms of the batch pages. A fact the coordinator must state (why a batch was cancelled, who
said so, what happened to each person at the crossing) is never preselected: each such choice
starts empty and is required, so a careless click cannot write it into the audit log."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.fields import FacilityChoiceField
from casetracker.accounts.models import Facility
from casetracker.audit.forms import OccurredAtField

from .models import (
    CANCEL_REASON_MAX_LENGTH,
    STATEMENT_MAX_LENGTH,
    BatchMember,
    BatchStatus,
    CancelReason,
    InformationSource,
    Outcome,
    Vehicle,
    VehicleKind,
)
from .services.vehicles import MAX_SEATS, MAX_STRETCHERS

CHOOSE = ("", _("Choose…"))


def stated(choices) -> list[tuple[str, str]]:
    """Choices with an empty first option: nothing is chosen until the user chooses."""
    return [CHOOSE, *choices]


# "Nobody relayed it: we heard it from them directly", as a choice of its own: a coordinator
# states it, as every other answer, rather than leaving a field empty.
DIRECTLY = "directly"


class RelayedByField(forms.ChoiceField):
    """Who relayed a decision to us (the services take blank for "directly")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Relayed to us by"))
        choices = [(DIRECTLY, _("Nobody: they told us directly")), *InformationSource.choices]
        super().__init__(choices=stated(choices), **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return "" if value == DIRECTLY else value


class CancelForm(forms.Form):
    reason_code = forms.ChoiceField(label=_("Reason"), choices=stated(CancelReason.choices))
    source = forms.ChoiceField(label=_("Who decided it"), choices=stated(InformationSource.choices))
    relayed_by = RelayedByField(
        help_text=_("For instance WHO, for a decision of the border authority.")
    )
    reason_text = forms.CharField(
        label=_("What happened"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=CANCEL_REASON_MAX_LENGTH,
        help_text=_("In a sentence. If no reason was given, say so and who said it."),
    )
    # When the news came, if it is recorded later (a blank field: now).
    occurred_at = OccurredAtField()


class StatementForm(forms.Form):
    """What a party said about the batch (or its cancellation) after the fact."""

    source = forms.ChoiceField(label=_("Who said it"), choices=stated(InformationSource.choices))
    text = forms.CharField(
        label=_("What they said"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=STATEMENT_MAX_LENGTH,
        help_text=_("Their words, as close as you can. Do not name patients."),
    )
    relayed_by = forms.ChoiceField(
        label=_("Relayed to us by"),
        choices=[("", "—"), *InformationSource.choices],
        required=False,
        help_text=_("Leave it empty if they told us directly."),
    )
    said_at = OccurredAtField(label=_("When it was said"))
    about_cancellation = forms.BooleanField(
        label=_("It is about the cancellation of this batch"), required=False
    )

    def __init__(self, *args, batch=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only a cancelled batch has a cancellation to speak of.
        if batch is None or batch.status != BatchStatus.CANCELLED:
            del self.fields["about_cancellation"]


class RescheduleForm(forms.Form):
    planned_date = forms.DateField(
        label=_("New date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    staging_facility = FacilityChoiceField(
        label=_("Staging facility"),
        queryset=Facility.objects.filter(is_active=True),
        required=False,
        empty_label=_("The same as before"),
    )

    def __init__(self, *args, batch=None, **kwargs):
        super().__init__(*args, **kwargs)
        # From the cancelled batch's own day on (the service says the same): a cancellation
        # recorded late may be rescheduled to a day already past.
        first = batch.planned_date if batch is not None else timezone.localdate()
        self.fields["planned_date"].widget.attrs["min"] = first.isoformat()


def line_label(line: BatchMember) -> str:
    """Who is on a manifest line, by reference (never a name), in the reader's language."""
    if line.patient_id:
        return gettext("patient %(case)s") % {"case": line.patient.case_reference}
    if line.companion_id:
        return line.label
    return gettext("returnee %(reference)s") % {"reference": line.returnee.reference}


class CrossForm(forms.Form):
    """One outcome per person on board, each chosen by hand: none is assumed."""

    # When the batch crossed, if it is recorded later (a blank field: now).
    occurred_at = OccurredAtField()

    def __init__(self, *args, lines: list[BatchMember], **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"line_{line.pk}"] = forms.ChoiceField(
                label=line_label(line),
                choices=Outcome.choices,
                widget=forms.RadioSelect,
            )

    def bound_line(self, line: BatchMember):
        return self[f"line_{line.pk}"]

    def outcomes(self) -> dict[int, str]:
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] for line in self.lines}


class AllCrossedForm(forms.Form):
    """The deliberate shortcut: everyone on board crossed, confirmed with a tick."""

    occurred_at = OccurredAtField()
    confirm = forms.BooleanField(
        label=_("I confirm that every person on board crossed"), required=True
    )


class ClearanceForm(forms.Form):
    """The border authority's vetting decision for one person; the note says why, if known."""

    line = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        choices=[("approved", _("Approve")), ("rejected", _("Reject"))],
        widget=forms.HiddenInput,
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=BatchMember._meta.get_field("clearance_note").max_length,
    )


class VehicleForm(forms.Form):
    """A vehicle for the batch; what kind it is, the coordinator states."""

    kind = forms.ChoiceField(label=_("Kind"), choices=stated(VehicleKind.choices))
    seats = forms.IntegerField(label=_("Seats"), min_value=0, max_value=MAX_SEATS)
    stretchers = forms.IntegerField(
        label=_("Stretcher places"), min_value=0, max_value=MAX_STRETCHERS, initial=0
    )
    label = forms.CharField(
        label=_("Call sign or plate"),
        required=False,
        max_length=Vehicle._meta.get_field("label").max_length,
    )


class SeatingForm(forms.Form):
    """Who travels in which vehicle: one choice per person on board."""

    def __init__(self, *args, lines: list[BatchMember], vehicles: list[Vehicle], **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        choices = [("", _("No vehicle")), *((str(v.number), v.name) for v in vehicles)]
        numbers = {v.pk: v.number for v in vehicles}
        for line in lines:
            self.fields[f"line_{line.pk}"] = forms.ChoiceField(
                label=line_label(line),
                choices=choices,
                required=False,
                initial=str(numbers.get(line.vehicle_id, "")),
            )

    def bound_line(self, line: BatchMember):
        return self[f"line_{line.pk}"]

    def assignments(self) -> dict[int, int | None]:
        return {
            line.pk: int(value) if (value := self.cleaned_data[f"line_{line.pk}"]) else None
            for line in self.lines
        }
