"""Roles are Django groups (created by a data migration); `admin` is a superuser."""

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, Group
from django.db.models import Case, OuterRef, Subquery, Value, When


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    COORDINATOR = "coordinator"
    HOSPITAL_STAFF = "hospital_staff"
    AUDITOR = "auditor"
    ADMIN = "admin"


GROUP_ROLES = (Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.AUDITOR)
# A user in several groups gets the most restricted one, never the union: the first of these.
MOST_RESTRICTED_FIRST = (Role.AUDITOR, Role.HOSPITAL_STAFF, Role.COORDINATOR)


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
        role = _role_of_groups(set(user.groups.values_list("name", flat=True)))
    user._cached_role = role
    return role


def _role_of_groups(names: set[str]) -> Role:
    for candidate in MOST_RESTRICTED_FIRST:
        if candidate.value in names:
            return candidate
    return Role.ANONYMOUS


def role_group(user_id: str) -> Subquery:
    """The name of the group that gives the user (the column `user_id` of the outer query)
    their role, or NULL: for the query that loads the user on every request (the API token's),
    so that the role costs no query of its own (`remember_role`)."""
    restriction = Case(
        *(When(name=role.value, then=Value(n)) for n, role in enumerate(MOST_RESTRICTED_FIRST))
    )
    groups = (
        Group.objects.filter(user=OuterRef(user_id), name__in=MOST_RESTRICTED_FIRST)
        .annotate(restriction=restriction)
        .order_by("restriction")
        .values("name")[:1]
    )
    return Subquery(groups)


def remember_role(user, group_name: str | None) -> None:
    """Cache on `user` the role `user_role` would find, from its `role_group` read with it."""
    user._cached_role = Role.ADMIN if user.is_superuser else _role_of_groups({group_name} - {None})


def sees_all_facilities(user) -> bool:
    return user_role(user) in (Role.COORDINATOR, Role.AUDITOR, Role.ADMIN)


def can_manage_cases(user) -> bool:
    """Coordinators and admins register cases and move batches."""
    return user_role(user) in (Role.COORDINATOR, Role.ADMIN)
