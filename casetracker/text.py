"""Small pieces of wording shared by pages and messages."""

from collections.abc import Iterable

from django.utils.translation import pgettext


def listed(items: Iterable, *, strong: bool = False) -> str:
    """Items joined as the reader's language lists them ("a, b" / "a، b"); `strong` joins
    with a semicolon, for items that contain commas themselves."""
    separator = pgettext("list separator", "; ") if strong else pgettext("list separator", ", ")
    return separator.join(str(item) for item in items)
