"""Roles are Django groups (created by a data migration); `admin` is a superuser."""

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    COORDINATOR = "coordinator"
    HOSPITAL_STAFF = "hospital_staff"
    AUDITOR = "auditor"
    ADMIN = "admin"


GROUP_ROLES = (Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.AUDITOR)


def user_role(user) -> Role:
    """The single role of a user. Cached on the instance: it is read on every request."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return Role.ANONYMOUS
    if not user.is_active:
        return Role.ANONYMOUS
    cached = getattr(user, "_cached_role", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        role = Role.ADMIN
    else:
        names = set(user.groups.values_list("name", flat=True))
        # A user in several groups gets the most restricted one, never the union.
        for candidate in (Role.AUDITOR, Role.HOSPITAL_STAFF, Role.COORDINATOR):
            if candidate.value in names:
                role = candidate
                break
        else:
            role = Role.ANONYMOUS
    user._cached_role = role
    return role


def sees_all_facilities(user) -> bool:
    return user_role(user) in (Role.COORDINATOR, Role.AUDITOR, Role.ADMIN)


def can_manage_cases(user) -> bool:
    """Coordinators and admins register cases and move batches."""
    return user_role(user) in (Role.COORDINATOR, Role.ADMIN)
