"""Page weight as a person on a slow link pays it: bytes on the wire for a page and every asset
it loads, on the first visit (cold) and on a later one (warm: assets cached by their headers).

Talks HTTP to a running server (`python manage.py page_weight`, `make weight`) and serves the
test that holds every field page to its budget (tests/test_page_weight.py)."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from urllib.error import HTTPError
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

# The budgets of DESIGN section 5 (400 kbps links): bytes transferred, compressed.
COLD_BUDGET = 60 * 1024
WARM_BUDGET = 10 * 1024
# An asset a browser keeps without asking again for at least this long counts as cached.
CACHED_FOR = 24 * 60 * 60


class _Assets(HTMLParser):
    """Stylesheets, scripts, icons and images a page makes the browser load."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.csrf = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if (
            tag == "link"
            and a.get("href")
            and {"stylesheet", "icon"} & set((a.get("rel") or "").split())
        ):
            # A print stylesheet is fetched too (at low priority): it counts.
            self.urls.append(a["href"])
        elif tag in ("script", "img") and a.get("src"):
            self.urls.append(a["src"])
        elif tag == "input" and a.get("name") == "csrfmiddlewaretoken":
            self.csrf = a.get("value", "")


@dataclass
class Fetched:
    url: str
    status: int
    wire_bytes: int  # the body as sent (compressed when the server compressed it)
    encoding: str
    max_age: int | None

    @property
    def cached(self) -> bool:
        return self.max_age is not None and self.max_age >= CACHED_FOR


@dataclass
class PageWeight:
    name: str
    url: str
    page: Fetched
    assets: list[Fetched] = field(default_factory=list)

    @property
    def cold(self) -> int:
        return self.page.wire_bytes + sum(a.wire_bytes for a in self.assets)

    @property
    def warm(self) -> int:
        return self.page.wire_bytes + sum(a.wire_bytes for a in self.assets if not a.cached)

    @property
    def requests_cold(self) -> int:
        return 1 + len(self.assets)

    @property
    def requests_warm(self) -> int:
        return 1 + sum(1 for a in self.assets if not a.cached)

    @property
    def within_budget(self) -> bool:
        return self.cold <= COLD_BUDGET and self.warm <= WARM_BUDGET


def _max_age(cache_control: str) -> int | None:
    if "no-store" in cache_control or "no-cache" in cache_control:
        return 0
    found = re.search(r"max-age=(\d+)", cache_control)
    return int(found.group(1)) if found else None


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping client that asks for gzip, as a browser over plain HTTP does."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/") + "/"
        self.cookies = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.cookies), _NoRedirect)

    def _request(self, path: str, data: bytes | None = None) -> Request:
        url = urljoin(self.base_url, path)
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"page weight is measured on this machine only, not {url}")
        request = Request(url, data=data)  # noqa: S310 (http on this machine, checked above)
        request.add_header("Accept-Encoding", "gzip")
        request.add_header("Accept-Language", "en")
        return request

    def get(self, path: str) -> tuple[Fetched, bytes]:
        return self._send(self._request(path))

    def _send(self, request: Request) -> tuple[Fetched, bytes]:
        try:
            response = self.opener.open(request, timeout=30)
        except HTTPError as answer:  # a redirect or an error status is an answer too
            response = answer
        body = response.read()
        fetched = Fetched(
            url=request.full_url,
            status=response.status,
            wire_bytes=len(body),
            encoding=response.headers.get("Content-Encoding", ""),
            max_age=_max_age(response.headers.get("Cache-Control", "")),
        )
        if fetched.encoding == "gzip":
            body = gzip.decompress(body)
        return fetched, body

    def sign_in(self, username: str, password: str) -> None:
        login = "admin/login/"
        _fetched, body = self.get(login)
        parser = _Assets()
        parser.feed(body.decode())
        data = urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": parser.csrf,
                "next": "/",
            }
        ).encode()
        request = self._request(login, data)
        request.add_header("Referer", urljoin(self.base_url, login))
        fetched, _body = self._send(request)
        if fetched.status != 302:
            raise RuntimeError(f"could not sign in as {username} (answer {fetched.status})")

    def weigh(self, name: str, path: str) -> tuple[PageWeight, str]:
        """The page and each distinct asset it loads, once (as a browser fetches them)."""
        page, body = self.get(path)
        if page.status != 200:
            raise RuntimeError(f"{path} answered {page.status}")
        html = body.decode()
        parser = _Assets()
        parser.feed(html)
        assets = [self.get(url)[0] for url in dict.fromkeys(parser.urls)]
        return PageWeight(name, path, page, assets), html


def first_link(html: str, prefix: str) -> str | None:
    """The first link of a page to a batch or a case (`prefix` then a code or reference in
    capitals, so not the "new" pages), to weigh that page too."""
    found = re.search(rf'href="({re.escape(prefix)}[A-Z][A-Z0-9-]+/)"', html)
    return found.group(1) if found else None


def table(weights: list[PageWeight]) -> str:
    lines = [
        "| page | cold KB | requests | warm KB | requests | within budget |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for w in weights:
        lines.append(
            f"| {w.name} | {w.cold / 1024:.1f} | {w.requests_cold} | {w.warm / 1024:.1f} | "
            f"{w.requests_warm} | {'yes' if w.within_budget else 'NO'} |"
        )
    lines.append(
        f"\nBudget: {COLD_BUDGET // 1024} KB cold (page and every asset, compressed), "
        f"{WARM_BUDGET // 1024} KB warm (assets cached for a day or more are not fetched again)."
    )
    return "\n".join(lines)


# Who opens which field pages; "first:<prefix>" weighs the first link into `prefix` found on
# the pages weighed before it (a batch of the day, a patient of the queue).
WALK: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "coordinator",
        [
            ("Today", "today/"),
            ("Queue", "queue/"),
            ("Returnees", "returnees/"),
            ("New batch", "batches/new/"),
            ("Batch page", "first:/batches/"),
            ("Patient page", "first:/patients/"),
            ("Register a patient", "patients/new/"),
            ("Inbox", "inbox/"),
        ],
    ),
    ("nurse.amal", [("Readiness", "ward/"), ("Patient page", "first:/patients/")]),
    ("auditor", [("Cancelled batches", "audit/cancellations/"), ("Reports", "audit/reports/")]),
]


def walk(base_url: str, passwords: dict[str, str]) -> list[PageWeight]:
    """Sign in as each account of WALK and weigh its pages."""
    weights = []
    for username, pages in WALK:
        browser = Browser(base_url)
        browser.sign_in(username, passwords[username])
        seen = ""
        for name, path in pages:
            if path.startswith("first:"):
                path = first_link(seen, path.removeprefix("first:"))
                if path is None:
                    continue
            weight, html = browser.weigh(f"{name} ({username})", path)
            weights.append(weight)
            seen += html
    return weights
