"""Admin access follows the same roles as the API instead of per-model Django permissions."""

from django.core.exceptions import PermissionDenied

from .permissions import READ_ROLES, WRITE_ROLES
from .roles import Role, user_role


class RoleAdminMixin:
    read_roles = READ_ROLES
    write_roles = WRITE_ROLES
    # Rows are never deleted from the admin: cases and batches are history.
    allow_delete = False

    def _role(self, request) -> Role:
        return user_role(request.user)

    def has_module_permission(self, request) -> bool:
        return self._role(request) in self.read_roles or request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser or self._role(request) in self.write_roles

    def has_change_permission(self, request, obj=None) -> bool:
        return self.has_add_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.allow_delete and self.has_add_permission(request)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        visible_to = getattr(qs, "visible_to", None)
        return visible_to(request.user) if visible_to else qs

    def require_write(self, request) -> None:
        if not self.has_change_permission(request):
            raise PermissionDenied
