"""Error pages: a 500 says nothing about its cause (page or API), and 400, 403 and 404 are short
translated pages of the site's layout, in English and in Arabic (right to left)."""

import json
import logging
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.template import loader
from django.test import Client
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

import casetracker.urls
from casetracker.accounts import policy

pytestmark = pytest.mark.django_db

SENTINEL = "SENTINEL-5K2W-401234567"


def page_raises(request):
    raise RuntimeError(f"could not register {SENTINEL}")


def page_denies(request):
    raise PermissionDenied(f"not for {SENTINEL}")


def page_suspicious(request):
    raise SuspiciousOperation(f"odd input {SENTINEL}")


class ApiRaises(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError(f"could not register {SENTINEL}")

    def post(self, request):
        return Response({"ok": True})


ROUTES = {
    "test-raises": page_raises,
    "test-denies": page_denies,
    "test-suspicious": page_suspicious,
    "test-api-raises": ApiRaises.as_view(),
}
urlpatterns = [
    *(path(f"{name}/", view, name=name) for name, view in ROUTES.items()),
    *casetracker.urls.urlpatterns,
]


@pytest.fixture(autouse=True)
def test_urls(settings, monkeypatch):
    settings.ROOT_URLCONF = __name__
    for name in ROUTES:
        monkeypatch.setitem(policy.ROUTES, name, {"GET": policy.EVERYONE, "POST": policy.EVERYONE})


@pytest.fixture
def browser():
    return Client(raise_request_exception=False)


def _text(response) -> str:
    return response.content.decode()


# --- 500 ------------------------------------------------------------------------------------


def test_500_page_says_nothing_about_the_cause(browser, caplog):
    with caplog.at_level(logging.ERROR):
        response = browser.get("/test-raises/")
    assert response.status_code == 500
    body = _text(response)
    assert SENTINEL not in body
    assert "RuntimeError" not in body
    assert "Traceback" not in body
    assert "Server error" in body
    assert "خطأ في الخادم" in body  # the same page in Arabic: no request language at that point
    # The cause is in the log, for the operators.
    assert "RuntimeError" in caplog.text


def test_500_page_renders_with_no_context_at_all():
    html = loader.get_template("500.html").render()
    assert 'lang="en"' in html
    assert 'lang="ar" dir="rtl"' in html


def test_api_500_is_a_generic_json_body(browser, caplog):
    with caplog.at_level(logging.ERROR):
        response = browser.get("/test-api-raises/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["detail"]
    assert SENTINEL not in json.dumps(body)
    assert "RuntimeError" not in json.dumps(body)
    # Logged once, with its traceback, as Django logs the errors of pages.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["Internal Server Error: /test-api-raises/"]
    assert errors[0].exc_info[0] is RuntimeError


def test_api_500_still_reaches_the_test_client(api):
    # Tests see the exception itself, as they do for pages (the got_request_exception signal).
    with pytest.raises(RuntimeError, match=SENTINEL):
        api().get("/test-api-raises/")


# --- 400, 403, 404 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status", "title"),
    [
        ("/no-such-page/", 404, "Page not found"),
        ("/test-denies/", 403, "Access refused"),
        ("/test-suspicious/", 400, "Bad request"),
    ],
)
def test_error_pages_are_short_pages_of_the_site(browser, url, status, title):
    response = browser.get(url)
    assert response.status_code == status
    body = _text(response)
    assert f"<h1>{title}</h1>" in body
    assert 'dir="ltr"' in body
    assert SENTINEL not in body
    assert "Evacuation case tracker" in body  # base.html's header


@pytest.mark.parametrize(
    ("url", "status"), [("/no-such-page/", 404), ("/test-denies/", 403), ("/test-suspicious/", 400)]
)
def test_error_pages_in_arabic_read_right_to_left(browser, url, status):
    response = browser.get(url, HTTP_ACCEPT_LANGUAGE="ar")
    assert response.status_code == status
    assert re.search(r'<html lang="ar" dir="rtl">', _text(response))


def test_error_pages_need_no_inline_style_or_script():
    # The Content-Security-Policy refuses both; styles live in base.html's <style> block.
    templates = Path(django_settings.BASE_DIR, "templates")
    for name in ("400.html", "403.html", "404.html", "500.html"):
        source = (templates / name).read_text()
        assert "style=" not in source, name
        assert "<style" not in source, name
        assert "<script" not in source, name
