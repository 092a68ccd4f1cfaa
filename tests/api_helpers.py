"""Shared checks for the API tests."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


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
