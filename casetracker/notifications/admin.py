from django.contrib import admin

from casetracker.accounts.admin_base import RoleAdminMixin
from casetracker.accounts.permissions import WRITE_ROLES

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(RoleAdminMixin, admin.ModelAdmin):
    """Delivery log of the outbox (read-only)."""

    read_roles = WRITE_ROLES
    list_display = ("id", "created_at", "channel", "recipient", "status", "attempts", "sent_at")
    list_filter = ("status", "channel")
    list_select_related = ("recipient",)
    search_fields = ("recipient__username", "idempotency_key")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
