from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from casetracker.accounts.admin import NothingToSaveMixin
from casetracker.accounts.admin_base import RoleAdminMixin, ServiceAdminMixin
from casetracker.accounts.roles import Role, user_role
from casetracker.errors import TransitionRefused
from casetracker.text import listed

from . import services
from .access import (
    Category,
    log_access,
    mask_national_id,
    record_category,
    shows_full_national_id,
)
from .fields import validate_national_id
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
from .names import normalise_name, validate_person_name
from .selectors import patient_search, search_kind


def problems_of(exc: Exception) -> list[str]:
    """The readable reasons a service gave for refusing."""
    if isinstance(exc, TransitionRefused):
        return exc.problems
    if isinstance(exc, ValidationError):
        return exc.messages
    return [str(exc)]


def refused_message(summary: str, exc: Exception):
    """One message: what was not done, then each reason on its own line."""
    return format_html(
        "{}<ul>{}</ul>",
        summary,
        format_html_join("", "<li>{}</li>", ((problem,) for problem in problems_of(exc))),
    )


class AccessLoggedAdminMixin:
    """Opening a person's page is logged like reading the record through the API
    (`patients/access.py`); saving it is logged by the service as the change it is."""

    def access_category(self, request) -> str:
        return Category.IDENTITY

    def access_subject(self, obj):
        return obj

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                log_access(
                    actor=request.user,
                    category=self.access_category(request),
                    subject=self.access_subject(obj),
                )
        return response


# Enough to pick the right person; a longer list means the search should be narrower.
FIND_LIMIT = 50


class PatientFindForm(forms.Form):
    # autocomplete off: the browser must not keep national IDs typed on a shared machine.
    national_id = forms.CharField(
        label=_("national ID"),
        max_length=20,
        required=False,
        validators=[validate_national_id],
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    name = forms.CharField(
        label=_("name (Latin or Arabic)"),
        min_length=2,
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_name(self) -> str:
        name = normalise_name(self.cleaned_data["name"])
        if name:
            validate_person_name(name)
        return name

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("national_id") and not data.get("name"):
            self.add_error("national_id", _("Give a national ID or a name to search for."))
        return data


class NationalIdCheckForm(forms.ModelForm):
    """Shows a duplicate national ID beside the field, as any other form error; the service
    checks again (under a lock) when it saves. `actor` is set per request by `get_form`."""

    actor = None

    def clean(self):
        data = super().clean()
        number = data.get("national_id")
        if number and "national_id" in self.changed_data and "national_id" not in self.errors:
            try:
                services.refuse_duplicate_national_id(
                    self._meta.model,
                    national_id=number,
                    actor=self.actor,
                    exclude_pk=self.instance.pk,
                )
            except ValidationError as exc:
                self.add_error("national_id", exc.message_dict["national_id"])
        return data


class NationalIdCheckMixin:
    form = NationalIdCheckForm

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user  # a new class per call: nothing leaks between requests
        return form


class ShownNationalIdAdminMixin:
    """Whole national ID numbers for coordinators and admins; everyone else reads the last four
    digits (the rule of the pages, the API and the manifests: `patients.access`)."""

    def get_exclude(self, request, obj=None):
        excluded = list(super().get_exclude(request, obj) or ())
        return excluded if shows_full_national_id(request.user) else [*excluded, "national_id"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if shows_full_national_id(request.user):
            return fields
        return [*(f for f in fields if f != "national_id"), "national_id_shown"]

    @admin.display(description=_("national ID"))
    def national_id_shown(self, obj) -> str:
        return mask_national_id(obj.national_id) if obj is not None else ""


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
class PatientAdmin(
    AccessLoggedAdminMixin,
    ShownNationalIdAdminMixin,
    NationalIdCheckMixin,
    NothingToSaveMixin,
    ServiceAdminMixin,
    admin.ModelAdmin,
):
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
        excluded = list(super().get_exclude(request, obj) or ())
        # Auditors review history, not clinical detail.
        if user_role(request.user) is Role.AUDITOR:
            excluded.append("diagnosis")
        return excluded

    def access_category(self, request) -> str:
        return record_category(request.user)

    def get_urls(self):
        find = self.admin_site.admin_view(self.find_view)
        return [path("find/", find, name="patients_patient_find"), *super().get_urls()]

    def find_view(self, request):
        """Find a case by national ID or name. A POST form: the values never reach a URL, a
        server log or the browser history. Every search is logged, without its values."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PatientFindForm(request.POST if request.method == "POST" else None)
        results = None
        if form.is_bound and form.is_valid():
            results = list(patient_search(request.user, **form.cleaned_data)[:FIND_LIMIT])
            log_access(
                actor=request.user,
                category=Category.IDENTITY,
                results=results,
                search_by=search_kind(**form.cleaned_data),
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Find a patient"),
            "form": form,
            "results": results,
            "limit": FIND_LIMIT,
        }
        return TemplateResponse(request, "admin/patients/patient/find.html", context)

    def _record_status(self, request, queryset, status):
        names = {"case": "", "status": PatientStatus(status).label}
        for patient in queryset:
            names["case"] = patient.case_reference
            try:
                services.patient_set_status(patient=patient, status=status, actor=request.user)
            except (TransitionRefused, ValidationError) as exc:
                summary = gettext("Patient %(case)s was not recorded as %(status)s:") % names
                self.message_user(request, refused_message(summary, exc), messages.ERROR)
            else:
                message = gettext("Patient %(case)s is now recorded as %(status)s.") % names
                self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Record as withdrawn"), permissions=["change"])
    def record_withdrawn(self, request, queryset):
        self._record_status(request, queryset, PatientStatus.WITHDRAWN)

    @admin.action(description=_("Record as deceased"), permissions=["change"])
    def record_deceased(self, request, queryset):
        self._record_status(request, queryset, PatientStatus.DECEASED)


@admin.register(Companion)
class CompanionAdmin(
    AccessLoggedAdminMixin,
    ShownNationalIdAdminMixin,
    NothingToSaveMixin,
    ServiceAdminMixin,
    admin.ModelAdmin,
):
    list_display = ("id", "patient", "relationship", "is_guardian")
    list_select_related = ("patient",)
    search_fields = ("patient__case_reference",)
    autocomplete_fields = ("patient",)
    create_service = services.companion_add
    update_service = services.companion_update
    instance_kwarg = "companion"

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return ["patient", *fields] if obj else fields


@admin.register(Referral)
class ReferralAdmin(
    AccessLoggedAdminMixin, NothingToSaveMixin, ServiceAdminMixin, admin.ModelAdmin
):
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
        names = {"number": "", "status": ReferralStatus(status).label}
        for referral in queryset:
            names["number"] = referral.number
            try:
                services.referral_decide(referral=referral, status=status, actor=request.user)
            except (TransitionRefused, ValidationError) as exc:
                summary = gettext("Referral %(number)s was not recorded as %(status)s:") % names
                self.message_user(request, refused_message(summary, exc), messages.ERROR)
            else:
                message = gettext("Referral %(number)s is now %(status)s.") % names
                self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Approve"), permissions=["change"])
    def approve(self, request, queryset):
        self._decide(request, queryset, ReferralStatus.APPROVED)

    @admin.action(description=_("Reject"), permissions=["change"])
    def reject(self, request, queryset):
        self._decide(request, queryset, ReferralStatus.REJECTED)

    @admin.action(description=_("Mark expired"), permissions=["change"])
    def expire(self, request, queryset):
        self._decide(request, queryset, ReferralStatus.EXPIRED)

    def access_category(self, request) -> str:
        return Category.CLINICAL  # the specialty and the hospital abroad


@admin.register(Readiness)
class ReadinessAdmin(AccessLoggedAdminMixin, NothingToSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    """Hospital staff report here whether their patients are ready to travel."""

    list_display = ("patient", *READINESS_FLAGS, "updated_at")
    list_filter = READINESS_FLAGS
    list_select_related = ("patient",)
    search_fields = ("patient__case_reference",)
    fields = ("patient", *READINESS_FLAGS, "note", "updated_by", "updated_at", "history")
    readonly_fields = ("patient", "updated_by", "updated_at", "history")

    def has_add_permission(self, request, obj=None):
        return False  # every patient gets a readiness row when registered

    def access_category(self, request) -> str:
        return Category.READINESS

    def access_subject(self, obj):
        return obj.patient

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The free-text note may carry clinical detail, which auditors do not see.
        if user_role(request.user) is Role.AUDITOR:
            return [f for f in fields if f != "note"]
        return fields

    @admin.display(description=_("History (newest first)"))
    def history(self, obj):
        changes = obj.patient.readiness_history.select_related("changed_by")
        rows = (
            (
                # In the deployment's time zone and the reader's format, as the other times.
                formats.localize(timezone.localtime(c.changed_at)),
                c.changed_by.username if c.changed_by else "-",
                listed(c.in_words(show_note=False)),
            )
            for c in changes
        )
        return format_html_join(mark_safe("<br>"), "{} <bdi>{}</bdi>: {}", rows) or "-"

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        saved = services.readiness_update(patient=obj.patient, actor=request.user, **changes)
        obj.__dict__.update(saved.__dict__)


@admin.register(Returnee)
class ReturneeAdmin(
    AccessLoggedAdminMixin,
    ShownNationalIdAdminMixin,
    NationalIdCheckMixin,
    NothingToSaveMixin,
    ServiceAdminMixin,
    admin.ModelAdmin,
):
    list_display = ("reference", "left_on", "status", "registered_at")
    list_filter = ("status",)
    search_fields = ("reference",)
    readonly_fields = ("reference", "status", "registered_at")
    actions = ["withdraw"]
    create_service = services.returnee_register

    def get_readonly_fields(self, request, obj=None):
        shown = super().get_readonly_fields(request, obj)
        if obj is None:
            return shown
        # Once registered, nothing changes here. The lookup hash means nothing to a reader and
        # stays out of every page; the number is masked for those who see its last digits.
        hidden = {"id", "national_id_hash"}
        if "national_id_shown" in shown:
            hidden.add("national_id")
        others = [f.name for f in Returnee._meta.fields if f.name not in hidden]
        return [*dict.fromkeys([*others, *shown])]

    @admin.action(description=_("Record as withdrawn"), permissions=["change"])
    def withdraw(self, request, queryset):
        for returnee in queryset:
            names = {"reference": returnee.reference}
            try:
                services.returnee_withdraw(returnee=returnee, actor=request.user)
            except (TransitionRefused, ValidationError) as exc:
                summary = gettext("Returnee %(reference)s was not recorded as withdrawn:") % names
                self.message_user(request, refused_message(summary, exc), messages.ERROR)
            else:
                message = gettext("Returnee %(reference)s is now recorded as withdrawn.") % names
                self.message_user(request, message, messages.SUCCESS)
