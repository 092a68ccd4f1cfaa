"""A patient's readiness, as their facility reports it, with its history."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casetracker.audit.models import Action

from ..models import READINESS_FLAGS, Patient, Readiness, ReadinessChange
from .common import _patient_event


@transaction.atomic
def readiness_update(*, patient: Patient, actor, **changes: Any) -> Readiness:
    """Record what the facility reports; the old and new values go to the history."""
    allowed = (*READINESS_FLAGS, "note")
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError({name: _("not a readiness field") for name in sorted(unknown)})
    readiness, _created = Readiness.objects.select_for_update().get_or_create(patient=patient)
    old = readiness.snapshot()
    for name, value in changes.items():
        setattr(readiness, name, value)
    readiness.full_clean(exclude=["patient", "updated_by"])
    new = readiness.snapshot()
    if new == old:
        return readiness
    readiness.updated_by = actor
    readiness.updated_at = timezone.now()
    readiness.save()
    ReadinessChange.objects.create(
        patient=patient, changed_by=actor, changed_at=readiness.updated_at, old=old, new=new
    )
    _patient_event(
        patient,
        action=Action.READINESS_UPDATE,
        actor=actor,
        # Flags only: the free-text note may hold clinical detail.
        details={k: new[k] for k in READINESS_FLAGS if new[k] != old[k]},
    )
    return readiness
