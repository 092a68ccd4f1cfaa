"""The back office's crossings and their quotas: adding a crossing, changing its details and
state, and setting a day's agreed numbers, each through its service."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.admin import NothingToSaveMixin
from casetracker.accounts.admin_base import RoleAdminMixin
from patients.admin import refused_message

from .. import services
from ..models import (
    DEFAULT_CROSSING,
    Crossing,
    CrossingQuota,
    CrossingState,
    Direction,
    InformationSource,
)
from ..services.crossings import (
    DETAILS,
    code_problem,
    crossing_create,
    crossing_set_state,
    crossing_update,
    prefix_problem,
)
from ..services.quotas import QUOTA_NOTE_MAX_LENGTH


def _refused_and_back(admin_obj, request, view, *args):
    """Run an add or change page; a refusal the form could not foresee (someone changed the
    row meanwhile) comes back as a message on the same page, never a server error. The page's
    own transaction rolls everything back."""
    try:
        return view(request, *args)
    except ValidationError as exc:
        summary = gettext("Nothing was saved:")
        admin_obj.message_user(request, refused_message(summary, exc), messages.ERROR)
        return redirect(request.get_full_path())


class CrossingForm(forms.ModelForm):
    """Adding a crossing, or changing its names, hours and note; its state changes through the
    three fields below (the service records since when, why and who told us)."""

    new_state = forms.ChoiceField(
        choices=[("", _("unchanged")), *CrossingState.choices],
        required=False,
        label=_("change the state to"),
    )
    why = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=500,
        label=_("why"),
        help_text=_("Required to close or restrict the crossing."),
    )
    informed_by = forms.ChoiceField(
        choices=[("", "---------"), *InformationSource.choices],
        required=False,
        label=_("who informed us"),
        help_text=_("Required to close or restrict the crossing."),
    )
    since = forms.SplitDateTimeField(
        required=False,
        widget=AdminSplitDateTime,
        label=_("since"),
        help_text=_("When the state changed, if not now."),
    )

    class Meta:
        model = Crossing
        fields = ("code", "prefix", "name_en", "name_ar", "opens_at", "closes_at", "note")

    def clean_code(self):
        code = self.cleaned_data["code"]
        if self.instance.pk is None and (problem := code_problem(code)):
            raise ValidationError(problem)
        return code

    def clean_prefix(self):
        prefix = self.cleaned_data["prefix"]
        if self.instance.pk is None and (problem := prefix_problem(prefix)):
            raise ValidationError(problem)
        return prefix

    def clean(self):
        data = super().clean()
        if (data.get("opens_at") is None) != (data.get("closes_at") is None):
            self.add_error("closes_at", _("give both the opening and the closing time, or neither"))
        if data.get("new_state") in (CrossingState.CLOSED, CrossingState.RESTRICTED):
            for name in ("why", "informed_by"):
                if not data.get(name):
                    self.add_error(name, _("Required to close or restrict the crossing."))
        return data


@admin.register(Crossing)
class CrossingAdmin(NothingToSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    list_display = ("name_en", "name_ar", "code", "prefix", "state", "state_since", "daily_hours")
    list_filter = ("state",)
    form = CrossingForm
    STATE_FIELDS = ("new_state", "why", "informed_by", "since")

    @admin.display(description=_("daily hours"))
    def daily_hours(self, obj):
        return obj.hours or "—"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("code", "prefix", "name_en", "name_ar", "opens_at", "closes_at", "note")
        return (
            "code",
            "prefix",
            "name_en",
            "name_ar",
            "opens_at",
            "closes_at",
            "note",
            "state",
            "state_since",
            "state_reason",
            "state_source",
            *self.STATE_FIELDS,
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("code", "prefix", "state", "state_since", "state_reason", "state_source")

    def save_model(self, request, obj, form, change):
        data, actor = form.cleaned_data, request.user
        if not change:
            saved = crossing_create(actor=actor, **{name: data[name] for name in form.Meta.fields})
        else:
            saved = Crossing.objects.get(pk=obj.pk)
            details = {name: data[name] for name in form.changed_data if name in DETAILS}
            if details:
                saved = crossing_update(crossing=saved, actor=actor, **details)
            if data.get("new_state"):
                saved = crossing_set_state(
                    crossing=saved,
                    state=data["new_state"],
                    actor=actor,
                    reason_text=data.get("why", ""),
                    source=data.get("informed_by", ""),
                    occurred_at=data.get("since"),
                )
        obj.__dict__.update(saved.__dict__)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return _refused_and_back(
            self, request, super().changeform_view, object_id, form_url, extra_context
        )


def _other_direction_link(direction: str):
    url = reverse("admin:batches_crossingquota_add") + f"?direction={direction}"
    text = (
        gettext("Add a return quota instead")
        if direction == Direction.RETURN
        else gettext("Add an exit quota instead")
    )
    return format_html('<a href="{}">{}</a>', url, text)


class QuotaForm(forms.ModelForm):
    """A day's agreed numbers, in the words of its direction: out, patients and companions;
    back in, returnees only (a return quota has no companions, and this form has no field for
    them). A change of the numbers says who agreed it; every setting is an audit event."""

    DIRECTION = Direction.EXIT

    source = forms.ChoiceField(
        choices=[("", "---------"), *InformationSource.choices],
        required=False,
        label=_("who agreed these numbers"),
        help_text=_("Required to change a day's numbers."),
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=QUOTA_NOTE_MAX_LENGTH,
        label=_("note"),
        help_text=_("What was agreed and how, for the audit log."),
    )

    class Meta:
        model = CrossingQuota
        fields = ("crossing", "date", "direction", "agreed_patients", "agreed_companions")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "direction" in self.fields:  # the add page: this form's direction only
            self.fields["direction"] = forms.ChoiceField(
                choices=[(self.DIRECTION, Direction(self.DIRECTION).label)],
                initial=self.DIRECTION,
                label=_("direction"),
                help_text=_other_direction_link(
                    Direction.RETURN if self.DIRECTION == Direction.EXIT else Direction.EXIT
                ),
            )
        if "crossing" in self.fields:
            self.fields["crossing"].initial = DEFAULT_CROSSING

    def numbers(self) -> dict:
        data = self.cleaned_data
        return {name: data.get(name) for name in ("agreed_patients", "agreed_companions")}

    def old_numbers(self) -> dict:
        return {name: self.initial.get(name) for name in ("agreed_patients", "agreed_companions")}

    def clean(self):
        data = super().clean()
        changed = self.instance.pk is not None and self.numbers() != self.old_numbers()
        if changed and not data.get("source"):
            self.add_error("source", _("Say who agreed the new numbers."))
        return data

    def _post_clean(self):
        # The service checks the row (one quota per day, crossing and direction): the model's
        # own validation would refuse a day that already has its quota, which the service
        # changes instead.
        pass


class ReturnQuotaForm(QuotaForm):
    DIRECTION = Direction.RETURN

    agreed_returnees = forms.IntegerField(
        min_value=0, max_value=2_147_483_647, label=_("agreed returnees")
    )

    class Meta:
        model = CrossingQuota
        fields = ("crossing", "date", "direction")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["agreed_returnees"] = self.instance.agreed_patients

    def numbers(self) -> dict:
        return {"agreed_returnees": self.cleaned_data.get("agreed_returnees")}

    def old_numbers(self) -> dict:
        return {"agreed_returnees": self.initial.get("agreed_returnees")}


@admin.register(CrossingQuota)
class CrossingQuotaAdmin(NothingToSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    list_display = ("date", "crossing", "direction", "agreed")
    list_filter = ("crossing", "direction")
    list_select_related = ("crossing",)
    date_hierarchy = "date"

    @admin.display(description=_("agreed"))
    def agreed(self, obj):
        if obj.is_exit:
            return gettext("%(patients)s patients, %(companions)s companions") % {
                "patients": obj.agreed_patients,
                "companions": obj.agreed_companions,
            }
        return gettext("%(returnees)s returnees") % {"returnees": obj.agreed_patients}

    def _direction(self, request, obj) -> str:
        if obj is not None:
            return obj.direction
        return request.POST.get("direction") or request.GET.get("direction") or Direction.EXIT

    def get_form(self, request, obj=None, change=False, **kwargs):
        returning = self._direction(request, obj) == Direction.RETURN
        kwargs["form"] = ReturnQuotaForm if returning else QuotaForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # A quota is the agreement of one day: its numbers change, never its day or direction.
        return ("crossing", "date", "direction") if obj else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:  # the day, crossing and direction are read-only: the row's own
            data = {
                **data,
                "crossing": obj.crossing_id,
                "date": obj.date,
                "direction": obj.direction,
            }
        saved = services.quota_set(
            actor=request.user,
            crossing=data["crossing"],
            day=data["date"],
            direction=data["direction"],
            **form.numbers(),
            source=data.get("source", ""),
            reason_text=data.get("note", ""),
        )
        obj.__dict__.update(saved.__dict__)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return _refused_and_back(
            self, request, super().changeform_view, object_id, form_url, extra_context
        )
