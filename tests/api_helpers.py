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
