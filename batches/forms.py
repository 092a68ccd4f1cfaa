"""Forms of the batch pages. A fact the coordinator must state (why a batch was cancelled, who
said so, what happened to each person at the crossing) is never preselected: each such choice
starts empty and is required, so a careless click cannot write it into the audit log."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.fields import FacilityChoiceField
from casetracker.accounts.models import Facility

from .models import (
    CANCEL_REASON_MAX_LENGTH,
    BatchMember,
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


class CancelForm(forms.Form):
    reason_code = forms.ChoiceField(label=_("Reason"), choices=stated(CancelReason.choices))
    source = forms.ChoiceField(
        label=_("Who informed us"), choices=stated(InformationSource.choices)
    )
    reason_text = forms.CharField(
        label=_("What happened"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=CANCEL_REASON_MAX_LENGTH,
        help_text=_("In a sentence. If no reason was given, say so and who said it."),
    )


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["planned_date"].widget.attrs["min"] = timezone.localdate().isoformat()


def line_label(line: BatchMember) -> str:
    """Who is on a manifest line, by reference (never a name), in the reader's language."""
    if line.patient_id:
        return gettext("patient %(case)s") % {"case": line.patient.case_reference}
    if line.companion_id:
        return line.label
    return gettext("returnee %(reference)s") % {"reference": line.returnee.reference}


class CrossForm(forms.Form):
    """One outcome per person on board, each chosen by hand: none is assumed."""

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
