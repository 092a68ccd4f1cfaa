"""JSON over HTTP for the SMS provider and the webhooks, with the standard library only."""

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings

from .errors import DeliveryError, PermanentDeliveryError

# Worth another attempt: the provider is overloaded, rate-limits us or timed out.
RETRYABLE_STATUSES = frozenset({408, 425, 429})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST comes back as a GET without its body, and would carry our token or
    signature to wherever it points: a 3xx is an error the partner must fix."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> dict:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` and return the answer when it is a 2xx; raise a DeliveryError otherwise."""
    # urllib also opens file: and ftp: URLs; an endpoint typed in the admin must not.
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PermanentDeliveryError(f"not an http(s) URL: {_host(url)}")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with _opener.open(request, timeout=settings.NOTIFICATION_HTTP_TIMEOUT_SECONDS) as response:
            return Answer(response.status, response.read(64 * 1024))
    except urllib.error.HTTPError as exc:
        status = exc.code
        # The answer's body is left out: providers echo the phone number or the message.
        message = f"HTTP {status} from {_host(url)}"
        if 300 <= status < 400:
            message += " (a redirect: deliveries are never forwarded; fix the URL)"
        if status >= 500 or status in RETRYABLE_STATUSES:
            raise DeliveryError(message) from exc
        raise PermanentDeliveryError(message) from exc
    except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out, TLS
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{_host(url)} unreachable: {reason}") from exc


def _host(url: str) -> str:
    # Only host and port go into `last_error`: a URL may carry credentials or a token.
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "provider"
    return f"{host}:{port}" if port else host
