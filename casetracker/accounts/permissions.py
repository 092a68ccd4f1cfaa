"""Role checks for the API. Views name the roles allowed to read and to write; scoping by
facility is done by each model's `visible_to` queryset, so a row of another facility is a 404."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import Role, user_role

READ_ROLES = frozenset({Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.AUDITOR, Role.ADMIN})
WRITE_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})


class RolePermission(BasePermission):
    """Views may set `read_roles`, `write_roles`, and `action_roles` keyed by `action` or
    `action:METHOD` for the exceptions."""

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        role = user_role(request.user)
        if role is Role.ANONYMOUS:
            return False
        action_roles = getattr(view, "action_roles", {})
        action = getattr(view, "action", None)
        for key in (f"{action}:{request.method}", action):
            if key in action_roles:
                return role in action_roles[key]
        if request.method in SAFE_METHODS:
            return role in getattr(view, "read_roles", READ_ROLES)
        return role in getattr(view, "write_roles", WRITE_ROLES)
