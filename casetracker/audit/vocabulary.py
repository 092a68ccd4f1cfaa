"""Readable, translated labels for the state values that events carry.

The domain apps register their status choices at start-up (`AppConfig.ready`), so the audit and
notification code can show "in transit" / "في الطريق" without importing them."""

from django.utils.functional import Promise

_LABELS: dict[str, str | Promise] = {}


def register_states(choices) -> None:
    for value, label in choices:
        _LABELS.setdefault(value, label)


def state_label(value: str) -> str:
    return str(_LABELS.get(value, value))
