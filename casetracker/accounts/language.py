"""The language of a signed-in user's pages is their own: `User.preferred_language`, which the
language switch changes (`casetracker.views.set_language`). Someone not signed in gets what the
switch stored in a cookie, else what the browser asks for (Django's LocaleMiddleware)."""

from django.conf import settings
from django.utils import translation

SUPPORTED = frozenset(code for code, _name in settings.LANGUAGES)


class UserLanguageMiddleware:
    """After LocaleMiddleware and AuthenticationMiddleware: the account's language replaces the
    one LocaleMiddleware chose from the cookie or the browser. A shared hospital computer then
    shows each nurse their own language, whoever used the switch before."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "preferred_language", None) if user is not None else None
        if user is not None and user.is_authenticated and language in SUPPORTED:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
