"""The route policy table (casetracker/accounts/policy.py) against what the application answers:
every URL pattern and every OpenAPI operation, as every role, with every method."""

import re

import pytest
from django.db import transaction
from django.test import Client
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from casetracker.accounts import policy
from casetracker.accounts.permissions import RolePermission
from casetracker.accounts.roles import Role
from tests.routes import METHODS, RouteWorld, all_routes, fill, view_name

# Answers that mean "your role may not" or "no such method": never given when the table allows.
REFUSALS = {401, 403, 405}
# Routes that change the session itself: the client signs in again after them.
SESSION_ROUTES = {
    "admin:logout",
    "admin:login",
    "account:sign-out",
    "set_language",
    "admin:password_change",
}


@pytest.fixture
def routes_world(db):
    return RouteWorld.build()


def _client(world: RouteWorld, role: Role) -> Client:
    client = Client()
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


def _request(client: Client, method: str, url: str):
    """One request whose writes are rolled back, so every request sees the same rows."""
    with transaction.atomic():
        response = client.generic(method, url, data="", content_type="application/json")
        transaction.set_rollback(True)
    return response


def _is_api(url: str) -> bool:
    return url.startswith("/api/")


def _problem(response, url: str, name: str, method: str, role: Role) -> str | None:
    """What is wrong with an answer, measured against the table; None when it matches."""
    status = response.status_code
    # A refusal sends to the sign-in page with the way back; signing out lands there plainly.
    to_login = status == 302 and "/login/?next=" in response.get("Location", "")
    if method not in policy.methods(name):
        expected = "405 (no role may use this method)"
        ok = status == 405
    elif policy.allows(name, method, role):
        expected = "not a refusal"
        ok = status not in REFUSALS and not to_login
    elif role is Role.ANONYMOUS:
        # Asked to authenticate (API) or sent to the sign-in page.
        expected = "401" if _is_api(url) else "a redirect to sign in"
        ok = status == 401 if _is_api(url) else to_login
    else:
        expected = "403"
        ok = status == 403
    return None if ok else f"answered {status}, table says {expected}"


def test_policy_every_url_pattern_has_an_entry(routes_world):
    world = routes_world
    missing = []
    for route in all_routes():
        name = view_name(world.url(route, world.home))
        if name not in policy.ROUTES:
            missing.append(f"{route.pattern} ({name})")
    assert not missing, "routes without a policy entry:\n" + "\n".join(missing)


def test_policy_has_no_entry_for_a_route_that_does_not_exist(routes_world):
    world = routes_world
    existing = {view_name(world.url(route, world.home)) for route in all_routes()}
    assert set(policy.ROUTES) - existing == set()


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_policy_every_route_and_method_answers_as_the_table_says(routes_world, role):
    world = routes_world
    client = _client(world, role)
    wrong = []
    for route in all_routes():
        url = world.url(route, world.home)
        name = view_name(url)
        for method in METHODS:
            problem = _problem(_request(client, method, url), url, name, method, role)
            if problem:
                wrong.append(f"{method} {url} [{name}]: {problem}")
            if name in SESSION_ROUTES:
                client = _client(world, role)
    assert not wrong, f"{len(wrong)} answers differ from the table:\n" + "\n".join(wrong)


def _documented(world: RouteWorld) -> dict[tuple[str, str], str]:
    """Every OpenAPI operation as (route name, method) -> its path in the schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    by_shape = {fill(r.pattern, dict.fromkeys(r.params, "x")): r for r in all_routes()}
    operations = {}
    for path, methods in schema["paths"].items():
        route = by_shape.get(re.sub(r"{\w+}", "x", path))
        assert route is not None, f"{path} is in the schema but matches no URL pattern"
        name = view_name(world.url(route, world.home))
        for method in methods:
            if method.upper() in METHODS:
                operations[(name, method.upper())] = path
    return operations


def test_policy_every_openapi_operation_is_allowed_to_some_role(routes_world):
    nobody = [
        f"{method} {path} [{name}]"
        for (name, method), path in _documented(routes_world).items()
        if not policy.allowed_roles(name, method)
    ]
    assert not nobody, "documented, but the table allows nobody: " + ", ".join(nobody)


def test_policy_every_api_method_in_the_table_is_documented(routes_world):
    documented = _documented(routes_world)
    undocumented = [
        f"{method} {name}"
        for name, rule in policy.API_ROUTES.items()
        if name not in {"schema", "api-docs", "api-redoc"}
        for method in rule
        if (name, method) not in documented
    ]
    assert not undocumented, "in the table but not in the OpenAPI schema: " + str(undocumented)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ANONYMOUS, False),
        (Role.HOSPITAL_STAFF, False),
        (Role.COORDINATOR, False),
        (Role.AUDITOR, True),
        (Role.ADMIN, True),
    ],
)
def test_policy_audit_pages_are_for_auditors_and_admins(role, allowed):
    assert policy.allows("reports:cancellations", "GET", role) is allowed


def test_policy_unknown_route_is_refused_to_everyone():
    assert all(not policy.allows("no-such-route", "GET", role) for role in Role)
    assert policy.methods("no-such-route") == []


def test_policy_head_and_options_follow_get():
    assert policy.allowed_roles("patient-list", "HEAD") == policy.allowed_roles(
        "patient-list", "GET"
    )
    assert "OPTIONS" in policy.methods("patient-list")


def test_policy_every_api_view_checks_the_table(routes_world):
    """No API view opts out of the table (DRF's AllowAny, say)."""
    world = routes_world
    opted_out = []
    for route in all_routes():
        callback = resolve(world.url(route, world.home).split("?")[0]).func
        view_class = getattr(callback, "cls", None)
        if view_class is not None and list(view_class.permission_classes) != [RolePermission]:
            opted_out.append(f"{route.pattern}: {view_class.permission_classes}")
    assert not opted_out, "\n".join(opted_out)
