"""Hostile input stopped at the door, before any view or database sees it.

- A NUL character in the URL answers 404 (no route names one) and in a query parameter or a
  page's form field 400 naming it: PostgreSQL cannot store NUL in text and answers any query
  holding one with an error, which would otherwise surface as a 500.
- A body larger than the limit answers 413 without being read: `DATA_UPLOAD_MAX_MEMORY_SIZE`
  for forms and JSON, `UPLOAD_MAX_BYTES` for a file upload. Django itself refuses an oversized
  form only when it is read, as a 400, and a JSON body not at all.

JSON bodies are checked by the API's parser (casetracker/api/parsers.py) and its fields."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

from casetracker.api.handlers import API_PREFIX, refusal

NUL = "\x00"


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info:
            raise Http404
        declared = _declared_length(request)
        if declared is None:
            return refusal(
                request, 400, {"detail": [_("The Content-Length header is not a number.")]}
            )
        if declared > body_limit(request):
            return too_large(request)
        try:
            problem = _null_characters(request.GET)
            # The API's bodies are read by its parsers, which choose what they accept (a form
            # read here would bypass them) and whose fields refuse NUL naming themselves.
            if request.method == "POST" and not problem and not request.path.startswith(API_PREFIX):
                problem = _null_characters(request.POST)
        except RequestDataTooBig:
            # An upload within its limit whose form fields, files aside, pass Django's.
            return too_large(request)
        except (MultiPartParserError, SuspiciousOperation):
            # A malformed multipart body, too many fields: what Django would answer with its
            # 400 page, in the API's JSON under /api/.
            return refusal(request, 400, _("The form in the request body is malformed."))
        if problem:
            return refusal(request, 400, problem)
        return self.get_response(request)


def body_limit(request) -> int:
    if request.content_type == "multipart/form-data":
        return settings.UPLOAD_MAX_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large(request):
    limit = body_limit(request)
    return refusal(
        request, 413, _("The request body is larger than %(limit)s bytes.") % {"limit": limit}
    )


def _declared_length(request) -> int | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if length >= 0 else None


def _null_characters(query) -> str:
    """What is wrong, naming the parameters or fields holding a NUL; "" when none does."""
    names = [
        name.replace(NUL, "\\0")
        for name, values in query.lists()
        if NUL in name or any(NUL in value for value in values)
    ]
    if not names:
        return ""
    return _("Null characters are not allowed (in %(names)s).") % {"names": ", ".join(names)}
