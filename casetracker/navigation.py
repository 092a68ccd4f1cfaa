"""The header's links: the field pages a role may open, as the route policy table says."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from casetracker.accounts import policy
from casetracker.accounts.roles import Role, user_role
from casetracker.accounts.twofactor.admin_site import passed_sign_in

# URL name, label. Each link shows only to the roles the policy table lets open it.
LINKS = (
    ("batches:today", _("Today")),
    ("patients:queue", _("Queue")),
    ("patients:returnees", _("Returnees")),
    ("batches:builder", _("New batch")),
    ("patients:register", _("Register a patient")),
    ("patients:import-cases", _("Import a list")),
    ("patients:ward", _("Readiness")),
    ("reports:index", _("Audit")),
)


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    role = user_role(user)
    # Before the second factor the header offers nothing but the sign-out.
    if role is Role.ANONYMOUS or not passed_sign_in(user):
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    links = [
        {"url": reverse(name), "label": label, "current": current == name}
        for name, label in LINKS
        if policy.allows(name, "GET", role)
    ]
    # The back office is for admins and rare corrections; nurses work on the field pages.
    back_office = role in (Role.COORDINATOR, Role.AUDITOR, Role.ADMIN)
    return {"nav_links": links, "nav_back_office": back_office}
