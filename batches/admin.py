"""Back office for batches. Every button and action calls the same services as the API."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from casetracker.accounts.admin_base import RoleAdminMixin, ServiceAdminMixin
from casetracker.accounts.models import Facility
from casetracker.errors import TransitionRefused

from . import services
from .models import (
    Batch,
    BatchMember,
    BatchStatus,
    CancelReason,
    Clearance,
    CrossingQuota,
    InformationSource,
    Outcome,
)
from .states import LABELS, allowed_transitions

# Transitions that need nothing but a confirmation; the others ask for input on their own page.
SIMPLE = ("prepare", "reopen", "submit", "clear", "depart")


class CancelForm(forms.Form):
    reason_code = forms.ChoiceField(choices=CancelReason.choices)
    reason_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="What happened, in a sentence. If no reason was given, say so and who said it.",
    )
    source = forms.ChoiceField(choices=InformationSource.choices, help_text="Who informed us.")


class RescheduleForm(forms.Form):
    planned_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    staging_facility = forms.ModelChoiceField(
        queryset=Facility.objects.filter(is_active=True),
        required=False,
        help_text="Leave empty to keep the same staging facility.",
    )


class CrossForm(forms.Form):
    """One outcome per person on board."""

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"line_{line.pk}"] = forms.ChoiceField(
                label=f"{line.kind}: {line.person_reference}",
                choices=Outcome.choices,
                initial=Outcome.CROSSED,
            )

    def outcomes(self) -> dict[int, str]:
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] for line in self.lines}


FORMS = {"cancel": CancelForm, "reschedule": RescheduleForm, "cross": CrossForm}


class MemberInline(RoleAdminMixin, admin.TabularInline):
    model = BatchMember
    extra = 0
    fields = (
        "person",
        "kind",
        "is_open",
        "end_reason",
        "clearance",
        "clearance_note",
        "outcome",
    )
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="person")
    def person(self, obj):
        return obj.person_reference

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


@admin.register(Batch)
class BatchAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("code", "direction", "planned_date", "staging_facility", "status")
    list_filter = ("status", "direction", "crossing", "staging_facility", "cancel_reason_code")
    list_select_related = ("staging_facility",)
    search_fields = ("code",)
    date_hierarchy = "planned_date"
    inlines = [MemberInline]
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
            "cancelled_from",
            "cancelled_at",
            "created_by",
            "created_at",
        )

    def get_readonly_fields(self, request, obj=None):
        # A batch's day and place are fixed at creation: a change is a cancel and reschedule.
        return () if obj is None else self.get_fields(request, obj)

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
            names = allowed_transitions(obj.status)
            if obj.status == BatchStatus.CANCELLED and not hasattr(obj, "rescheduled_as"):
                names.append("reschedule")
            context["transitions"] = [
                (
                    name,
                    LABELS[name],
                    reverse("admin:batches_batch_transition", args=[obj.pk, name]),
                    name in FORMS,
                )
                for name in names
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def transition_view(self, request, object_id, name):
        if name not in (*SIMPLE, *FORMS):
            raise PermissionDenied
        batch = get_object_or_404(self.get_queryset(request), pk=object_id)
        self.require_write(request)
        change_url = reverse("admin:batches_batch_change", args=[batch.pk])
        form_class = FORMS.get(name)
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

    def _run(self, request, batch, name, change_url, **kwargs):
        try:
            result = getattr(services, f"batch_{name}")(batch=batch, actor=request.user, **kwargs)
        except TransitionRefused as exc:
            for problem in exc.problems:
                self.message_user(request, problem, messages.ERROR)
            return redirect(change_url)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return redirect(change_url)
        self.message_user(request, f"{result.code}: {name} done, now {result.get_status_display()}")
        return redirect(reverse("admin:batches_batch_change", args=[result.pk]))

    def _bulk(self, request, queryset, name):
        for batch in queryset:
            try:
                getattr(services, f"batch_{name}")(batch=batch, actor=request.user)
            except TransitionRefused as exc:
                self.message_user(request, f"{batch.code}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{batch.code}: {name} done")

    @admin.action(description="Prepare selected batches", permissions=["change"])
    def action_prepare(self, request, queryset):
        self._bulk(request, queryset, "prepare")

    @admin.action(description="Reopen selected batches", permissions=["change"])
    def action_reopen(self, request, queryset):
        self._bulk(request, queryset, "reopen")

    @admin.action(description="Submit selected batches for vetting", permissions=["change"])
    def action_submit(self, request, queryset):
        self._bulk(request, queryset, "submit")

    @admin.action(description="Clear selected batches", permissions=["change"])
    def action_clear(self, request, queryset):
        self._bulk(request, queryset, "clear")

    @admin.action(description="Record departure of selected batches", permissions=["change"])
    def action_depart(self, request, queryset):
        self._bulk(request, queryset, "depart")


class MemberAddForm(forms.ModelForm):
    class Meta:
        model = BatchMember
        fields = ("batch", "patient", "companion", "returnee")

    def clean(self):
        data = super().clean()
        given = [name for name in ("patient", "companion", "returnee") if data.get(name)]
        if len(given) != 1:
            raise ValidationError("Choose exactly one of patient, companion or returnee.")
        return data


@admin.register(BatchMember)
class BatchMemberAdmin(RoleAdminMixin, admin.ModelAdmin):
    """Manifest lines. Adding a patient here adds no companions: add them as their own lines."""

    list_display = ("__str__", "kind", "person", "clearance", "outcome", "is_open")
    list_filter = ("clearance", "outcome", "is_open", "batch__status")
    list_select_related = ("batch", "patient", "companion__patient", "returnee")
    search_fields = ("batch__code", "patient__case_reference", "returnee__reference")
    autocomplete_fields = ("batch", "patient", "companion", "returnee")
    actions = ["clearance_approved", "clearance_rejected", "remove"]
    form = MemberAddForm

    @admin.display(description="person")
    def person(self, obj):
        return obj.person_reference

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
            raise ValidationError(str(exc)) from exc
        obj.__dict__.update(saved.__dict__)

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return redirect(request.get_full_path())

    def _clearance(self, request, queryset, clearance):
        for line in queryset:
            try:
                services.batch_record_clearance(
                    batch=line.batch, member=line, clearance=clearance, actor=request.user
                )
            except (TransitionRefused, ValidationError) as exc:
                self.message_user(request, f"{line}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{line}: clearance {clearance}")

    @admin.action(description="Record clearance: approved", permissions=["change"])
    def clearance_approved(self, request, queryset):
        self._clearance(request, queryset, Clearance.APPROVED)

    @admin.action(description="Record clearance: rejected", permissions=["change"])
    def clearance_rejected(self, request, queryset):
        self._clearance(request, queryset, Clearance.REJECTED)

    @admin.action(description="Remove from draft batch", permissions=["change"])
    def remove(self, request, queryset):
        for line in queryset:
            # Removing a patient removes their companions: those lines may be gone already.
            if not BatchMember.objects.filter(pk=line.pk).exists():
                continue
            try:
                services.batch_remove_member(batch=line.batch, member=line, actor=request.user)
            except (TransitionRefused, ValidationError) as exc:
                self.message_user(request, f"{line}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{line}: removed")


@admin.register(CrossingQuota)
class CrossingQuotaAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ("date", "crossing", "direction", "agreed_patients", "agreed_companions")
    list_filter = ("crossing", "direction")
    date_hierarchy = "date"

    def get_readonly_fields(self, request, obj=None):
        # A quota is the agreement of one day: its numbers change, never its day or direction.
        return ("crossing", "date", "direction") if obj else ()

    def save_model(self, request, obj, form, change):
        saved = services.quota_set(
            crossing=obj.crossing,
            day=obj.date,
            direction=obj.direction,
            agreed_patients=obj.agreed_patients,
            agreed_companions=obj.agreed_companions,
        )
        obj.__dict__.update(saved.__dict__)
