"""Codes that name rows in the API, in links and in commands (facilities, crossings)."""

import re

# Lower-case words of letters and digits joined by single dashes: `al-amal`, `kerem-shalom`.
CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def is_code(value, *, limit: int) -> bool:
    """Whether `value` is a code (`CODE`) of at most `limit` characters."""
    return isinstance(value, str) and len(value) <= limit and CODE.fullmatch(value) is not None
