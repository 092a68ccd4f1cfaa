"""The Content-Security-Policy, without a browser: the header is strict everywhere, and every
inline <script> and <style> our pages render carries that response's nonce (the browser test,
tests/e2e/test_csp_browser.py, proves that the pages then run with no violation)."""

import re
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests import factories
from tests.e2e import pages

STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
NONCE = re.compile(r"^'nonce-[A-Za-z0-9+/]{22}=='$")
# Data blocks (DRF's browsable API keeps its CSRF header name in one) are never run.
DATA_TYPES = {"application/json", "application/ld+json"}


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']}: no Content-Security-Policy header"
    directives = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def nonce_of(response) -> str | None:
    """The nonce the header allows for scripts and styles (the same one for both), if any."""
    directives = policy(response)
    found = {s for d in ("script-src", "style-src") for s in directives[d] if NONCE.match(s)}
    assert len(found) <= 1, found
    return found.pop()[len("'nonce-") : -1] if found else None


def assert_strict(response, relaxed=()) -> None:
    """Exactly the agreed directives: same origin only, no unsafe-*, no other origin; plus
    what one page is allowed beyond them (`relaxed`)."""
    directives = policy(response)
    without_nonces = {
        name: [s for s in sources if not NONCE.match(s)] for name, sources in directives.items()
    }
    assert without_nonces == STRICT | {name: list(s) for name, s in relaxed}, directives


def refused(name: str, value: str | None) -> bool:
    """An attribute the policy refuses to run: inline style, event handler, javascript: URL."""
    if name == "style" or name.startswith("on"):
        return True
    url = (value or "").strip().lower()
    return name in ("href", "src", "action", "formaction") and url.startswith("javascript:")


class Tags(HTMLParser):
    """Inline scripts and styles with their nonce; attributes a strict CSP would refuse."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inline: list[tuple[str, str | None]] = []  # (tag, nonce)
        self.external: list[str] = []  # script src and stylesheet href
        self.refused: list[str] = []  # style="", on...="", javascript: URLs

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.external.append(attributes["src"])
        elif tag == "link" and "stylesheet" in (attributes.get("rel") or ""):
            self.external.append(attributes.get("href") or "")
        elif tag == "style" or (tag == "script" and attributes.get("type") not in DATA_TYPES):
            self.inline.append((tag, attributes.get("nonce")))
        self.refused += [
            f"<{tag} {name}={value!r}>" for name, value in attrs if refused(name, value)
        ]

    handle_startendtag = handle_starttag


def check_page(response, url: str, relaxed=(), status: int = 200) -> None:
    """Every inline script and style carries this response's nonce, every external one is
    ours, and nothing needs 'unsafe-inline'."""
    assert response.status_code == status, f"{url}: {response.status_code}"
    assert_strict(response, relaxed)
    tags = Tags()
    tags.feed(response.content.decode())
    nonce = nonce_of(response)
    if tags.inline:
        assert nonce, f"{url}: inline {tags.inline} but no nonce in the header"
    wrong = [(tag, n) for tag, n in tags.inline if n != nonce]
    assert not wrong, f"{url}: inline tags without this response's nonce: {wrong}"
    foreign = [u for u in tags.external if not u.startswith("/") or u.startswith("//")]
    assert not foreign, f"{url}: loads from elsewhere: {foreign}"
    assert not tags.refused, f"{url}: {tags.refused}"


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker):
    """The scenario, built once for this module's walks (it takes seconds) and rolled back
    after them; each test still runs in its own transaction inside this one."""
    with django_db_blocker.unblock(), transaction.atomic():
        # Names of their own: the other tests here make the usual fixture users.
        facility = factories.FacilityFactory(code="csp-staging", kind="staging")
        coordinator = factories.UserFactory(username="csp-coordinator", role="coordinator")
        admin = factories.UserFactory(username="csp-admin", is_superuser=True)
        yield pages.build_site(coordinator=coordinator, facility=facility), admin
        transaction.set_rollback(True)


def _walk(client, visits, language: str, user=None) -> None:
    """Every page of `visits`, as `user` (signed in) or anonymously, in `language`."""
    client.cookies["django_language"] = language  # signed out, the switch's cookie decides
    if user is not None:
        user.preferred_language = language  # signed in, the user's own language does
        user.save()
        client.force_login(user)
    for visit in visits:
        response = client.get(visit.url, follow=True)
        check_page(response, visit.url, visit.relaxed)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_csp_admin_pages_carry_the_nonce_on_every_inline_tag(client, db, site, language):
    scenario, admin = site
    _walk(client, pages.admin_pages(scenario), language, admin)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_csp_coordinator_pages_carry_the_nonce_on_every_inline_tag(client, db, site, language):
    scenario, _ = site
    _walk(client, pages.coordinator_pages(scenario), language, scenario.coordinator)


def test_csp_sign_in_page_carries_the_nonce(client, db):
    _walk(client, pages.anonymous_pages(), "ar")


def test_csp_lockout_page_carries_the_nonce(client, coordinator, settings):
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(url, {"username": "coordinator", "password": "wrong"})
    check_page(response, url, status=429)
    assert "Too many failed sign-ins" in response.content.decode()


def test_csp_header_is_strict_on_a_page(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("notifications:inbox"))
    assert_strict(response)
    assert nonce_of(response)  # the inbox's <style> asked for one


def test_csp_header_is_strict_on_an_api_answer(client, coordinator):
    token = Token.objects.create(user=coordinator)
    response = client.get(reverse("batch-list"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert_strict(response)


def test_csp_header_is_strict_on_an_admin_page(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("admin:batches_batch_changelist"))
    assert response.status_code == 200
    assert_strict(response)


def test_csp_error_page_carries_the_nonce(client, admin_user):
    client.force_login(admin_user)
    check_page(client.get("/no-such-page/"), "/no-such-page/", status=404)


def test_csp_nonces_differ_between_two_responses(client, admin_user):
    client.force_login(admin_user)
    first, second = (client.get(reverse("notifications:inbox")) for _ in range(2))
    assert nonce_of(first) and nonce_of(second)
    assert nonce_of(first) != nonce_of(second)
    assert f'nonce="{nonce_of(first)}"' in first.content.decode()


def test_csp_swagger_script_comes_from_its_own_url(client, admin_user):
    """The split view: the page has no inline script, its start-up script is a same-origin
    JavaScript answer."""
    client.force_login(admin_user)
    page = client.get(reverse("api-docs"))
    tags = Tags()
    tags.feed(page.content.decode())
    assert [tag for tag, _ in tags.inline] == ["style"]
    [script] = [src for src in tags.external if "script" in src]
    answer = client.get(script)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in answer.content.decode()


def test_csp_report_charts_have_no_inline_style(client, db, site):
    client.force_login(site[1])
    html = client.get(reverse("reports:overview")).content.decode()
    charts = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(charts) == 4
    for svg in charts:
        assert "<style" not in svg
        assert "style=" not in svg


def test_csp_blob_workers_are_allowed_on_the_redoc_page_only(client, admin_user):
    """Redoc's search needs a worker from a blob: URL; no other page may make one."""
    client.force_login(admin_user)
    assert policy(client.get(reverse("api-redoc")))["worker-src"] == ["'self'", "blob:"]
    for name in ("home", "api-docs", "admin:index"):
        assert "worker-src" not in policy(client.get(reverse(name)))
