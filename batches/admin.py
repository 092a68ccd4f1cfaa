"""Back office for batches. Every button and action calls the same services as the API."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.admin import NothingToSaveMixin
from casetracker.accounts.admin_base import RoleAdminMixin, ServiceAdminMixin
from casetracker.accounts.policy import admin_allows
from casetracker.accounts.roles import user_role
from casetracker.errors import TransitionRefused
from patients.admin import refused_message

from . import services
from .forms import line_label
from .models import (
    DEFAULT_CROSSING,
    Batch,
    BatchMember,
    Clearance,
    Crossing,
    CrossingQuota,
    CrossingState,
    Direction,
    InformationSource,
    Statement,
)
from .services.crossings import (
    DETAILS,
    code_problem,
    crossing_create,
    crossing_set_state,
    crossing_update,
    prefix_problem,
)
from .services.quotas import QUOTA_NOTE_MAX_LENGTH
from .states import LABELS
from .steps import STEP_FORMS, allowed_steps

# Transitions that need nothing but a confirmation; the others ask for input on their own page.
SIMPLE = ("prepare", "reopen", "submit", "clear", "depart")


class MemberInline(RoleAdminMixin, admin.TabularInline):
    model = BatchMember
    extra = 0
    fields = (
        "person",
        "kind_label",
        "is_open",
        "end_reason",
        "clearance",
        "clearance_note",
        "outcome",
    )
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("person"))
    def person(self, obj):
        return line_label(obj)

    @admin.display(description=_("kind"))
    def kind_label(self, obj):
        return BatchMember._meta.get_field(obj.kind).verbose_name

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("patient", "companion__patient", "returnee", "batch")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StatementInline(admin.TabularInline):
    """What parties said later about the batch, read-only: a statement is added on the batch
    page or through the API (`statement_add`), each an audit event. Whoever may view the batch
    sees them (statements have no admin pages of their own)."""

    model = Statement
    extra = 0
    fields = ("said_at", "source", "relayed_by", "about_cancellation", "said", "recorded")
    readonly_fields = fields

    @admin.display(description=_("what was said"))
    def said(self, obj):
        redaction = obj.event.redaction
        return redaction.sentence() if redaction is not None else obj.text

    @admin.display(description=_("recorded"))
    def recorded(self, obj):
        who = obj.recorded_by.username if obj.recorded_by_id else "—"
        return f"{who}, {date_format(timezone.localtime(obj.recorded_at), 'SHORT_DATETIME_FORMAT')}"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .visible_to(request.user)
            .select_related("recorded_by", "event__text_row__redacted_by")
        )

    def has_view_permission(self, request, obj=None):
        return admin_allows("batches.batch", "view", user_role(request.user))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Batch)
class BatchAdmin(NothingToSaveMixin, ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("code", "direction", "planned_date", "staging_facility", "status")
    list_filter = ("status", "direction", "crossing", "staging_facility", "cancel_reason_code")
    list_select_related = ("staging_facility",)
    search_fields = ("code",)
    date_hierarchy = "planned_date"
    inlines = [MemberInline, StatementInline]
    actions = [f"action_{name}" for name in SIMPLE]
    change_form_template = "admin/batches/batch/change_form.html"
    create_service = services.batch_create

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("crossing", "direction", "planned_date", "staging_facility")
        return (
            "code",
            "crossing",
            "direction",
            "planned_date",
            "staging_facility",
            "status",
            "rescheduled_from",
            "cancel_reason_code",
            "cancel_reason_text",
            "cancel_source",
            "cancel_relayed_by",
            "cancelled_from",
            "cancelled_at",
            "created_by",
            "created_at",
        )

    def get_readonly_fields(self, request, obj=None):
        # A batch's day and place are fixed at creation: a change is a cancel and reschedule.
        return () if obj is None else self.get_fields(request, obj)

    def get_changeform_initial_data(self, request):
        return {"crossing": DEFAULT_CROSSING, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if change:
            return
        saved = services.batch_create(actor=request.user, **form.cleaned_data)
        obj.__dict__.update(saved.__dict__)

    def get_urls(self):
        view = self.admin_site.admin_view(self.transition_view)
        return [
            path("<int:object_id>/transition/<str:name>/", view, name="batches_batch_transition"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.has_change_permission(request, obj):
            context["transitions"] = [
                (
                    step.name,
                    step.label,
                    reverse("admin:batches_batch_transition", args=[obj.pk, step.name]),
                    step.needs_form,
                )
                for step in allowed_steps(obj)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def transition_view(self, request, object_id, name):
        if name not in (*SIMPLE, *STEP_FORMS):
            raise PermissionDenied
        batch = get_object_or_404(self.get_queryset(request), pk=object_id)
        self.require_write(request)
        change_url = reverse("admin:batches_batch_change", args=[batch.pk])
        form_class = STEP_FORMS.get(name)
        extra = {}
        if name == "cross":
            extra["lines"] = list(
                batch.members.filter(is_open=True).select_related(
                    "batch", "patient", "companion__patient", "returnee"
                )
            )
        if form_class is None:
            form = None
            if request.method == "POST":
                return self._run(request, batch, name, change_url)
        else:
            form = form_class(request.POST or None, **extra)
            if request.method == "POST" and form.is_valid():
                kwargs = form.outcomes() if name == "cross" else form.cleaned_data
                if name == "cross":
                    kwargs = {"outcomes": kwargs}
                return self._run(request, batch, name, change_url, **kwargs)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "batch": batch,
            "name": name,
            "form": form,
            # First-strong isolate: the Latin code stays one word inside Arabic text.
            "title": f"{LABELS[name]}: \u2068{batch.code}\u2069",
            "label": LABELS[name],
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/batches/batch/transition.html", context)

    def _step(self, request, batch, name, **kwargs) -> Batch | None:
        """Take one step through the service and say what came of it; None when refused."""
        try:
            result = getattr(services, f"batch_{name}")(batch=batch, actor=request.user, **kwargs)
        except (TransitionRefused, ValidationError) as exc:
            summary = gettext("Batch %(code)s was not changed: “%(step)s” is not possible.") % {
                "code": batch.code,
                "step": LABELS[name],
            }
            self.message_user(request, refused_message(summary, exc), messages.ERROR)
            return None
        if name == "reschedule":
            message = gettext(
                "Batch %(old)s is rescheduled: new draft batch %(code)s has the same people."
            ) % {"old": batch.code, "code": result.code}
        else:
            message = gettext("Batch %(code)s is now %(status)s.") % {
                "code": result.code,
                "status": result.get_status_display(),
            }
        self.message_user(request, message, messages.SUCCESS)
        return result

    def _run(self, request, batch, name, change_url, **kwargs):
        result = self._step(request, batch, name, **kwargs)
        if result is None:
            return redirect(change_url)
        return redirect(reverse("admin:batches_batch_change", args=[result.pk]))

    def _bulk(self, request, queryset, name):
        for batch in queryset:
            self._step(request, batch, name)

    @admin.action(description=_("Prepare selected batches"), permissions=["change"])
    def action_prepare(self, request, queryset):
        self._bulk(request, queryset, "prepare")

    @admin.action(description=_("Reopen selected batches"), permissions=["change"])
    def action_reopen(self, request, queryset):
        self._bulk(request, queryset, "reopen")

    @admin.action(description=_("Submit selected batches for vetting"), permissions=["change"])
    def action_submit(self, request, queryset):
        self._bulk(request, queryset, "submit")

    @admin.action(description=_("Clear selected batches"), permissions=["change"])
    def action_clear(self, request, queryset):
        self._bulk(request, queryset, "clear")

    @admin.action(description=_("Record departure of selected batches"), permissions=["change"])
    def action_depart(self, request, queryset):
        self._bulk(request, queryset, "depart")


class MemberAddForm(forms.ModelForm):
    class Meta:
        model = BatchMember
        fields = ("batch", "patient", "companion", "returnee")

    def clean(self):
        data = super().clean()
        if self.instance.pk is not None:
            return data  # a saved line changes only through its actions
        given = [name for name in ("patient", "companion", "returnee") if data.get(name)]
        if len(given) != 1:
            raise ValidationError(
                _("Choose exactly one person: a patient, a companion or a returnee.")
            )
        return data


@admin.register(BatchMember)
class BatchMemberAdmin(NothingToSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    """Manifest lines. Adding a patient here adds no companions: add them as their own lines."""

    list_display = ("__str__", "kind_label", "person", "clearance", "outcome", "is_open")
    list_filter = ("clearance", "outcome", "is_open", "batch__status")
    list_select_related = ("batch", "patient", "companion__patient", "returnee")
    search_fields = ("batch__code", "patient__case_reference", "returnee__reference")
    autocomplete_fields = ("batch", "patient", "companion", "returnee")
    actions = ["clearance_approved", "clearance_rejected", "remove"]
    form = MemberAddForm

    @admin.display(description=_("person"))
    def person(self, obj):
        return line_label(obj)

    @admin.display(description=_("kind"))
    def kind_label(self, obj):
        return BatchMember._meta.get_field(obj.kind).verbose_name

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in BatchMember._meta.fields if f.name != "id"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        data, actor = form.cleaned_data, request.user
        try:
            if data.get("patient"):
                saved = services.batch_add_patient(
                    batch=data["batch"], patient=data["patient"], actor=actor
                )[0]
            elif data.get("companion"):
                saved = services.batch_add_companion(
                    batch=data["batch"], companion=data["companion"], actor=actor
                )
            else:
                saved = services.batch_add_returnee(
                    batch=data["batch"], returnee=data["returnee"], actor=actor
                )
        except TransitionRefused as exc:
            raise ValidationError(exc.problems) from exc
        obj.__dict__.update(saved.__dict__)

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as exc:
            summary = gettext("Nobody was added to the batch:")
            self.message_user(request, refused_message(summary, exc), messages.ERROR)
            return redirect(request.get_full_path())

    def _clearance(self, request, queryset, clearance):
        for line in queryset:
            names = {
                "person": line_label(line),
                "code": line.batch.code,
                "clearance": Clearance(clearance).label,
            }
            try:
                services.batch_record_clearance(
                    batch=line.batch, member=line, clearance=clearance, actor=request.user
                )
            except (TransitionRefused, ValidationError) as exc:
                summary = (
                    gettext("Clearance of %(person)s on batch %(code)s was not recorded:") % names
                )
                self.message_user(request, refused_message(summary, exc), messages.ERROR)
            else:
                message = (
                    gettext("Clearance of %(person)s on batch %(code)s recorded: %(clearance)s.")
                    % names
                )
                self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Record clearance: approved"), permissions=["change"])
    def clearance_approved(self, request, queryset):
        self._clearance(request, queryset, Clearance.APPROVED)

    @admin.action(description=_("Record clearance: rejected"), permissions=["change"])
    def clearance_rejected(self, request, queryset):
        self._clearance(request, queryset, Clearance.REJECTED)

    @admin.action(description=_("Take off the draft batch"), permissions=["change"])
    def remove(self, request, queryset):
        for line in queryset:
            # Removing a patient removes their companions: those lines may be gone already.
            if not BatchMember.objects.filter(pk=line.pk).exists():
                continue
            names = {"person": line_label(line), "code": line.batch.code}
            try:
                services.batch_remove_member(batch=line.batch, member=line, actor=request.user)
            except (TransitionRefused, ValidationError) as exc:
                summary = gettext("%(person)s was not taken off batch %(code)s:") % names
                self.message_user(request, refused_message(summary, exc), messages.ERROR)
            else:
                message = gettext("%(person)s is taken off batch %(code)s.") % names
                self.message_user(request, message, messages.SUCCESS)


# --- Crossings and their quotas -------------------------------------------------------------


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
