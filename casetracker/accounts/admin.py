from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .admin_base import RoleAdminMixin
from .models import Facility, User
from .twofactor.services import two_factor_reset


@admin.register(Facility)
class FacilityAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_en", "name_ar", "kind", "governorate", "is_active")
    list_filter = ("kind", "governorate", "is_active")
    search_fields = ("code", "name_en", "name_ar")


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
        ("Case tracker", {"fields": ("facility", "preferred_language")}),
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
