"""Django's error handlers, answering in JSON under `/api/` as the API views do."""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def not_found(request, exception):
    """A URL no route matches (a malformed id, a typo) is a JSON 404 under `/api/`, the same
    answer as an id that matches nothing; elsewhere Django's page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)
