import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone, translation
from rest_framework.test import APIClient

from casetracker.celery import app as celery_app
from casetracker.notifications import queues
from tests import factories

IN_CI = os.environ.get("CI", "").lower() == "true"

# Tests that commit queue real delivery tasks when REDIS_URL is set: give them queues of their
# own, so a developer's running worker never delivers test rows (nor the tests its rows).
TEST_QUEUE = f"casetracker-test-{os.getpid()}"
celery_app.conf.update(
    task_default_queue=TEST_QUEUE,
    task_queues=queues.celery_queues(TEST_QUEUE),
    task_routes=queues.task_routes(TEST_QUEUE),
)


# Connections closed after each request and task, as CONN_MAX_AGE=0 does: the in-process worker
# and the live servers open connections in threads that end without closing them, and a
# connection left open keeps the test database from being dropped at the end of the run.
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


def _missing(what: str) -> None:
    """A missing real service fails the run in CI and skips, with the reason, elsewhere."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not configured here (set it to run this test)")


def pytest_configure(config):
    # pytest-django's live server (browser tests, page weight) serves /static/ with Django's
    # finders, which know no hashed names: leave the assets to WhiteNoise, which serves them
    # from STATIC_ROOT with their production names and headers.
    from django.contrib.staticfiles import handlers

    handlers.StaticFilesHandler = _no_static_handler


def _no_static_handler(application):
    return application


@pytest.fixture(scope="session", autouse=True)
def static_files():
    """Pages name assets by their hashed names, read from collectstatic's manifest (`make test`
    makes it; a bare `pytest` run makes it here the first time)."""
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a page for a user who reads Arabic activates
    Arabic on the thread (casetracker/accounts/language.py), which must not leak into the next
    test's texts."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def eager_celery(request):
    """Tasks run inline, as under `make run`, whether or not REDIS_URL is set, so a test sees a
    delivery's result at once. The integration tests talk to the real broker and worker."""
    if "integration" in request.node.path.parts:
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The production hasher is deliberately slow; every factory user would pay for it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def require_postgres(db):
    if connection.vendor != "postgresql":
        _missing("PostgreSQL (DATABASE_URL)")


@pytest.fixture
def require_redis():
    if not os.environ.get("REDIS_URL"):
        _missing("Redis (REDIS_URL)")


@pytest.fixture
def facility(db):
    return factories.FacilityFactory(code="al-amal", kind="staging")


@pytest.fixture
def other_facility(db):
    return factories.FacilityFactory(code="nasser", kind="hospital")


@pytest.fixture
def coordinator(db):
    return factories.UserFactory(username="coordinator", role="coordinator")


@pytest.fixture
def nurse(facility):
    return factories.UserFactory(
        username="nurse", role="hospital_staff", facility=facility, preferred_language="ar"
    )


@pytest.fixture
def other_nurse(other_facility):
    return factories.UserFactory(
        username="other-nurse", role="hospital_staff", facility=other_facility
    )


@pytest.fixture
def auditor(db):
    return factories.UserFactory(username="auditor", role="auditor")


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(username="admin", is_superuser=True)


@pytest.fixture
def api():
    """`api(user)` is an API client signed in as that user (None: anonymous)."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def quota(db):
    return factories.QuotaFactory()


@pytest.fixture
def ready_patient(facility):
    """`ready_patient(**fields)`: a waiting patient at the staging facility, fit, with an
    approved referral valid today."""

    def make(**fields):
        fields.setdefault("facility", facility)
        patient = factories.PatientFactory(**fields)
        factories.ReferralFactory(patient=patient)
        return patient

    return make
