from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from casetracker.audit.vocabulary import state_label

from ..models import EndReason
from ..reports.selectors import REMOVED

register = template.Library()


@register.filter
def label(value) -> str:
    """The translated label of a state, reason or source code."""
    return state_label(value) if isinstance(value, str) and value else value


@register.filter
def cell(value) -> str:
    """A report value as the pages show it: dates in ISO order and never broken at their
    hyphens, lists joined, codes labelled."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        # Digits only, in no language's format: strftime gives what `date_format` would with
        # "Y-m-d H:i", at a fifth of its cost (a timeline formats one or two per row).
        value = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        return format_html('<bdi class="code">{}</bdi>', value)
    if isinstance(value, date):
        return format_html('<bdi class="code">{}</bdi>', value.isoformat())
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return label(value)


@register.filter
def end_reason(value: str) -> str:
    """Why a manifest line ended ("batch cancelled"), not the batch state of the same code."""
    if value == REMOVED:
        return _("removed from the batch")
    return EndReason(value).label if value in EndReason.values else value


CHANNELS = {
    "web": _("web page"),
    "api": _("API"),
    "admin": _("back office"),
    "worker": _("background worker"),
    "command": _("command line"),
}


@register.filter
def channel(value: str) -> str:
    """Where an event came from, in words."""
    return CHANNELS.get(value, value)


@register.filter
def get(row: dict, key: str):
    return row.get(key)
