"""The strict Content-Security-Policy in a real browser: every page, in English and Arabic, as
an administrator, a coordinator and a visitor, runs with no policy violation, no console error
or warning, no script error and no failed request. Screenshots land in var/screenshots/.

The static checks in tests/test_csp.py find a missing nonce; only a browser finds what the
pages' own scripts do (select2, Swagger UI, Redoc inserting styles, workers, fonts...)."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.urls import reverse

from tests.e2e import pages

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery-staple"  # tests/factories.py
ARABIC_BUTTON = "header form.lang button[value=ar]"
# Tells Python about each violation as it happens, on every page the context opens.
LISTEN = """
document.addEventListener("securitypolicyviolation", (e) => window.reportViolation({
  directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile,
  line: e.lineNumber, sample: e.sample,
}));
"""


class Watch:
    """What the browser reported that a person would not want to see, per page."""

    def __init__(self, language: str, expected_status: int | None = None):
        self.language = language
        self.where = ""
        self.expected_status = expected_status
        self.problems: list[str] = []

    def add(self, what: str) -> None:
        self.problems.append(f"[{self.language}] {self.where}: {what}")

    def console(self, message) -> None:
        if message.type not in ("error", "warning"):
            return
        expected = f"status of {self.expected_status}" if self.expected_status else None
        if expected and expected in message.text:
            return
        self.add(f"console {message.type}: {message.text}")

    def response(self, response) -> None:
        if response.status >= 400 and response.status != self.expected_status:
            self.add(f"{response.status} for {response.url}")


@contextmanager
def browsing(chromium, live_server, language: str, **watch) -> Iterator[tuple]:
    """A fresh browser profile (no cookies) in `language`, watched."""
    seen = Watch(language, **watch)
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.expose_function("reportViolation", lambda v: seen.add(f"CSP violation {v}"))
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.on("console", seen.console)
    page.on("pageerror", lambda error: seen.add(f"script error: {error}"))
    page.on("response", seen.response)
    try:
        seen.where = reverse("home")
        page.goto(reverse("home"), wait_until="networkidle")
        if language == "ar":
            # As a person would: the language switch in the header (a form posting to /i18n/).
            page.click(ARABIC_BUTTON)
            page.wait_for_load_state("networkidle")
            assert page.locator("html").get_attribute("dir") == "rtl"
        yield page, seen
    finally:
        context.close()


def sign_in(page, seen: Watch, user) -> None:
    seen.where = reverse("admin:login")
    page.goto(reverse("admin:login"), wait_until="networkidle")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{reverse('admin:index')}")


def visit(page, seen: Watch, shot, where: pages.Visit) -> None:
    seen.where = where.url
    response = page.goto(where.url, wait_until="load")
    if response is None or not response.ok:
        seen.add(f"answered {response.status if response else 'nothing'}")
    if where.ready:
        page.wait_for_selector(where.ready, timeout=20_000)
    direction = page.locator("html").get_attribute("dir")
    if seen.language == "ar" and not where.name.startswith("api-") and direction != "rtl":
        seen.add(f"dir={direction!r} in Arabic")
    if where.autocomplete:
        # select2: open the dropdown, which asks the admin's autocomplete view for choices.
        page.click(f"#{where.autocomplete} + .select2 .select2-selection")
        page.wait_for_selector(
            ".select2-container--open .select2-results__option:not(.loading-results)"
        )
    if where.search:
        page.fill("[role=search] input", where.search)
        page.wait_for_selector("[data-role='search:results'] [role=menuitem]")
    page.wait_for_timeout(200)  # a violation is reported a moment after it happens
    long_page = not where.name.startswith("api-")
    page.screenshot(path=shot / f"{seen.language}-{where.name}.png", full_page=long_page)
    if where.autocomplete:
        page.keyboard.press("Escape")


@pytest.mark.parametrize("language", ["en", "ar"])
def test_csp_browser_pages_run_without_violations(
    live_server,
    chromium,
    shots,
    transactional_db,
    coordinator,
    facility,
    admin_user,
    nurse,
    language,
):
    site = pages.build_site(coordinator=coordinator, facility=facility)
    # Signed in, the pages follow each user's own language; signed out, the switch's cookie.
    for user in (coordinator, admin_user, nurse):
        user.preferred_language = language
        user.save()
    problems = []
    for user, visits in [
        (None, pages.anonymous_pages()),
        (admin_user, pages.admin_pages(site)),
        (coordinator, pages.coordinator_pages(site)),
        (nurse, pages.nurse_pages(site)),
    ]:
        with browsing(chromium, live_server, language) as (page, seen):
            if user is not None:
                sign_in(page, seen, user)
            for where in visits:
                visit(page, seen, shots, where)
        problems += seen.problems
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_csp_browser_lockout_page_runs_without_violations(
    live_server, chromium, shots, transactional_db, coordinator, settings, language
):
    with browsing(chromium, live_server, language, expected_status=429) as (page, seen):
        seen.where = reverse("admin:login")
        for _ in range(settings.AXES_FAILURE_LIMIT):
            page.goto(reverse("admin:login"), wait_until="networkidle")
            page.fill("#id_username", coordinator.username)
            page.fill("#id_password", "wrong")
            with page.expect_navigation() as answer:
                page.click("input[type=submit]")
        assert answer.value.status == 429
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(200)
        page.screenshot(path=shots / f"{language}-lockout.png", full_page=True)
        assert page.locator("h1").count() == 1
    assert not seen.problems, "\n".join(seen.problems)
