"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", checked with a time window."""

import pytest

from casetracker.notifications import signing
from casetracker.notifications.signing import InvalidSignature

SECRET = "partner-secret"
BODY = b'{"id": "event-1-webhook-subscription-1", "type": "batch.cancel"}'
NOW = 1_760_000_000


def _signed(secret=SECRET, body=BODY, now=NOW):
    headers = signing.signed_headers(secret, body, now=now)
    return headers[signing.TIMESTAMP_HEADER], headers[signing.SIGNATURE_HEADER]


def _verify(timestamp, signature_header, *, secret=SECRET, body=BODY, now=NOW):
    signing.verify(
        secret, timestamp=timestamp, signature_header=signature_header, body=body, now=now
    )


def test_signed_headers_round_trip_verifies():
    timestamp, signature = _signed()

    assert timestamp == str(NOW)
    assert signature.startswith("v1=")
    assert len(signature) == len("v1=") + 64
    _verify(timestamp, signature)  # raises nothing


def test_signature_depends_on_secret_timestamp_and_body():
    base = signing.signature(SECRET, NOW, BODY)
    assert signing.signature(SECRET, NOW, BODY) == base
    assert signing.signature("other", NOW, BODY) != base
    assert signing.signature(SECRET, NOW + 1, BODY) != base
    assert signing.signature(SECRET, NOW, BODY + b" ") != base


def test_verify_rejects_an_altered_body():
    timestamp, signature = _signed()

    with pytest.raises(InvalidSignature, match="does not match"):
        _verify(timestamp, signature, body=BODY.replace(b"cancel", b"clear"))


def test_verify_rejects_a_wrong_secret():
    timestamp, signature = _signed(secret="not-the-partner-secret")

    with pytest.raises(InvalidSignature, match="does not match"):
        _verify(timestamp, signature)


def test_verify_rejects_a_timestamp_not_covered_by_the_signature():
    _, signature = _signed()

    # The same signature presented with a fresher timestamp: the HMAC covers the timestamp.
    with pytest.raises(InvalidSignature, match="does not match"):
        _verify(str(NOW + 10), signature, now=NOW + 10)


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86_400])
def test_verify_rejects_a_timestamp_outside_the_tolerance(offset):
    timestamp, signature = _signed(now=NOW + offset)

    with pytest.raises(InvalidSignature, match="tolerance"):
        _verify(timestamp, signature)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_verify_accepts_a_timestamp_at_the_edge_of_the_tolerance(offset):
    timestamp, signature = _signed(now=NOW + offset)

    _verify(timestamp, signature)


def test_verify_honours_a_custom_tolerance():
    timestamp, signature = _signed(now=NOW - 60)

    with pytest.raises(InvalidSignature, match="tolerance"):
        signing.verify(
            SECRET,
            timestamp=timestamp,
            signature_header=signature,
            body=BODY,
            now=NOW,
            tolerance=30,
        )


@pytest.mark.parametrize("timestamp", ["", "abc", "1760000000.5", None])
def test_verify_rejects_a_malformed_timestamp(timestamp):
    _, signature = _signed()

    with pytest.raises(InvalidSignature, match="malformed"):
        _verify(timestamp, signature)


@pytest.mark.parametrize("header", ["", None, "v1=", "v1=" + "0" * 64])
def test_verify_rejects_a_missing_or_empty_signature(header):
    timestamp, _ = _signed()

    with pytest.raises(InvalidSignature, match="does not match"):
        _verify(timestamp, header)


def test_verify_accepts_rotated_secrets_when_one_signature_matches():
    timestamp, current = _signed()
    _, old = _signed(secret="previous-secret")

    # During a rotation the sender signs with both secrets; the receiver knows either one.
    _verify(timestamp, f"{old},{current}")
    _verify(timestamp, f"{current}, {old}")
    _verify(timestamp, f"{current},{old}", secret=SECRET)
    _verify(timestamp, f"{current},{old}", secret="previous-secret")


def test_verify_rejects_rotated_signatures_when_none_matches():
    timestamp, _ = _signed()
    _, one = _signed(secret="one")
    _, two = _signed(secret="two")

    with pytest.raises(InvalidSignature, match="does not match"):
        _verify(timestamp, f"{one},{two}")


def test_verify_non_ascii_signature_header_is_refused_not_a_crash():
    timestamp, _ = _signed()
    with pytest.raises(InvalidSignature):
        _verify(timestamp, "v1=é")
