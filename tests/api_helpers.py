"""Shared checks for the API tests."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from unittest import mock

from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from casetracker import crypto


def count_queries(api, user, url, params=None):
    """Queries one GET costs, and its JSON body."""
    # A fresh user object each time: the role is cached on the instance.
    fresh = type(user).objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as ctx:
        response = api(fresh).get(url, params or {})
    assert response.status_code == 200
    return len(ctx), response.json()


def assert_constant_queries(api, user, url, make):
    """`make(n)` adds n rows to the list at `url`; 2 rows and 20 rows cost the same queries."""
    make(2)
    small, body = count_queries(api, user, url)
    assert body["count"] == 2
    make(18)
    large, body = count_queries(api, user, url)
    assert len(body["results"]) == 20
    assert small == large, f"{url}: {small} queries for 2 rows, {large} for 20"


def assert_page_size_constant(api, user, url, params=None) -> None:
    """A page of 10 rows and a page of up to 100 cost the same queries: nothing is read per
    row. The list must hold more than 10 rows."""
    params = params or {}
    small, body = count_queries(api, user, url, {**params, "page_size": 10})
    assert len(body["results"]) == 10, f"{url}: fewer than 10 rows to compare"
    large, body = count_queries(api, user, url, {**params, "page_size": 100})
    assert len(body["results"]) > 10
    assert small == large, f"{url}: {small} queries for 10 rows, {large} for {len(body['results'])}"


@contextmanager
def decryptions() -> Iterator[list]:
    """Counts the stored values (national ID numbers) decrypted inside the block: one item
    per decryption in the list it yields."""
    counted: list = []
    decrypt = crypto.decrypt

    def counting(token):
        counted.append(token)
        return decrypt(token)

    with mock.patch.object(crypto, "decrypt", counting):
        yield counted


def patient_body(**overrides) -> dict:
    """A valid patient registration through the API (JSON)."""
    return {
        "name_latin": "Amal Haddad",
        "name_arabic": "أمل حداد",
        "national_id": "401234567",
        "date_of_birth": "1984-02-03",
        "sex": "female",
        "phone": "+970599000000",
        "facility": "al-amal",
        "priority": "critical",
        "clinical_category": "oncology",
        "diagnosis": "stage III carcinoma",
        "needs_oxygen": True,
        **overrides,
    }


def admin_patient_form(facility, **overrides) -> dict:
    """A valid patient add/change form of the admin, with its empty inlines."""
    return {
        "name_latin": "Huda Barhoum",
        "name_arabic": "هدى برهوم",
        "national_id": "401234567",
        "date_of_birth": "1979-04-02",
        "sex": "female",
        "phone": "",
        "contact_language": "ar",
        "facility": facility.pk,
        "priority": "critical",
        "clinical_category": "oncology",
        "diagnosis": "",
        "companions-TOTAL_FORMS": "0",
        "companions-INITIAL_FORMS": "0",
        "referrals-TOTAL_FORMS": "0",
        "referrals-INITIAL_FORMS": "0",
        **overrides,
    }


T = TypeVar("T")


@contextmanager
def world_rolled_back(django_db_blocker, build: Callable[[], T]) -> Iterator[T]:
    """For a module-scoped fixture: the rows `build()` makes, inside a transaction rolled back
    at the end; each test runs in a savepoint of it (`django_db`), so the rows are shared and
    never leak out."""
    # The production hasher takes a second per user; the tests' `fast_passwords` is too late.
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast:
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
