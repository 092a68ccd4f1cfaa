from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .admin_base import RoleAdminMixin
from .models import Facility, User


@admin.register(Facility)
class FacilityAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name_en", "name_ar", "kind", "governorate", "is_active")
    list_filter = ("kind", "governorate", "is_active")
    search_fields = ("code", "name_en", "name_ar")
    write_roles = frozenset()  # admins only (superusers pass every check)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "facility", "preferred_language", "is_active")
    list_filter = ("groups", "facility", "is_active")
    list_select_related = ("facility",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Case tracker", {"fields": ("facility", "preferred_language")}),
    )

    # Only admins manage accounts.
    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission
