"""National ID numbers: how they are typed, checked, stored encrypted and found again.

The column holds a Fernet token; Python code sees the plain number. Decryption happens when the
row is loaded, so a wrong key fails the query itself (fail closed: no page or answer is built
with half the data); the key check at start-up catches malformed keys before that.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from casetracker import crypto

# People type IDs from cards and phones in Arabic or Latin digits, with spaces or dashes.
_DIGITS = {
    **{ord(c): str(n) for n, c in enumerate("٠١٢٣٤٥٦٧٨٩")},  # Arabic-Indic
    **{ord(c): str(n) for n, c in enumerate("۰۱۲۳۴۵۶۷۸۹")},  # Extended (Persian, Urdu)
}
_SEPARATORS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")


def normalise_national_id(value: str) -> str:
    """ASCII digits without separators: "٤٠٠-١٢٣" and "400 123" are both "400123"."""
    kept = (c for c in value if not c.isspace() and c not in _SEPARATORS)
    return "".join(kept).translate(_DIGITS)


def validate_national_id(value: str) -> None:
    normalised = normalise_national_id(value)
    if not (normalised.isascii() and normalised.isdigit()):
        raise ValidationError(
            _("a national ID is made of digits only (spaces and dashes are ignored)"),
            code="national_id_digits",
        )


class EncryptedCharField(models.CharField):
    """A short text kept encrypted in a text column. `max_length` bounds the plain value.

    `dumpdata` writes the token, never the plain value, and `loaddata` reads the token back."""

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value, expression, connection):
        return None if value is None else crypto.decrypt(value)

    def to_python(self, value):
        value = super().to_python(value)
        if isinstance(value, str) and crypto.looks_like_token(value):
            return crypto.decrypt(value)
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else crypto.encrypt(value)

    def value_to_string(self, obj) -> str:
        value = self.value_from_object(obj)
        return "" if value is None else crypto.encrypt(self.to_python(value))

    def get_lookup(self, lookup_name):
        # A token changes at every encryption: `national_id="..."` would silently match
        # nothing. Search the keyed hash instead; only `isnull` means something here.
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None


class NationalIdField(EncryptedCharField):
    """Stored normalised (ASCII digits), whatever form it was typed in."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("validators", [validate_national_id])
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return normalise_national_id(value) if isinstance(value, str) else value


class KeyedHashField(models.CharField):
    """The HMAC of another field's (normalised) value, recomputed on every save, for exact
    search and duplicate checks on a value stored encrypted."""

    def __init__(self, *args, source: str, **kwargs):
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for key, default in (
            ("max_length", 64),
            ("editable", False),
            ("default", ""),
            ("blank", True),
        ):
            if kwargs.get(key, default) == default:
                kwargs.pop(key, None)
        return name, path, args, kwargs

    def hash_of(self, instance) -> str:
        source = instance._meta.get_field(self.source)
        value = source.to_python(getattr(instance, source.attname))
        return crypto.keyed_hash(value) if value else ""

    def pre_save(self, model_instance, add):
        digest = self.hash_of(model_instance)
        setattr(model_instance, self.attname, digest)
        return digest
