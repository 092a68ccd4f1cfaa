"""Errors the services raise, turned into HTTP answers: a refused transition is 409 with every
problem listed; a Django validation error is 400 naming each field; anything unexpected is a
500 whose body says nothing about the cause."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.utils.log import log_response
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from casetracker.errors import TransitionRefused


def exception_handler(exc, context):
    if isinstance(exc, TransitionRefused):
        return Response(
            {"detail": str(exc), "problems": exc.problems}, status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            body = {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
        else:
            body = {"non_field_errors": list(exc.messages)}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        # A form body past Django's limit, read by a view (casetracker/input_guard.py refuses
        # the ones whose length is declared before they are read).
        return Response(
            {"detail": _("The request body is larger than the limit.")},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    response = drf_exception_handler(exc, context)
    if response is not None or settings.DEBUG or settings.DEBUG_PROPAGATE_EXCEPTIONS:
        # Under DEBUG the exception goes on to Django's technical page.
        return response
    return _server_error(exc, context["request"])


def _server_error(exc: Exception, request) -> Response:
    """JSON clients get JSON, not the HTML error page; the message of the exception, which may
    quote the data being written, stays in the (redacted) log."""
    set_rollback()
    response = Response(
        {"detail": _("Server error. Try again later; if it persists, tell an administrator.")},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    django_request = getattr(request, "_request", request)
    # What Django does for an exception it handles itself: the signal (error trackers, and the
    # test client re-raising it) and one log line with the traceback.
    got_request_exception.send(sender=None, request=django_request)
    log_response(
        "Internal Server Error: %s",
        django_request.path,
        response=response,
        request=django_request,
        exception=exc,
    )
    return response
