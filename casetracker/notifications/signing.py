"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>" with the subscriber's secret.

The scheme is documented in the README for partners; `verify` is the reference receiver check.
"""

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Casetracker-Timestamp"
SIGNATURE_HEADER = "X-Casetracker-Signature"
DELIVERY_HEADER = "X-Casetracker-Delivery"
EVENT_HEADER = "X-Casetracker-Event"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(Exception):
    pass


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return f"{SCHEME}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    *,
    timestamp: str,
    signature_header: str,
    body: bytes,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise InvalidSignature unless the body is signed with `secret` and recent enough.

    A receiver also remembers the delivery ids it accepted within the tolerance window, so a
    request replayed inside the window is refused too."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        raise InvalidSignature("missing or malformed timestamp") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance window (replay?)")
    expected = signature(secret, sent_at, body).encode()
    offered = [part.strip().encode() for part in (signature_header or "").split(",")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise InvalidSignature("signature does not match the body")
