from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse

from .admin_site import passed_sign_in
from .services import has_confirmed_totp

# Reachable before the second factor: the two-factor pages themselves, signing out (to give up
# and sign in as someone else) and the language switch.
OPEN_NAMESPACES = frozenset({"account"})
OPEN_VIEWS = frozenset({"admin:logout", "set_language"})


def _is_open(path: str) -> bool:
    if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.namespace in OPEN_NAMESPACES or match.view_name in OPEN_VIEWS


class TwoFactorMiddleware:
    """While `TWO_FACTOR_REQUIRED` is on, a session signed in with a password alone reaches
    only the open routes above: pages redirect to "verify" (or "set up" for someone without an
    authenticator yet), API calls answer 403. Goes after django-otp's OTPMiddleware.

    API tokens are not seen here (DRF reads them in the view): the token endpoint issues one only
    against a valid second factor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.user.is_authenticated
            and not passed_sign_in(request.user)
            and not _is_open(request.path_info)
        ):
            return self._refuse(request)
        return self.get_response(request)

    def _refuse(self, request):
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": "Two-factor verification required."}, status=403)
        page = "account:verify" if has_confirmed_totp(request.user) else "account:setup"
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse(page)}?{query}")
