from django.contrib import admin

from casetracker.accounts.admin_base import RoleAdminMixin

from .models import Event


@admin.register(Event)
class EventAdmin(RoleAdminMixin, admin.ModelAdmin):
    """The audit log, read-only for everyone, admins included."""

    list_display = (
        "id",
        "created_at",
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

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Event._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
