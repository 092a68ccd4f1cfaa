"""Pieces shared by the management commands."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from casetracker.audit.context import Channel, audit_context

T = TypeVar("T")


def command_error(exc: ValidationError) -> CommandError:
    """A service's refusal as a command's error, field by field: "code: ...; name_en: ..."."""
    if hasattr(exc, "message_dict"):
        messages = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
    else:
        messages = list(exc.messages)
    return CommandError("; ".join(messages))


def run_service(service: Callable[..., T], /, **kwargs: Any) -> T:
    """Call a service as the system (no user signed in: `actor=None`), through the command
    channel of the audit log; its refusal becomes the command's error (`command_error`)."""
    try:
        with audit_context(channel=Channel.COMMAND):
            return service(actor=None, **kwargs)
    except ValidationError as exc:
        raise command_error(exc) from exc
