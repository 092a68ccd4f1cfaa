"""What every API request costs before its own rows: signed in with a token, the role is read
in the token's query (not one query more), and a request that names no filter builds no
filter set; both answer exactly as before (the role the most restricted of the user's groups,
the filters applied when named)."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from batches.api.views import BatchFilter
from casetracker.accounts.roles import Role, user_role
from casetracker.accounts.sessions import ExpiringTokenAuthentication, issue_api_token
from tests import factories

pytestmark = pytest.mark.django_db


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_token(user).key}")
    return client


def _queries(client, url) -> tuple[list[str], object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return [q["sql"] for q in captured.captured_queries], response


def test_token_request_reads_the_role_with_the_token(coordinator):
    batch = factories.BatchFactory()
    sql, response = _queries(_token_client(coordinator), f"/api/v1/batches/{batch.code}/")
    assert response.status_code == 200
    # The token (with its user and role), then the batch: no query of the user's groups.
    assert len(sql) == 2, sql
    assert "auth_group" in sql[0]
    assert response.json()["code"] == batch.code


@pytest.mark.parametrize(
    ("groups", "superuser", "role"),
    [
        (["coordinator"], False, Role.COORDINATOR),
        (["hospital_staff"], False, Role.HOSPITAL_STAFF),
        (["auditor"], False, Role.AUDITOR),
        # In several groups: the most restricted, never the union.
        (["coordinator", "auditor"], False, Role.AUDITOR),
        (["coordinator", "hospital_staff"], False, Role.HOSPITAL_STAFF),
        (["coordinator", "some-other-group"], False, Role.COORDINATOR),
        (["some-other-group"], False, Role.ANONYMOUS),
        ([], False, Role.ANONYMOUS),
        ([], True, Role.ADMIN),
        (["auditor"], True, Role.ADMIN),
    ],
)
def test_token_role_is_the_one_user_role_finds(groups, superuser, role):
    user = factories.UserFactory(is_superuser=superuser)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    key = issue_api_token(user).key
    authenticated, _token = ExpiringTokenAuthentication().authenticate_credentials(key)
    with CaptureQueriesContext(connection) as captured:
        found = user_role(authenticated)
    assert found is role
    assert len(captured) == 0
    # The same as a user loaded on its own, whose groups are read when asked.
    fresh = type(user).objects.get(pk=user.pk)
    assert user_role(fresh) is role


def test_token_of_a_user_without_a_role_is_refused_by_the_policy():
    user = factories.UserFactory()
    response = _token_client(user).get("/api/v1/batches/")
    assert response.status_code == 403


def test_token_unknown_or_inactive_is_refused(coordinator):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get("/api/v1/batches/").status_code == 401
    client = _token_client(coordinator)
    coordinator.is_active = False
    coordinator.save()
    # Deactivation deletes the token: refused either way.
    assert client.get("/api/v1/batches/").status_code == 401


def test_list_without_filters_answers_every_row_and_with_one_filters(api, coordinator):
    leaving = factories.BatchFactory()
    coming = factories.BatchFactory(direction="return")
    client = api(coordinator)
    every = client.get("/api/v1/batches/", {"page": 1}).json()
    assert {row["code"] for row in every["results"]} == {leaving.code, coming.code}
    filtered = client.get("/api/v1/batches/", {"direction": "return"}).json()
    assert [row["code"] for row in filtered["results"]] == [coming.code]
    # A filter named with a suffix of its name is still read (the event list's date range).
    assert client.get("/api/v1/events/", {"date_from": "2020-13-01"}).status_code == 400


def test_filters_still_refuse_what_they_cannot_read(api, coordinator):
    client = api(coordinator)
    response = client.get("/api/v1/events/", {"access_log": "maybe"})
    assert response.status_code == 400
    assert "access_log" in response.json()
    assert client.get("/api/v1/batches/", {"status": "nonsense"}).status_code == 400


def test_detail_with_a_filter_in_the_query_is_still_filtered(api, coordinator):
    # DRF filters the rows a detail is looked up in: a filter named there still applies.
    batch = factories.BatchFactory()
    client = api(coordinator)
    assert client.get(f"/api/v1/batches/{batch.code}/").status_code == 200
    assert client.get(f"/api/v1/batches/{batch.code}/", {"status": "draft"}).status_code == 200
    missed = client.get(f"/api/v1/batches/{batch.code}/", {"status": "cancelled"})
    assert missed.status_code == 404


def test_a_request_naming_no_filter_builds_no_filter_set(api, coordinator, monkeypatch):
    built = []
    build = BatchFilter.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        build(self, *args, **kwargs)

    monkeypatch.setattr(BatchFilter, "__init__", counting)
    batch = factories.BatchFactory()
    client = api(coordinator)
    assert client.get("/api/v1/batches/", {"page": 1, "page_size": 10}).status_code == 200
    assert client.get(f"/api/v1/batches/{batch.code}/").status_code == 200
    assert built == []
    assert client.get("/api/v1/batches/", {"direction": "exit"}).status_code == 200
    assert len(built) == 1
