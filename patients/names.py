"""People's names as typed: one Unicode form, and no invisible characters that change how a
name reads (a right-to-left override can make "EV-123 Ahmad" display as another string)."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Joiners shape Arabic and Persian letters and belong in names; every other format character
# (direction marks, overrides, isolates, the byte-order mark, soft hyphens) does not.
ALLOWED_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})


def normalise_name(value: str) -> str:
    """NFC (one code point per letter, as most keyboards type it) and single spaces."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def validate_person_name(value: str) -> None:
    for character in value:
        category = unicodedata.category(character)
        if category == "Cc" or (category == "Cf" and character not in ALLOWED_FORMAT_CHARACTERS):
            raise ValidationError(
                _(
                    "names may not contain control or text-direction characters "
                    "(found %(character)s)"
                )
                % {"character": f"U+{ord(character):04X}"},
                code="invisible_character",
            )
