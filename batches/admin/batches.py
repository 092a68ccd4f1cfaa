"""The back office's batch pages: the list, the change page with its manifest lines and
statements, the transition buttons and the bulk actions."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.admin import NothingToSaveMixin
from casetracker.accounts.admin_base import RoleAdminMixin, ServiceAdminMixin
from casetracker.accounts.policy import admin_allows
from casetracker.accounts.roles import user_role
from casetracker.errors import TransitionRefused
from patients.admin import refused_message

from .. import services
from ..forms import line_label
from ..models import DEFAULT_CROSSING, Batch, BatchMember, Statement
from ..states import LABELS
from ..steps import STEP_FORMS, allowed_steps

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
