"""No personal data in logs, error reports or URLs.

Logs: PostgreSQL quotes the refused row in a database error (DETAIL, and the SQL's LINE with its
literals); the log keeps the exception type, SQLSTATE and constraint name only. Error reports
show no POST value and no local variable. URLs: every captured parameter is a reference, a code
or a row id, and no filter or search offers a person's name, national ID, phone or diagnosis as
a GET parameter."""

import logging
import sys

import pytest
from django.contrib import admin
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.utils import timezone
from django.views.debug import ExceptionReporter
from rest_framework.response import Response
from rest_framework.views import APIView

import casetracker.urls
from batches.models import Batch
from batches.reports.tables import REPORTS
from casetracker.accounts import policy
from casetracker.accounts.models import Facility
from casetracker.logging import describe_exception, redact_record
from casetracker.notifications import channels, tasks
from tests import factories
from tests.service_helpers import notify_event

SENTINEL = "SENTINEL-7Q4Z-940011223"

# --- A test URLconf: the real routes, and views that fail on the database -------------------


def _duplicate_facility():
    """A unique violation: PostgreSQL's DETAIL reads `Key (code)=(SENTINEL...) already exists`.
    In a savepoint, so the test's transaction stays usable."""
    with transaction.atomic():
        for _ in range(2):
            Facility.objects.create(
                code=SENTINEL.lower(), name_en="x", name_ar="x", kind="hospital", governorate="gaza"
            )


def _unexplained_cancellation():
    """A check violation: the DETAIL lists the whole failing row, reason text included."""
    with transaction.atomic():
        Batch.objects.create(
            code="RAF-TEST-LOG",
            crossing_id="rafah",
            direction="exit",
            planned_date=timezone.localdate(),
            staging_facility=factories.FacilityFactory(),
            status="cancelled",
            cancel_reason_code="other",
            cancel_reason_text=SENTINEL,
            cancel_source="",
            cancelled_at=timezone.now(),
        )


def _bad_literal():
    """A data error whose first line quotes the value, and whose LINE shows the SQL literal."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT %s::integer", [SENTINEL])


FAILURES = {
    "unique": _duplicate_facility,
    "check": _unexplained_cancellation,
    "literal": _bad_literal,
}


def page_fails(request, kind):
    FAILURES[kind]()
    return HttpResponse("unreachable")


class ApiFails(APIView):
    authentication_classes = []
    permission_classes = []

    def post(self, request, kind):
        FAILURES[kind]()
        return Response({})


def page_raises_synthetic(request):
    # As PostgreSQL words it, for the tests that run on SQLite too.
    raise IntegrityError(
        'duplicate key value violates unique constraint "patients_patient_national_id_key"\n'
        f"DETAIL:  Key (national_id)=({SENTINEL}) already exists.\n"
    )


urlpatterns = [
    path("test-db-fails/<str:kind>/", page_fails, name="test-db-fails"),
    path("test-api-db-fails/<str:kind>/", ApiFails.as_view(), name="test-api-db-fails"),
    path("test-synthetic/", page_raises_synthetic, name="test-synthetic"),
    *casetracker.urls.urlpatterns,
]


@pytest.fixture
def failing_urls(settings, monkeypatch):
    settings.ROOT_URLCONF = __name__
    for name in ("test-db-fails", "test-api-db-fails", "test-synthetic"):
        monkeypatch.setitem(policy.ROUTES, name, {"GET": policy.EVERYONE, "POST": policy.EVERYONE})


def _assert_redacted(text: str, *expected: str) -> None:
    assert SENTINEL not in text
    assert SENTINEL.lower() not in text
    for fragment in expected:
        assert fragment in text, (fragment, text)


# --- Logs: real PostgreSQL errors -----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("unique", ["IntegrityError", "(SQLSTATE 23505)", "accounts_facility_code"]),
        ("check", ["IntegrityError", "(SQLSTATE 23514)", "batch_cancel_has_reason"]),
        ("literal", ["DataError", "invalid input syntax for type integer", "(SQLSTATE 22P02)"]),
    ],
)
@pytest.mark.parametrize("route", ["test-db-fails", "test-api-db-fails"])
def test_database_error_of_a_request_is_logged_without_row_values(
    require_postgres, failing_urls, caplog, kind, expected, route
):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = client.post(f"/{route}/{kind}/")
    assert response.status_code == 500
    assert SENTINEL.lower() not in response.content.decode().lower()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # logged once, with its traceback
    _assert_redacted(caplog.text, "Internal Server Error", "Traceback", *expected)
    assert "DETAIL" not in caplog.text


@pytest.mark.postgres
def test_database_error_logged_by_any_logger_is_redacted(require_postgres, caplog):
    with caplog.at_level(logging.INFO):
        try:
            _duplicate_facility()
        except IntegrityError as exc:
            # As Celery reports a task failure: the exception's repr among the arguments.
            logging.getLogger("celery.app.trace").error("Task raised: %r", exc, exc_info=True)
            logging.getLogger("casetracker.anything").warning("write refused: %s", exc)
    _assert_redacted(caplog.text, "IntegrityError", "accounts_facility_code")


# --- Logs: any database ---------------------------------------------------------------------


def test_synthetic_database_error_is_logged_without_row_values(failing_urls, caplog):
    with caplog.at_level(logging.ERROR):
        response = Client(raise_request_exception=False).get("/test-synthetic/")
    assert response.status_code == 500
    _assert_redacted(
        caplog.text, "django.db.utils.IntegrityError", "patients_patient_national_id_key"
    )


def test_redact_record_scrubs_database_detail_in_text_arguments():
    error = IntegrityError(
        'new row for relation "x" violates check constraint "y"\n'
        f"DETAIL:  Failing row contains (1, {SENTINEL})."
    )
    record = logging.LogRecord(
        "celery.app.trace",
        logging.ERROR,
        __file__,
        1,
        "Task %s raised: %s",
        ("t", repr(error)),
        None,
    )
    message = redact_record(record).getMessage()
    _assert_redacted(message, 'check constraint "y"', "DETAIL: [details withheld]")


def test_redact_record_leaves_other_records_alone():
    try:
        raise ValueError("batch RAF-2026-02-04-3 is cancelled")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "refused %s", ("EV-7K3Q9M",), exc_info
    )
    redact_record(record)
    assert record.exc_info is exc_info
    assert record.getMessage() == "refused EV-7K3Q9M"


def test_every_log_record_is_redacted_where_it_is_made():
    # Whatever handler prints it: Celery's on a worker's root logger, an error tracker's.
    assert getattr(logging.getLogRecordFactory(), "redacts_personal_data", False)


def test_logging_an_unprintable_exception_never_fails(caplog):
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    try:
        raise IntegrityError("x") from Unprintable()
    except IntegrityError:
        logging.getLogger("casetracker.test").exception("refused")
    assert "<unprintable Unprintable>" in caplog.text


def test_describe_exception_withholds_database_detail():
    error = IntegrityError(
        'duplicate key value violates unique constraint "k"\n'
        f"DETAIL:  Key (national_id)=({SENTINEL}) already exists."
    )
    assert describe_exception(error) == (
        'IntegrityError: duplicate key value violates unique constraint "k" [details withheld]'
    )


def test_notification_last_error_withholds_database_detail(db, monkeypatch, caplog):
    [row] = notify_event([factories.UserFactory(email="")])

    def fail(notification):
        raise IntegrityError(f"null value\nDETAIL:  Failing row contains ({SENTINEL}).")

    monkeypatch.setitem(channels.CHANNELS, "inbox", fail)
    with caplog.at_level(logging.INFO):
        tasks.deliver_notification.apply(args=[row.pk])
    row.refresh_from_db()
    assert row.status == "failed"
    _assert_redacted(row.last_error, "IntegrityError: null value")
    _assert_redacted(caplog.text, "IntegrityError")


# --- Error reports --------------------------------------------------------------------------


def test_error_report_shows_no_post_value_local_variable_or_credential(settings):
    settings.DATABASE_URL = f"postgres://app:{SENTINEL}@db/casetracker"
    request = RequestFactory().post(
        "/api/v1/patients/",
        {"name_latin": SENTINEL, "national_id": SENTINEL, "password": SENTINEL},
    )
    request.META["HTTP_AUTHORIZATION"] = f"Token {SENTINEL}"

    def view(national_id):
        diagnosis = f"carcinoma {national_id}"  # noqa: F841 (a local the report must not show)
        raise RuntimeError("refused")

    try:
        view(SENTINEL)
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info(), is_email=True)
    text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    _assert_redacted(text, "name_latin", "national_id", "DATABASE_URL")
    _assert_redacted(html, "name_latin", "diagnosis")  # the local's name, not its value


def test_admin_error_email_carries_no_row_values(failing_urls, settings):
    settings.ADMINS = [("Ops", "ops@example.org")]
    mail.outbox.clear()
    response = Client(raise_request_exception=False).post(
        "/test-synthetic/", {"national_id": SENTINEL}
    )
    assert response.status_code == 500
    assert mail.outbox, "the error e-mail was not sent"
    for message in mail.outbox:
        _assert_redacted(
            message.subject + message.body,
            "IntegrityError",
            "patients_patient_national_id_key",
            "page_raises_synthetic",  # the frames are there
        )
        for alternative, _ in getattr(message, "alternatives", []):
            _assert_redacted(alternative)


# --- URLs -----------------------------------------------------------------------------------

# What a URL may capture: opaque references (case, returnee), batch codes, row ids, report
# names, and the admin's own app labels, object ids and catch-all.
URL_PARAMETERS = {
    "case_reference",
    "reference",
    "code",
    "pk",
    "member_id",
    "referral_id",
    "number",
    "name",
    "object_id",
    "id",
    "content_type_id",
    "app_label",
    "url",
    "pending",  # the random UUID of an upload waiting for its confirmation
}
# Fields a GET parameter must never search or filter on: they would sit in access logs, browser
# histories and proxies.
PERSONAL_FIELDS = {
    "name_latin",
    "name_arabic",
    "first_name",
    "last_name",
    "national_id",
    "phone",
    "diagnosis",
    "date_of_birth",
    "email",
    "address",
    "note",
}


def _is_personal(lookup: str) -> bool:
    # `patient__name_latin__icontains`, `^national_id`: any part of the path counts.
    parts = lookup.lstrip("^=@$").split("__")
    return any(part in PERSONAL_FIELDS or part.startswith("national_id") for part in parts)


def _patterns(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def test_urls_capture_only_references_codes_and_ids():
    captured = {
        route: sorted(set(pattern.pattern.regex.groupindex) - URL_PARAMETERS)
        for route, pattern in _patterns()
    }
    assert {route: names for route, names in captured.items() if names} == {}


def _views():
    for route, pattern in _patterns():
        view = getattr(pattern.callback, "cls", None) or getattr(
            pattern.callback, "view_class", None
        )
        if view is not None:
            yield route, view


def _filter_parameters(view) -> list[str]:
    names = []
    filterset = getattr(view, "filterset_class", None)
    if filterset is not None:
        for name, filter_ in filterset.base_filters.items():
            names += [name, filter_.field_name or ""]
    fields = getattr(view, "filterset_fields", None) or []
    names += list(fields)  # a list, or a dict of field -> lookups
    names += list(getattr(view, "search_fields", None) or [])
    return names


def test_api_filters_offer_no_personal_field():
    offered = {
        f"{route} {view.__name__}": [n for n in _filter_parameters(view) if _is_personal(n)]
        for route, view in _views()
    }
    assert {key: names for key, names in offered.items() if names} == {}
    # The check reads the filtersets that exist: patients' is among them.
    assert any("PatientViewSet" in key for key in offered)


def test_report_filters_offer_no_personal_field():
    offered = {
        name: [field for field in report.form.base_fields if _is_personal(field)]
        for name, report in REPORTS.items()
    }
    assert {name: fields for name, fields in offered.items() if fields} == {}


def _admin_lookups(model_admin) -> list[str]:
    lookups = list(model_admin.search_fields or [])
    for item in model_admin.list_filter or []:
        if isinstance(item, str):
            lookups.append(item)
        elif isinstance(item, tuple | list):
            lookups.append(item[0])
        else:  # a SimpleListFilter: its GET parameter
            lookups.append(getattr(item, "parameter_name", "") or "")
    if model_admin.date_hierarchy:
        lookups.append(model_admin.date_hierarchy)
    return lookups


def test_admin_search_and_filters_offer_no_personal_field():
    offered = {
        model._meta.label: [n for n in _admin_lookups(model_admin) if _is_personal(n)]
        for model, model_admin in admin.site._registry.items()
    }
    assert {label: names for label, names in offered.items() if names} == {}
    assert "patients.Patient" in offered


def test_redaction_keeps_the_type_of_a_mapping_of_arguments():
    # Gunicorn's access log formats with a dict that answers "-" for a header not sent; the
    # redaction must not turn it into a plain dict, whose missing keys fail the log line.
    class Atoms(dict):
        def __getitem__(self, key):
            return super().get(key, "-")

    message = "%(r)s %({x-request-id}i)s"
    record = logging.LogRecord("access", logging.INFO, "", 0, message, (Atoms(r="GET /"),), None)
    redact_record(record)
    assert isinstance(record.args, Atoms)
    assert record.getMessage() == "GET / -"
