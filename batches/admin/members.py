"""The back office's manifest lines: adding a person to a batch, recording clearances and
taking people off a draft batch."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.admin import NothingToSaveMixin
from casetracker.accounts.admin_base import RoleAdminMixin
from casetracker.errors import TransitionRefused
from patients.admin import refused_message

from .. import services
from ..forms import line_label
from ..models import BatchMember, Clearance


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
