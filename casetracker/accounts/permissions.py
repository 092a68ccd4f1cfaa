"""Enforcing the route policy (`policy.py`): for the API after DRF has authenticated the request
(a token is only known then), for pages and the admin in a middleware before the view runs.
A method the table lists for nobody answers 405. Scoping by facility is done by each model's
`visible_to` queryset, so a row of another facility is a 404."""

import logging

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import BasePermission

from . import policy
from .roles import user_role

logger = logging.getLogger(__name__)


def _check(request, view_name: str) -> str:
    """ "allowed", "method" (no role may use this method here) or "role"."""
    if view_name not in policy.ROUTES:
        logger.error("route %s has no entry in the policy table: refused", view_name)
        return "role"
    if request.method.upper() not in policy.methods(view_name):
        return "method"
    return (
        "allowed" if policy.allows(view_name, request.method, user_role(request.user)) else "role"
    )


class RolePermission(BasePermission):
    """The API's permission: the policy table entry of the route, for the request's method."""

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        verdict = _check(request, request.resolver_match.view_name)
        if verdict == "method":
            raise MethodNotAllowed(request.method)
        return verdict == "allowed"


def _is_api_view(view_func) -> bool:
    # DRF views authenticate tokens themselves and check the table in RolePermission.
    return hasattr(view_func, "cls") and hasattr(view_func.cls, "permission_classes")


class RoutePolicyMiddleware:
    """Pages and the admin: refuses a route the table does not allow for the user's role,
    sending someone not signed in to the sign-in page first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if _is_api_view(view_func):
            return None
        view_name = request.resolver_match.view_name
        verdict = _check(request, view_name)
        if verdict == "allowed":
            return None
        if verdict == "method":
            return HttpResponseNotAllowed(policy.methods(view_name))
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise PermissionDenied
