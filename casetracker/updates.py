"""The end of every service that changes a row's details: apply what differs, record it."""

from collections.abc import Callable
from typing import Any

from django.db.models import Model

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event


def apply_update(
    instance: Model,
    changes: dict[str, Any],
    *,
    actor,
    subject_type: SubjectType,
    details: Callable[[Any], dict],
    **event: Any,
) -> list[str]:
    """Set on a locked `instance` the `changes` that differ from what it holds, save those
    fields and record one `update` event about `instance.code` naming them (never their
    values), with `details(instance)` as it is after the change and the other `event` fields.
    Nothing differs: nothing saved, nothing recorded. Returns the names of the fields changed."""
    changed = sorted(name for name, value in changes.items() if getattr(instance, name) != value)
    if not changed:
        return changed
    for name in changed:
        setattr(instance, name, changes[name])
    instance.save(update_fields=changed)
    record_event(
        subject_type=subject_type,
        subject_ref=instance.code,
        action=Action.UPDATE,
        actor=actor,
        details={"fields": changed, **details(instance)},
        **event,
    )
    return changed
