"""Errors the services raise, turned into HTTP answers: a refused transition is 409 with every
problem listed; a Django validation error is 400 naming each field."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

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
    return drf_exception_handler(exc, context)
