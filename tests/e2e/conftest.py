"""A real browser for the end-to-end tests: Debian's chromium driven by Playwright.

Playwright's own browser downloads are not used (`executable_path`). Without chromium or the
playwright package the tests skip with the reason, except in CI, where they fail: there
`.ci/run` installs chromium first."""

import importlib.util
import os
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Inside the project (git-ignored), or wherever SCREENSHOT_DIR says.
SHOTS = Path(
    os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots")
)


def _unavailable() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright's Python package is not installed (it is a dev dependency)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (install it: scripts/install-system-packages chromium)"
    return None


def pytest_collection_modifyitems(config, items):
    # Skipped before any fixture runs: no test database is made for nothing.
    reason = _unavailable()
    if reason and not IN_CI:
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def chromium():
    reason = _unavailable()
    if reason and IN_CI:
        pytest.fail(f"browser tests are required in CI: {reason}")
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's synchronous API runs an event loop in this thread, which Django takes for
    # async code and then refuses ORM calls. The tests make their data in this thread, and
    # the live server answers in its own.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
