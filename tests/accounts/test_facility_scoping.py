"""Hospital staff see only their own facility: every route pointed at the other facility's rows
answers 404, and no list, search, filter or autocomplete shows them. Auditors change nothing
anywhere and never see the diagnosis text."""

import pytest
from django.db import transaction
from django.test import Client

from casetracker.accounts import policy
from casetracker.accounts.roles import Role
from tests.routes import DIAGNOSIS_SENTINEL, METHODS, RouteWorld, all_routes, view_name
from tests.service_helpers import world as snapshot

# Reference data every signed-in user reads (facilities are not patient data), and the admin's
# `<id>/` shortcut, which redirects to the change page whatever the id (that page answers 404).
SHARED = (
    "facility-detail",
    "admin:accounts_facility_",
    "admin:django.views.generic.base.RedirectView",
)
# No model of the project has a page of its own outside the admin: 404 on both sides.
NO_PAGE = ("admin:view_on_site",)
# Returnees belong to no facility, and hospital staff see none of them, on either side.
RETURNEE_ROUTES = ("returnee-", "admin:patients_returnee_")
# Downloads answer only with the format asked for (400 without it, once the row is found).
QUERIES = {"batches:manifest-export": "?download=csv", "batch-manifest-export": "?download=csv"}


@pytest.fixture
def routes_world(db):
    return RouteWorld.build()


def _signed_in(world: RouteWorld, role: Role) -> Client:
    client = Client()
    client.force_login(world.users[role])
    return client


def _request(client: Client, method: str, url: str, data: str = ""):
    with transaction.atomic():
        response = client.generic(method, url, data=data, content_type="application/json")
        transaction.set_rollback(True)
    return response


def _side_routes(world: RouteWorld):
    """Routes whose URL names a row of one facility: (name, home URL, away URL)."""
    for route in all_routes():
        home, away = world.url(route, world.home), world.url(route, world.away)
        name = view_name(home)
        if home != away and not name.startswith(SHARED):
            yield name, home, away


def test_scoping_every_route_of_the_other_facility_answers_404(routes_world):
    world = routes_world
    client = _signed_in(world, Role.HOSPITAL_STAFF)
    wrong, checked = [], 0
    for name, _home, away in _side_routes(world):
        for method in METHODS:
            if not policy.allows(name, method, Role.HOSPITAL_STAFF):
                continue  # refused outright: the policy test checks those answers
            checked += 1
            status = _request(client, method, away).status_code
            if status != 404:
                wrong.append(f"{method} {away} [{name}]: {status}")
    assert checked > 25
    assert not wrong, "rows of another facility reachable:\n" + "\n".join(wrong)


def test_scoping_the_same_routes_reach_the_own_facility(routes_world):
    """The 404s above come from scoping, not from broken URLs."""
    world = routes_world
    client = _signed_in(world, Role.HOSPITAL_STAFF)
    wrong = []
    for name, home, _away in _side_routes(world):
        if name.startswith((*RETURNEE_ROUTES, *NO_PAGE)) or not policy.allows(
            name, "GET", Role.HOSPITAL_STAFF
        ):
            continue
        status = _request(client, "GET", home + QUERIES.get(name, "")).status_code
        if status not in (200, 302):
            wrong.append(f"GET {home} [{name}]: {status}")
    assert not wrong, "\n".join(wrong)


def _away_marks(world: RouteWorld) -> set[str]:
    """What would show that a row of the other facility is listed: its references and names,
    and the links to its admin pages."""
    away = world.away
    rows = (away.patient, away.companion, away.referral, away.batch, away.member, away.event)
    return away.references() | {
        f"/admin/{row._meta.app_label}/{row._meta.model_name}/{row.pk}/change/" for row in rows
    }


def _lists(world: RouteWorld) -> list[tuple[str, str]]:
    """Every GET route without a row in its URL that hospital staff may read, and the
    searches, filters and autocompletes that could name the other facility's rows, each with
    the search term it echoes back (a search box shows what was typed)."""
    urls = []
    for route in all_routes():
        url = world.url(route, world.home)
        name = view_name(url)
        if url == world.url(route, world.away) and policy.allows(name, "GET", Role.HOSPITAL_STAFF):
            urls.append((url, ""))
    away = world.away
    for term in (away.patient.case_reference, away.batch.code):
        searches = [
            f"/admin/patients/patient/?q={term}",
            f"/admin/batches/batch/?q={term}",
            f"/admin/batches/batchmember/?q={term}",
            f"/admin/audit/event/?q={term}",
            f"/api/v1/companions/?patient={term}",
            f"/api/v1/referrals/?patient={term}",
            f"/api/v1/events/?subject={term}",
            f"/api/v1/events/?batch={term}",
            *(
                "/admin/autocomplete/?app_label=batches&model_name=batchmember"
                f"&field_name={field}&term={term}"
                for field in ("patient", "batch", "companion")
            ),
        ]
        urls += [(url, term) for url in searches]
    urls.append((f"/api/v1/patients/?facility={away.facility.code}", ""))
    urls.append((f"/api/v1/batches/?staging_facility={away.facility.code}", ""))
    return urls


def test_scoping_no_list_search_or_autocomplete_shows_the_other_facility(routes_world):
    world = routes_world
    client = _signed_in(world, Role.HOSPITAL_STAFF)
    leaks = []
    marks = _away_marks(world)
    for url, term in _lists(world):
        response = _request(client, "GET", url)
        body = response.content.decode()
        found = sorted(mark for mark in marks - {term} if mark in body)
        if found:
            leaks.append(f"GET {url}: {found}")
    assert not leaks, "\n".join(leaks)
    # Not vacuous: the same lists show the own facility's rows.
    own = _request(client, "GET", "/api/v1/patients/").content.decode()
    assert world.home.patient.case_reference in own
    own = _request(client, "GET", "/admin/batches/batchmember/").content.decode()
    assert world.home.batch.code in own


def test_scoping_patient_search_finds_nothing_of_the_other_facility(routes_world):
    world = routes_world
    client = _signed_in(world, Role.HOSPITAL_STAFF)
    for body in (
        {"national_id": world.away.patient.national_id},
        {"name": world.away.patient.name_latin},
    ):
        response = client.post("/api/v1/patients/search/", body, content_type="application/json")
        assert response.status_code == 200, response.content
        assert world.away.patient.case_reference not in response.content.decode()
    mine = client.post(
        "/api/v1/patients/search/",
        {"national_id": world.home.patient.national_id},
        content_type="application/json",
    )
    assert world.home.patient.case_reference in mine.content.decode()


# The only writes an auditor may make: signing in and out, the page language, their own
# password and second factor (the `account:` pages), and marking their own notifications read.
# No case data.
AUDITOR_WRITES = {
    "api-token",
    # Searches by national ID or name are reads sent as POST, so the terms stay out of URLs.
    "patient-search",
    "admin:patients_patient_find",
    "patients:queue",
    "patients:returnees",
    "notification-read",
    "notification-read-all",
    "notifications:mark-read",
    "notifications:mark-all-read",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "set_language",
}


def test_auditor_may_write_only_what_the_table_says():
    writable = {
        name
        for name in policy.ROUTES
        for method in ("POST", "PUT", "PATCH", "DELETE")
        if policy.allows(name, method, Role.AUDITOR)
    }
    assert writable - AUDITOR_WRITES == {name for name in writable if name.startswith("account:")}


def test_auditor_every_write_is_refused_and_changes_nothing(routes_world):
    world = routes_world
    client = _signed_in(world, Role.AUDITOR)
    before = snapshot()
    wrong = []
    for route in all_routes():
        url = world.url(route, world.home)
        name = view_name(url)
        if name in AUDITOR_WRITES or name.startswith("account:"):
            continue
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            # Not rolled back: whatever got through would show in the snapshot.
            response = client.generic(method, url, data="{}", content_type="application/json")
            if response.status_code not in (403, 405):
                wrong.append(f"{method} {url} [{name}]: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert snapshot() == before


def test_auditor_never_sees_the_diagnosis_on_any_route(routes_world):
    world = routes_world
    client = _signed_in(world, Role.AUDITOR)
    seen = []
    for route in all_routes():
        url = world.url(route, world.home)
        response = _request(client, "GET", url)
        if DIAGNOSIS_SENTINEL in response.content.decode(errors="replace"):
            seen.append(url)
    assert not seen, "diagnosis shown to an auditor at: " + ", ".join(seen)
