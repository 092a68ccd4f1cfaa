from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.admin_base import RoleAdminMixin
from casetracker.accounts.roles import Role
from casetracker.errors import TransitionRefused

from .models import Event
from .redaction import REDACTION_REASON_MAX_LENGTH, text_redact


class RedactForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it is redacted"),
        max_length=REDACTION_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For instance: names a patient. Do not repeat the text."),
    )


@admin.register(Event)
class EventAdmin(RoleAdminMixin, admin.ModelAdmin):
    """The audit log, read-only for everyone, admins included; admins may redact the free text
    of an event (its own page, `redact/`), which blanks it and records who, when and why."""

    list_display = (
        "id",
        "created_at",
        "occurred_at",
        "subject_type",
        "subject_ref",
        "action",
        "from_state",
        "to_state",
        "actor",
        "actor_role",
        "reason_code",
        "source",
        "channel",
    )
    list_filter = ("subject_type", "action", "reason_code", "source", "channel", "actor_role")
    list_select_related = ("actor",)
    search_fields = ("subject_ref", "batch_ref", "request_id")
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("text_row__redacted_by")

    def get_readonly_fields(self, request, obj=None):
        # Admins see the text with the link that redacts it.
        text = "text_redactable" if self._role(request) is Role.ADMIN else "text_kept"
        return [text, *(f.name for f in Event._meta.fields)]

    @admin.display(description=_("text"))
    def text_kept(self, obj):
        """The text, or who redacted it, when and why."""
        if obj.redaction is not None:
            return obj.redaction.sentence()
        return obj.reason_text or "—"

    @admin.display(description=_("text"))
    def text_redactable(self, obj):
        if obj.kept_text is None or obj.redaction is not None:
            return self.text_kept(obj)
        url = reverse("admin:audit_event_redact", args=[obj.pk])
        return format_html(
            '{} <a class="button" href="{}">{}</a>', obj.reason_text, url, gettext("Redact")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view(self.redact_view)
        return [
            path("<int:object_id>/redact/", view, name="audit_event_redact"),
            *super().get_urls(),
        ]

    def redact_view(self, request, object_id):
        """Blank the event's text, with a reason (`text_redact`); admins only (the route
        policy says so, and the service checks it again)."""
        if self._role(request) is not Role.ADMIN:
            raise PermissionDenied
        event = get_object_or_404(self.get_queryset(request), pk=object_id)
        change_url = reverse("admin:audit_event_change", args=[event.pk])
        form = RedactForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                text_redact(text_id=event.pk, actor=request.user, **form.cleaned_data)
            except TransitionRefused as exc:
                self.message_user(request, " ".join(exc.problems), messages.ERROR)
                return redirect(change_url)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("reason", message)
            else:
                done = gettext("The text of event #%(id)s is redacted.") % {"id": event.pk}
                self.message_user(request, done, messages.SUCCESS)
                return redirect(change_url)
        title = gettext("Redact the text of event #%(id)s") % {"id": event.pk}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "event": event,
            "form": form,
            "title": title,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/audit/event/redact.html", context)
