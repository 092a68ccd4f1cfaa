from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .admin_base import RoleAdminMixin, ServiceAdminMixin
from .models import Facility, User
from .services import facility_create, facility_problems, facility_update
from .twofactor.services import two_factor_reset


class NothingToSaveMixin:
    """A change page whose every field is read-only has nothing to save: Django would still
    offer "Save" and answer "changed successfully" for a save that did nothing. Such a page
    shows no save buttons (its other buttons, a batch's steps say, stay), and a post to it
    changes nothing and says so."""

    def nothing_to_save(self, request, obj) -> bool:
        if obj is None or not self.has_change_permission(request, obj):
            return False  # an add page, or Django's own read-only view
        if self.get_form(request, obj, change=True).base_fields:
            return False
        return not any(
            inline.has_add_permission(request, obj) or inline.has_change_permission(request, obj)
            for inline in self.get_inline_instances(request, obj)
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and self.nothing_to_save(request, obj):
            context.update(
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
                show_save_as_new=False,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_change(self, request, obj):
        if self.nothing_to_save(request, obj):
            self.message_user(request, _("Nothing on this page can be changed here."))
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


class FacilityForm(forms.ModelForm):
    """Says beside each field what the service would refuse, before anything is saved."""

    class Meta:
        model = Facility
        fields = ("code", "name_en", "name_ar", "kind", "governorate", "is_active")

    def clean(self):
        data = super().clean()
        fields = {name: data[name] for name in self.changed_data if name in data}
        if self.instance.pk is not None:
            fields.pop("code", None)
        for name, problem in facility_problems(**fields).items():
            self.add_error(name if name in self.fields else None, problem)
        return data


@admin.register(Facility)
class FacilityAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Adding and changing a facility go through the services (each an audit event); the code
    never changes."""

    list_display = ("code", "name_en", "name_ar", "kind", "governorate", "is_active")
    list_filter = ("kind", "governorate", "is_active")
    search_fields = ("code", "name_en", "name_ar")
    form = FacilityForm
    create_service = facility_create
    update_service = facility_update
    instance_kwarg = "facility"

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()


@admin.register(User)
class UserAdmin(RoleAdminMixin, BaseUserAdmin):
    list_display = ("username", "email", "facility", "preferred_language", "is_active")
    list_filter = ("groups", "facility", "is_active")
    # By username only: a search is a GET parameter, kept in access logs and browser history.
    search_fields = ("username",)
    list_select_related = ("facility",)
    actions = ["reset_two_factor"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Case tracker"), {"fields": ("facility", "preferred_language")}),
    )

    # Only admins manage accounts (policy.ADMIN_MODELS).
    def has_reset_two_factor_permission(self, request) -> bool:
        return self._allows(request, "change")

    @admin.action(description=_("Reset two-factor sign-in"), permissions=["reset_two_factor"])
    def reset_two_factor(self, request, queryset):
        """For a lost phone: removes the accounts' authenticators and backup codes (each reset
        is an audit event); they set up again at their next sign-in."""
        for user in queryset:
            two_factor_reset(user=user, actor=request.user)
        count = len(queryset)
        message = ngettext(
            "Two-factor sign-in reset for %(count)d account: it sets up again at its next sign-in.",
            "Two-factor sign-in reset for %(count)d accounts: they set up again at their next "
            "sign-in.",
            count,
        )
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


# django-axes' sign-in records follow the policy table like every other admin page: admins
# read and delete them, nobody edits them (axes' own pages offer "Save", which the policy then
# refused with a 403).
class AccessAttemptAdmin(RoleAdminMixin, axes_admin.AccessAttemptAdmin):
    pass


class AccessLogAdmin(RoleAdminMixin, axes_admin.AccessLogAdmin):
    pass


class AccessFailureLogAdmin(RoleAdminMixin, axes_admin.AccessFailureLogAdmin):
    pass


for _model, _model_admin in (
    (AccessAttempt, AccessAttemptAdmin),
    (AccessLog, AccessLogAdmin),
    (AccessFailureLog, AccessFailureLogAdmin),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
        admin.site.register(_model, _model_admin)
