from datetime import date, datetime

from django import template
from django.utils import formats, timezone

from casetracker.audit.vocabulary import state_label

register = template.Library()


@register.filter
def label(value) -> str:
    """The translated label of a state, reason or source code."""
    return state_label(value) if isinstance(value, str) and value else value


@register.filter
def cell(value) -> str:
    """A report value as the pages show it: dates in ISO order, lists joined, codes labelled."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "Y-m-d H:i")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return label(value)


@register.filter
def get(row: dict, key: str):
    return row.get(key)
