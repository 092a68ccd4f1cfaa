"""The forms of the patient field pages: registration (patient, companions, referral), a
companion or a referral added later, a referral decision, a death or a withdrawal.

Every form holds only the fields its service accepts (`services.*_EDITABLE`), so what the page
shows is what the service takes. A choice the user must state (priority, category, sex, a
decision, a status) is never preselected: its first option is "Choose…" and it is required."""

from types import SimpleNamespace

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.fields import FacilityChoiceField
from casetracker.accounts.models import Facility
from casetracker.audit.forms import OccurredAtField

from . import services
from .models import Companion, Patient, PatientStatus, Referral, ReferralStatus

CHOOSE = ("", _("Choose…"))


def _date_input(**attrs) -> forms.DateInput:
    # ISO values: what <input type=date> sends and shows, whatever the page language.
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", **attrs})


def _no_autocomplete(**attrs) -> forms.TextInput:
    # A shared hospital computer must not offer the names or ID numbers typed before.
    return forms.TextInput(attrs={"autocomplete": "off", **attrs})


PERSON_WIDGETS = {
    "name_latin": _no_autocomplete(dir="ltr"),
    "name_arabic": _no_autocomplete(dir="rtl", lang="ar"),
    "national_id": _no_autocomplete(inputmode="numeric", dir="ltr"),
    "date_of_birth": _date_input(),
}


def _must_choose(form: forms.Form, *names: str) -> None:
    for name in names:
        field = form.fields[name]
        field.choices = [CHOOSE, *[c for c in field.choices if c[0] != ""]]
        field.required = True


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put each message of a service's ValidationError beside its field (on the form itself
    for a field the form does not show)."""
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for name, messages in error.message_dict.items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)


class FieldGroups:
    """Parts of a form rendered one after the other by `_form_fields.html`, each in its own
    box: `{% include "_form_fields.html" with form=form.groups.identity %}`."""

    field_groups: dict[str, tuple[str, ...]] = {}

    @property
    def groups(self) -> SimpleNamespace:
        return SimpleNamespace(
            **{
                key: SimpleNamespace(
                    visible_fields=[self[name] for name in names],
                    hidden_fields=[],
                    non_field_errors=[],
                )
                for key, names in self.field_groups.items()
            }
        )


class PatientForm(FieldGroups, forms.ModelForm):
    field_groups = {
        "identity": ("name_latin", "name_arabic", "national_id", "date_of_birth", "sex"),
        "contact": ("phone", "sms_consent", "contact_language"),
        "case": ("facility", "priority", "clinical_category", "diagnosis"),
        "needs": (
            "needs_stretcher",
            "needs_wheelchair",
            "needs_oxygen",
            "needs_incubator",
            "needs_escort_nurse",
        ),
    }

    class Meta:
        model = Patient
        fields = services.PATIENT_EDITABLE
        field_classes = {"facility": FacilityChoiceField}
        widgets = {
            **PERSON_WIDGETS,
            "phone": forms.TextInput(attrs={"type": "tel", "dir": "ltr", "autocomplete": "off"}),
            "diagnosis": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "national_id": _("Digits only; spaces and dashes are ignored."),
            "diagnosis": _("Clinical detail. Auditors never see it."),
        }

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        facility = self.fields["facility"]
        facility.queryset = Facility.objects.visible_to(actor).filter(is_active=True)
        facility.empty_label = CHOOSE[1]
        _must_choose(self, "priority", "clinical_category", "sex")
        self.fields["date_of_birth"].widget.attrs["max"] = timezone.localdate().isoformat()

    def clean(self):
        data = super().clean()
        number = data.get("national_id")
        if number and "national_id" not in self.errors:
            # The service checks again under a lock when it saves; this shows it beside the
            # field first, naming the other case only to someone who may open it.
            try:
                services.refuse_duplicate_national_id(Patient, national_id=number, actor=self.actor)
            except ValidationError as exc:
                self.add_error("national_id", exc.message_dict["national_id"])
        return data

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in services.PATIENT_EDITABLE}


class CompanionForm(forms.ModelForm):
    class Meta:
        model = Companion
        fields = services.COMPANION_EDITABLE
        widgets = {**PERSON_WIDGETS, "relationship": _no_autocomplete()}
        help_texts = {
            "relationship": _("For example mother, brother, husband."),
            "is_guardian": _("An adult responsible for a patient under 18."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _must_choose(self, "sex")
        self.fields["date_of_birth"].widget.attrs["max"] = timezone.localdate().isoformat()

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in services.COMPANION_EDITABLE}


def companion_formset_class():
    """Up to the companions that may travel with a patient, each row optional."""
    limit = settings.MAX_COMPANIONS_PER_PATIENT
    return forms.formset_factory(
        CompanionForm, extra=limit, max_num=limit, validate_max=True, absolute_max=limit
    )


class ReferralForm(forms.ModelForm):
    class Meta:
        model = Referral
        fields = services.REFERRAL_EDITABLE
        field_classes = {"referring_facility": FacilityChoiceField}
        widgets = {
            "number": _no_autocomplete(dir="ltr"),
            "issued_on": _date_input(),
            "expires_on": _date_input(),
        }

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        facility = self.fields["referring_facility"]
        facility.queryset = Facility.objects.visible_to(actor).filter(is_active=True)
        facility.empty_label = CHOOSE[1]

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in services.REFERRAL_EDITABLE}


class Registration:
    """One page, one form: the patient, up to the allowed companions, and a referral if the
    patient holds one already. Saved all or nothing by `patient_register_with_family`."""

    def __init__(self, *, actor, data=None):
        self.patient = PatientForm(data, actor=actor)
        self.companions = companion_formset_class()(data, prefix="companions")
        # Optional as a whole: left empty it is not checked; begun, it must be complete.
        self.referral = ReferralForm(
            data, actor=actor, prefix="referral", empty_permitted=True, use_required_attribute=False
        )

    def is_valid(self) -> bool:
        # Every part checked, so every mistake shows at once.
        results = [self.patient.is_valid(), self.companions.is_valid(), self.referral.is_valid()]
        return all(results)

    def companion_forms(self) -> list[CompanionForm]:
        """The rows the user filled in, in order."""
        return [form for form in self.companions.forms if form.has_changed()]

    def service_kwargs(self) -> dict:
        return {
            "patient": self.patient.service_data(),
            "companions": [form.service_data() for form in self.companion_forms()],
            "referral": self.referral.service_data() if self.referral.has_changed() else None,
        }

    def add_errors(self, refused: services.RegistrationRefused) -> None:
        filled = self.companion_forms()
        for part, index, error in refused.parts:
            if part == "patient":
                form = self.patient
            elif part == "referral":
                form = self.referral
            else:
                form = filled[index]
            add_service_errors(form, error)

    def has_guardian(self) -> bool:
        return any(form.cleaned_data.get("is_guardian") for form in self.companion_forms())


DECISION_LABELS = {
    ReferralStatus.APPROVED: _("Approve"),
    ReferralStatus.REJECTED: _("Reject"),
    ReferralStatus.EXPIRED: _("Mark as expired"),
}


class ReferralDecisionForm(forms.Form):
    status = forms.ChoiceField(label=_("Decision"))

    def __init__(self, *args, referral: Referral, **kwargs):
        kwargs.setdefault("auto_id", f"id_referral{referral.pk}_%s")
        super().__init__(*args, **kwargs)
        allowed = services.REFERRAL_DECISIONS.get(referral.status, set())
        field = self.fields["status"]
        # Any decision is accepted, so a page left open while someone else decided gets the
        # service's reason (shown on the page), not a bare "not a valid choice"; only those
        # allowed now are offered.
        field.choices = [CHOOSE, *DECISION_LABELS.items()]
        field.widget.choices = [
            CHOOSE,
            *[(value, label) for value, label in DECISION_LABELS.items() if value in allowed],
        ]

    @staticmethod
    def offered(referral: Referral) -> bool:
        return bool(services.REFERRAL_DECISIONS.get(referral.status))


class StatusForm(forms.Form):
    """A death or a withdrawal: it ends the case and cannot be undone."""

    status = forms.ChoiceField(
        label=_("What happened"),
        choices=[
            CHOOSE,
            (PatientStatus.DECEASED, _("The patient died")),
            (PatientStatus.WITHDRAWN, _("The patient withdrew (no longer wants to travel)")),
        ],
    )
    reason_text = forms.CharField(
        label=_("Details"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Who told us, and what else the case history should keep."),
    )
    # The day of a death counts in the reports: say it when it is recorded later.
    occurred_at = OccurredAtField()
