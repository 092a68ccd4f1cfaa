"""The API's JSON parser: DRF's, with a limit on nesting.

Python's decoder recurses once per level; a body nested a thousand deep exhausts the
interpreter's stack (`RecursionError`, a 500) before any serializer sees it. No body the API
documents is deeper than a few levels, so anything past `JSON_MAX_DEPTH` is refused as a 400."""

from collections.abc import Iterator

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
            depth = None
        else:
            depth = max_depth(data, limit=settings.JSON_MAX_DEPTH)
        if depth is None or depth > settings.JSON_MAX_DEPTH:
            raise ParseError(
                _("The JSON body is nested more than %(limit)d levels deep.")
                % {"limit": settings.JSON_MAX_DEPTH}
            )
        return data


def max_depth(data, *, limit: int) -> int:
    """How deep lists and objects nest in `data` (a scalar is 0), counted without recursion and
    stopping once past `limit`."""
    deepest = 0
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth) for child in _children(value))
    return deepest


def _children(value: dict | list) -> Iterator:
    return iter(value.values()) if isinstance(value, dict) else iter(value)
