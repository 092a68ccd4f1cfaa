"""Encryption of single values at rest, and the keyed hash that finds them again.

Values (national ID numbers) are encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from
`cryptography`) through MultiFernet: the first key of FIELD_ENCRYPTION_KEYS encrypts, every key
listed decrypts, so a key is rotated by putting the new one first, re-encrypting
(`manage.py rotate_field_keys`), then removing the old one.

Encrypted values cannot be compared in SQL, so each one has a lookup hash beside it:
HMAC-SHA256 under FIELD_HASH_KEY. A plain SHA-256 would not do: national IDs are nine digits,
and anyone with a dump could hash all of them in minutes. FIELD_HASH_KEY_PREVIOUS, while a hash
key is being rotated, is also tried by lookups, so searches keep working until every hash has been
recomputed.

The free texts of the audit log (why a batch was cancelled, a clearance note, a statement) are
kept beside the hash chain, which holds their HMAC-SHA256 under AUDIT_TEXT_KEY instead
(`audit_text_digest`), so a text can be redacted without breaking the chain.

A value that no key decrypts raises `DecryptionError`: never the ciphertext, never an empty
string, and never the value in a message or a log.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# For `make run` and the tests only: they are public, so settings refuse them in production.
INSECURE_DEFAULT_ENCRYPTION_KEY = "ufoZGfsW_EEoeqIts3XatEcu5jPxlLS-4cy18Ih8Gk4="
INSECURE_DEFAULT_HASH_KEY = "DC2WAmk_BBRfx0dPDYNK0OS_uKktZEJPczgEsrgcaFA="
INSECURE_DEFAULT_AUDIT_TEXT_KEY = "h3VpHhus7fK0LWBxzUs2qub3tRt6Njs2-W2F2wAtPjE="

HASH_KEY_MIN_BYTES = 32
# Every Fernet token starts with the version byte 0x80, which is "gAAAAA" in base64.
FERNET_VERSION_PREFIX = "gAAAAA"


class DecryptionError(Exception):
    """A stored value that none of the configured keys decrypts (wrong or missing key)."""

    def __init__(self) -> None:
        super().__init__(
            "a stored value could not be decrypted with any key in FIELD_ENCRYPTION_KEYS: "
            "the key that encrypted it is missing or wrong (see the README, Encryption keys)"
        )


def _clean(keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(key.strip() for key in keys if key.strip())


def _parse_fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: give at least one key")
    fernets = []
    for number, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, binascii.Error):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key number {number} is not a Fernet key "
                "(32 bytes in URL-safe base64; see the README, Encryption keys)"
            ) from None
    return MultiFernet(fernets)


def _parse_hash_key(key: str, variable: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.strip().encode("ascii"))
    except (ValueError, binascii.Error):
        raise ImproperlyConfigured(
            f"{variable} is not URL-safe base64 (see the README, Encryption keys)"
        ) from None
    if len(raw) < HASH_KEY_MIN_BYTES:
        raise ImproperlyConfigured(
            f"{variable} is too short: it must decode to at least {HASH_KEY_MIN_BYTES} bytes"
        )
    return raw


def check_keys(
    *, encryption_keys: list[str], hash_key: str, hash_key_previous: str, production: bool
) -> None:
    """Called by the settings: a malformed, missing or (in production) public key stops the
    start-up with the name of the variable, rather than failing on the first patient read."""
    keys = _clean(encryption_keys)
    _parse_fernet(keys)
    _parse_hash_key(hash_key, "FIELD_HASH_KEY")
    if hash_key_previous.strip():
        _parse_hash_key(hash_key_previous, "FIELD_HASH_KEY_PREVIOUS")
    # One key for two jobs would let a leak of either defeat both.
    if hash_key.strip() in keys:
        raise ImproperlyConfigured("FIELD_HASH_KEY must differ from every FIELD_ENCRYPTION_KEYS")
    if production:
        if INSECURE_DEFAULT_ENCRYPTION_KEY in keys:
            raise ImproperlyConfigured(
                "DJANGO_PRODUCTION is set: set FIELD_ENCRYPTION_KEYS to keys of your own"
            )
        if INSECURE_DEFAULT_HASH_KEY in (hash_key.strip(), hash_key_previous.strip()):
            raise ImproperlyConfigured(
                "DJANGO_PRODUCTION is set: set FIELD_HASH_KEY to a key of your own"
            )


def check_audit_text_keys(
    *, key: str, previous: list[str], other_keys: list[str], production: bool
) -> None:
    """AUDIT_TEXT_KEY (and AUDIT_TEXT_KEYS_PREVIOUS) checked as the other keys are: well formed,
    not one of the field keys, not the public default in production."""
    _parse_hash_key(key, "AUDIT_TEXT_KEY")
    for old in _clean(previous):
        _parse_hash_key(old, "AUDIT_TEXT_KEYS_PREVIOUS")
    if key.strip() in _clean(other_keys):
        raise ImproperlyConfigured(
            "AUDIT_TEXT_KEY must differ from FIELD_HASH_KEY and every FIELD_ENCRYPTION_KEYS"
        )
    if production and INSECURE_DEFAULT_AUDIT_TEXT_KEY in (key.strip(), *_clean(previous)):
        raise ImproperlyConfigured(
            "DJANGO_PRODUCTION is set: set AUDIT_TEXT_KEY to a key of your own"
        )


def audit_text_digest(text: str, *, salt: str, key: str | None = None) -> str:
    """The keyed hash (HMAC-SHA256 under AUDIT_TEXT_KEY) of a free text of the audit log, which
    the hash chain holds instead of the text (`casetracker.audit`). `salt` is the event's
    `prev_hash`: the same text in two events has two digests, so a redacted text cannot be
    recognised by comparing its digest with another event's."""
    key = settings.AUDIT_TEXT_KEY if key is None else key
    raw = _hash_key_bytes(key, "AUDIT_TEXT_KEY")
    message = f"{salt}\n{text}".encode()
    return hmac.new(raw, message, hashlib.sha256).hexdigest()


def audit_text_matches(text: str, *, salt: str, digest: str) -> bool:
    """Whether `text` is the text whose digest the chain holds, under AUDIT_TEXT_KEY or one of
    AUDIT_TEXT_KEYS_PREVIOUS (a key replaced after a leak: the digests chained before stay)."""
    keys = [settings.AUDIT_TEXT_KEY, *_clean(getattr(settings, "AUDIT_TEXT_KEYS_PREVIOUS", []))]
    return any(
        hmac.compare_digest(audit_text_digest(text, salt=salt, key=key), digest) for key in keys
    )


@lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    return _parse_fernet(keys)


@lru_cache(maxsize=8)
def _primary_fernet(key: str) -> Fernet:
    return Fernet(key)


@lru_cache(maxsize=8)
def _hash_key_bytes(key: str, variable: str) -> bytes:
    return _parse_hash_key(key, variable)


def _keys() -> tuple[str, ...]:
    return _clean(settings.FIELD_ENCRYPTION_KEYS)


def encrypt(value: str) -> str:
    """A token for the value, under the first key."""
    return _multi_fernet(_keys()).encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _multi_fernet(_keys()).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise DecryptionError() from None


def encrypt_bytes(data: bytes) -> bytes:
    """A token for binary content (an uploaded file waiting for its confirmation), under the
    first key; the token is ASCII, a third longer than the content."""
    return _multi_fernet(_keys()).encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _multi_fernet(_keys()).decrypt(bytes(token))
    except InvalidToken:
        raise DecryptionError() from None


def is_current(token: str) -> bool:
    """Whether the token is already encrypted under the first key (nothing to rotate)."""
    try:
        _primary_fernet(_keys()[0]).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def rotate(token: str) -> str:
    """The same value, encrypted again under the first key."""
    try:
        return _multi_fernet(_keys()).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise DecryptionError() from None


def looks_like_token(value: str) -> bool:
    """Tokens are far longer than any value we encrypt, and start with the version byte."""
    return len(value) > 60 and value.startswith(FERNET_VERSION_PREFIX)


def keyed_hash(value: str) -> str:
    """The lookup hash of a (normalised) value under FIELD_HASH_KEY, as 64 hex digits."""
    key = _hash_key_bytes(settings.FIELD_HASH_KEY, "FIELD_HASH_KEY")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def lookup_hashes(value: str) -> list[str]:
    """Every hash a stored row of this value may carry: under the current hash key and, while a
    hash key is rotated, under the previous one."""
    hashes = [keyed_hash(value)]
    previous = getattr(settings, "FIELD_HASH_KEY_PREVIOUS", "")
    if previous.strip():
        key = _hash_key_bytes(previous, "FIELD_HASH_KEY_PREVIOUS")
        hashes.append(hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest())
    return hashes
