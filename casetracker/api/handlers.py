"""Django's error handlers, answering in JSON under `/api/` as the API views do."""

from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def not_found(request, exception):
    """A URL no route matches (a malformed id, a typo) is a JSON 404 under `/api/`, the same
    answer as an id that matches nothing; elsewhere Django's page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


def refusal(request, status: int, detail: str):
    """A request refused before any view runs (casetracker/input_guard.py): under `/api/` the
    body of every API error that is about no one field of the operation (the parameter or
    field at fault is named in the text: it may be one the operation does not have); elsewhere
    a short plain page saying the same."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
