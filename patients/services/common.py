"""What every service of patients does: file its event under the case, and set only the
fields it accepts."""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_event

from ..fields import normalise_national_id
from ..models import Patient


def _patient_event(patient: Patient, *, action: Action, actor, **fields) -> None:
    """Events about a case are filed under its reference and its facility."""
    record_event(**patient_event_fields(patient, action=action, actor=actor, **fields))


def patient_event_fields(patient: Patient, *, action: Action, actor, **fields) -> dict[str, Any]:
    """The arguments of `record_event` for an event about a case (`_patient_event`), for a
    service recording several at once with `record_events`."""
    return {
        "subject_type": fields.pop("subject_type", SubjectType.PATIENT),
        "subject_ref": patient.case_reference,
        "subject_facility_id": patient.facility_id,
        "action": action,
        "actor": actor,
        **fields,
    }


def _assign(instance, data: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    """Set the given fields; returns the names (never the values) of those that changed."""
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationError(
            {name: _("this field cannot be set here") for name in sorted(unknown)}
        )
    if isinstance(data.get("national_id"), str):
        # "٤٠٠ ١٢٣" typed again for a stored "400123" is no change.
        data = {**data, "national_id": normalise_national_id(data["national_id"])}
    # getattr with a default: an unset foreign key raises an AttributeError on a new row.
    changed = sorted(name for name, value in data.items() if getattr(instance, name, None) != value)
    for name, value in data.items():
        setattr(instance, name, value)
    return changed
