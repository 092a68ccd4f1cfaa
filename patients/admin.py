from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from casetracker.accounts.admin_base import RoleAdminMixin, ServiceAdminMixin
from casetracker.accounts.permissions import WRITE_ROLES
from casetracker.accounts.roles import Role, user_role
from casetracker.errors import TransitionRefused

from . import services
from .models import (
    READINESS_FLAGS,
    Companion,
    Patient,
    PatientStatus,
    Readiness,
    Referral,
    ReferralStatus,
    Returnee,
)


class CompanionInline(RoleAdminMixin, admin.TabularInline):
    model = Companion
    extra = 0
    fields = ("id", "name_latin", "name_arabic", "relationship", "is_guardian", "date_of_birth")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # companions are added on their own page, through the service

    def has_change_permission(self, request, obj=None):
        return False


class ReferralInline(CompanionInline):
    model = Referral
    fields = ("number", "specialty", "destination_country", "issued_on", "expires_on", "status")
    readonly_fields = fields


@admin.register(Patient)
class PatientAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = (
        "case_reference",
        "priority",
        "clinical_category",
        "facility",
        "status",
        "registered_at",
    )
    list_filter = ("status", "priority", "clinical_category", "facility")
    list_select_related = ("facility",)
    search_fields = ("case_reference",)
    readonly_fields = ("case_reference", "status", "registered_at")
    inlines = [CompanionInline, ReferralInline]
    actions = ["record_withdrawn", "record_deceased"]
    create_service = services.patient_register
    update_service = services.patient_update
    instance_kwarg = "patient"

    def get_exclude(self, request, obj=None):
        # Auditors review history, not clinical detail.
        return ("diagnosis",) if user_role(request.user) is Role.AUDITOR else ()

    def _record_status(self, request, queryset, status):
        for patient in queryset:
            try:
                services.patient_set_status(patient=patient, status=status, actor=request.user)
            except (TransitionRefused, ValidationError) as exc:
                self.message_user(request, f"{patient}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{patient}: recorded as {status}")

    @admin.action(description="Record as withdrawn", permissions=["change"])
    def record_withdrawn(self, request, queryset):
        self._record_status(request, queryset, PatientStatus.WITHDRAWN)

    @admin.action(description="Record as deceased", permissions=["change"])
    def record_deceased(self, request, queryset):
        self._record_status(request, queryset, PatientStatus.DECEASED)


@admin.register(Companion)
class CompanionAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("id", "patient", "relationship", "is_guardian")
    list_select_related = ("patient",)
    search_fields = ("patient__case_reference",)
    autocomplete_fields = ("patient",)
    create_service = services.companion_add
    update_service = services.companion_update
    instance_kwarg = "companion"

    def get_readonly_fields(self, request, obj=None):
        return ("patient",) if obj else ()


@admin.register(Referral)
class ReferralAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("number", "patient", "specialty", "destination_country", "expires_on", "status")
    list_filter = ("status", "destination_country")
    list_select_related = ("patient",)
    search_fields = ("number", "patient__case_reference")
    autocomplete_fields = ("patient", "referring_facility")
    readonly_fields = ("status",)
    actions = ["approve", "reject", "expire"]
    create_service = services.referral_create

    def get_readonly_fields(self, request, obj=None):
        # Once issued a referral is a document: only its decision changes, by the actions.
        if obj is None:
            return ("status",)
        return [f.name for f in Referral._meta.fields if f.name != "id"]

    def _decide(self, request, queryset, status):
        for referral in queryset:
            try:
                services.referral_decide(referral=referral, status=status, actor=request.user)
            except (TransitionRefused, ValidationError) as exc:
                self.message_user(request, f"{referral}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{referral}: {status}")

    @admin.action(description="Approve", permissions=["change"])
    def approve(self, request, queryset):
        self._decide(request, queryset, ReferralStatus.APPROVED)

    @admin.action(description="Reject", permissions=["change"])
    def reject(self, request, queryset):
        self._decide(request, queryset, ReferralStatus.REJECTED)

    @admin.action(description="Mark expired", permissions=["change"])
    def expire(self, request, queryset):
        self._decide(request, queryset, ReferralStatus.EXPIRED)


def _describe_change(change) -> str:
    # The note's text is left out: it may carry clinical detail and the page is seen by auditors.
    return ", ".join(
        "note changed" if name == "note" else f"{name} {change.old.get(name)} → {value}"
        for name, value in change.new.items()
        if change.old.get(name) != value
    )


@admin.register(Readiness)
class ReadinessAdmin(RoleAdminMixin, admin.ModelAdmin):
    """Hospital staff report here whether their patients are ready to travel."""

    write_roles = WRITE_ROLES | {Role.HOSPITAL_STAFF}
    list_display = ("patient", *READINESS_FLAGS, "updated_at")
    list_filter = READINESS_FLAGS
    list_select_related = ("patient",)
    search_fields = ("patient__case_reference",)
    fields = ("patient", *READINESS_FLAGS, "note", "updated_by", "updated_at", "history")
    readonly_fields = ("patient", "updated_by", "updated_at", "history")

    def has_add_permission(self, request, obj=None):
        return False  # every patient gets a readiness row when registered

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The free-text note may carry clinical detail, which auditors do not see.
        if user_role(request.user) is Role.AUDITOR:
            return [f for f in fields if f != "note"]
        return fields

    @admin.display(description="History (newest first)")
    def history(self, obj):
        changes = obj.patient.readiness_history.select_related("changed_by")
        rows = (
            (
                f"{c.changed_at:%Y-%m-%d %H:%M}",
                c.changed_by.username if c.changed_by else "-",
                _describe_change(c),
            )
            for c in changes
        )
        return format_html_join(mark_safe("<br>"), "{} {}: {}", rows) or "-"

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        saved = services.readiness_update(patient=obj.patient, actor=request.user, **changes)
        obj.__dict__.update(saved.__dict__)


@admin.register(Returnee)
class ReturneeAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("reference", "left_on", "status", "registered_at")
    list_filter = ("status",)
    search_fields = ("reference",)
    readonly_fields = ("reference", "status", "registered_at")
    actions = ["withdraw"]
    create_service = services.returnee_register

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return [f.name for f in Returnee._meta.fields if f.name != "id"]

    @admin.action(description="Record as withdrawn", permissions=["change"])
    def withdraw(self, request, queryset):
        for returnee in queryset:
            try:
                services.returnee_withdraw(returnee=returnee, actor=request.user)
            except TransitionRefused as exc:
                self.message_user(request, f"{returnee}: {exc}", messages.ERROR)
