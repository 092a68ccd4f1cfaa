"""Keeping personal data out of logs and error reports.

Database errors quote the rows they refuse: PostgreSQL's DETAIL ("Key (national_id)=(...)
already exists", "Failing row contains (...)"), and, because Django binds parameters on the
client, a LINE excerpt of the SQL with its literal values. A log line or an error e-mail must not
carry them, so the message of every database error in a logged exception chain is cut down to
what an operator needs: the exception type, the first line without quoted values, the SQLSTATE
and the constraint name.

The redaction runs where each log record is created (a LogRecord factory installed by
`configure`, Django's LOGGING_CONFIG), so it holds for every handler, including those that
Celery puts on the root logger in a worker and those a test or an error tracker adds later.
`RedactPersonalData`, the same function as a handler filter, covers records that are built
without the factory (`logging.makeLogRecord`, records received from another process).

Error reports (admin e-mails, and the debug page when DEBUG is off) go through
`PersonalDataReporterFilter`: no POST value and no local variable is shown, whichever view
failed, since almost every form and frame here handles a person's data.
"""

import logging
import logging.config
import re
import sqlite3
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any

from django.db import Error as DjangoDatabaseError
from django.views.debug import SafeExceptionReporterFilter

WITHHELD = "[details withheld]"

# Identifiers PostgreSQL quotes in its messages; any other quoted text is a value.
_IDENTIFIER_WORDS = ("constraint", "relation", "column", "table", "index", "type", "function")
_QUOTED = re.compile(r'(?P<word>\b\w+\s)?"(?P<text>[^"]*)"')
_SINGLE_QUOTED = re.compile(r"'[^']*'")
# Database detail that may turn up inside other text: an exception's repr in a Celery task
# failure, a message built from a database error. The rest of that line goes.
_DETAIL = re.compile(r"(?:DETAIL|HINT|CONTEXT|LINE \d+):[^\n]*")
_INVALID_INPUT = re.compile(r'(invalid input (?:syntax|value) for [^:\n]*): "[^"\n]*"')
_CONSTRAINT = re.compile(r'constraint "(?P<pg>[^"]+)"|constraint failed: (?P<sqlite>[\w.]+)')
_MARKERS = ("DETAIL:", "HINT:", "CONTEXT:", "LINE ", "invalid input ")


def _str(exc: BaseException) -> str:
    try:
        return str(exc)
    # An exception's own __str__ may fail (a bug, a broken encoding); logging must go on.
    except Exception:
        return f"<unprintable {type(exc).__name__}>"


def is_database_error(exc: BaseException) -> bool:
    if isinstance(exc, DjangoDatabaseError | sqlite3.Error):
        return True
    # The drivers' own classes, reached through __cause__ of Django's wrappers.
    return type(exc).__module__.split(".")[0] in ("psycopg", "psycopg2")


def scrub_text(text: str) -> str:
    """Remove database detail from free text (a message that quotes a database error)."""
    if not any(marker in text for marker in _MARKERS):
        return text
    text = _DETAIL.sub(lambda m: m.group(0).split(":", 1)[0] + ": " + WITHHELD, text)
    return _INVALID_INPUT.sub(r'\1: "..."', text)


def _unquote_values(line: str) -> str:
    def keep_identifiers(match: re.Match) -> str:
        word = (match.group("word") or "").strip().lower()
        if word in _IDENTIFIER_WORDS:
            return match.group(0)
        return f'{match.group("word") or ""}"..."'

    return _SINGLE_QUOTED.sub("'...'", _QUOTED.sub(keep_identifiers, line))


def _diagnostics(exc: BaseException) -> tuple[str, str]:
    """SQLSTATE and constraint name from the driver's diagnostics, Django's wrapper included."""
    for candidate in (exc, exc.__cause__):
        diag = getattr(candidate, "diag", None)
        if diag is not None:
            return (
                getattr(diag, "sqlstate", None) or getattr(candidate, "sqlstate", None) or "",
                getattr(diag, "constraint_name", None) or "",
            )
    return "", ""


def database_error_summary(exc: BaseException) -> str:
    """What an operator may read of a database error: never a value from the row."""
    lines = _str(exc).strip().splitlines()
    first = _unquote_values(lines[0]) if lines else ""
    sqlstate, constraint = _diagnostics(exc)
    if not constraint:
        found = _CONSTRAINT.search(first)
        constraint = (found.group("pg") or found.group("sqlite")) if found else ""
    parts = [first or type(exc).__name__]
    if sqlstate:
        parts.append(f"(SQLSTATE {sqlstate})")
    if constraint and constraint not in first:
        parts.append(f"(constraint {constraint})")
    if len(lines) > 1:
        parts.append(WITHHELD)
    return " ".join(parts)


def _safe_message(exc: BaseException) -> str:
    return database_error_summary(exc) if is_database_error(exc) else scrub_text(_str(exc))


def describe_exception(exc: BaseException) -> str:
    """`Type: message`, safe to store or log: database detail withheld."""
    return f"{type(exc).__name__}: {_safe_message(exc)}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen, todo, found = set(), [exc], []
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        todo += [current.__cause__, current.__context__]
    return found


def needs_redaction(exc: BaseException) -> bool:
    return any(is_database_error(e) or scrub_text(_str(e)) != _str(e) for e in _chain(exc))


def _qualified_name(cls: type) -> str:
    module = cls.__module__
    return (
        cls.__qualname__ if module in ("__main__", "builtins") else f"{module}.{cls.__qualname__}"
    )


def format_redacted(exc: BaseException, _seen: set[int] | None = None) -> list[str]:
    """The traceback the standard formatter would print, messages redacted (frames are only
    file names, line numbers and source lines: no values)."""
    seen = _seen if _seen is not None else set()
    seen.add(id(exc))
    lines: list[str] = []
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        lines += format_redacted(cause, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        lines += format_redacted(context, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if exc.__traceback__ is not None:
        lines.append("Traceback (most recent call last):\n")
        lines += traceback.format_tb(exc.__traceback__)
    name, message = _qualified_name(type(exc)), _safe_message(exc)
    lines.append(f"{name}: {message}\n" if message else f"{name}\n")
    return lines


class RedactedError(Exception):
    """Stands in, in a log record, for an exception whose messages were withheld: the same
    frames, and each exception of the chain described without database detail."""

    def __init__(self, original: BaseException):
        super().__init__(" <- ".join(describe_exception(e) for e in _chain(original)))
        self.__suppress_context__ = True
        self.__traceback__ = original.__traceback__


def _safe_arg(value: Any) -> Any:
    if isinstance(value, BaseException) and needs_redaction(value):
        return describe_exception(value)
    if isinstance(value, str):
        return scrub_text(value)
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Withhold database detail from a record's message, arguments and traceback. Idempotent."""
    if getattr(record, "personal_data_redacted", False):
        return record
    record.personal_data_redacted = True
    record.msg = _safe_arg(record.msg)
    if isinstance(record.args, MutableMapping):
        # In place: the mapping's own type may format missing keys (gunicorn's access log
        # answers "-" for them), which a plain dict in its place would turn into a KeyError.
        for key in list(record.args):
            record.args[key] = _safe_arg(record.args[key])
    elif isinstance(record.args, Mapping):
        record.args = {key: _safe_arg(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_safe_arg(value) for value in record.args)
    exc = record.exc_info[1] if record.exc_info else None
    if exc is not None and needs_redaction(exc):
        # Formatters print `exc_text` as is; handlers that format `exc_info` themselves (Django's
        # admin e-mails) get a stand-in with the same frames and the redacted messages.
        record.exc_text = "".join(format_redacted(exc)).rstrip("\n")
        stand_in = RedactedError(exc)
        record.exc_info = (RedactedError, stand_in, stand_in.__traceback__)
    elif record.exc_text:
        record.exc_text = scrub_text(record.exc_text)
    return record


def _redact_or_withhold(record: logging.LogRecord) -> logging.LogRecord:
    try:
        return redact_record(record)
    except Exception:
        # A log call must never fail because of its redaction; what could not be checked goes.
        record.msg, record.args = "log record withheld: it could not be redacted", ()
        record.exc_info = record.exc_text = None
        record.personal_data_redacted = True
        return record


class RedactPersonalData(logging.Filter):
    """Handler filter: the same redaction, for records made without the factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_or_withhold(record)
        return True


def install_record_factory() -> None:
    base = logging.getLogRecordFactory()
    if getattr(base, "redacts_personal_data", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redact_or_withhold(base(*args, **kwargs))

    factory.redacts_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure(config: dict) -> None:
    """Django's LOGGING_CONFIG: the redacting record factory, then LOGGING as usual."""
    install_record_factory()
    logging.config.dictConfig(config)


class PersonalDataReporterFilter(SafeExceptionReporterFilter):
    """Error reports show no POST value and no local variable of any view (names, national
    IDs, phone numbers, diagnoses, passwords and tokens all pass through them), and hide the
    settings and environment variables that hold credentials."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DSN|DATABASE_URL|BROKER_URL|"
        "REDIS_URL|SMS_PROVIDER|NATIONAL_ID",
        flags=re.IGNORECASE,
    )

    def get_post_parameters(self, request):
        if request is None or not self.is_active(request):
            return super().get_post_parameters(request)
        cleansed = request.POST.copy()
        for key in cleansed:
            cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        if not self.is_active(request):
            return super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
