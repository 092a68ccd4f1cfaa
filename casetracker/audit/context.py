"""Who is acting through which channel, carried implicitly to `record_event`.

The middleware sets it for web, admin and API requests; management commands and Celery tasks set
their own. Services never take it as an argument, so no caller can forget it.
"""

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace


class Channel:
    WEB = "web"
    API = "api"
    ADMIN = "admin"
    WORKER = "worker"
    COMMAND = "command"

    choices = [(c, c) for c in (WEB, API, ADMIN, WORKER, COMMAND)]


@dataclass(frozen=True)
class AuditContext:
    channel: str = Channel.COMMAND
    request_id: str = ""


_DEFAULT = AuditContext()
_current: ContextVar[AuditContext] = ContextVar("audit_context", default=_DEFAULT)


def current() -> AuditContext:
    return _current.get()


@contextlib.contextmanager
def audit_context(*, channel: str | None = None, request_id: str | None = None) -> Iterator[None]:
    ctx = current()
    new = replace(
        ctx,
        channel=channel or ctx.channel,
        request_id=request_id if request_id is not None else (ctx.request_id or new_request_id()),
    )
    token = _current.set(new)
    try:
        yield
    finally:
        _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex
