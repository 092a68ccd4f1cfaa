"""Who hears of a batch transition, per `settings.NOTIFICATION_AUDIENCES`."""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import Q

from casetracker.accounts.roles import Role
from casetracker.audit.models import Event
from casetracker.notifications.audiences import Audience, audiences_for
from casetracker.notifications.services import SmsContact, notify

from ..models import Batch, BatchMember


def staff_recipients(batch: Batch, action: str) -> list:
    wanted = audiences_for(action)
    who = Q(pk__in=[])
    if Audience.COORDINATORS in wanted:
        who |= Q(groups__name=Role.COORDINATOR)
    if Audience.STAGING_STAFF in wanted:
        who |= Q(groups__name=Role.HOSPITAL_STAFF, facility_id=batch.staging_facility_id)
    if Audience.AUDITORS in wanted:
        who |= Q(groups__name=Role.AUDITOR)
    return list(get_user_model().objects.filter(who, is_active=True).distinct().order_by("pk"))


def sms_contacts(action: str, lines: Iterable[BatchMember]) -> list[SmsContact]:
    """Patients on `lines` who recorded a phone and agreed to SMS (companions have no phone)."""
    if Audience.PATIENTS_SMS not in audiences_for(action):
        return []
    return [
        SmsContact(
            phone=line.patient.phone.strip(),
            language=line.patient.contact_language,
            case_reference=line.patient.case_reference,
        )
        for line in lines
        if line.patient_id and line.patient.sms_consent and line.patient.phone.strip()
    ]


def notify_batch_event(event: Event, batch: Batch, lines: Iterable[BatchMember]) -> None:
    """Outbox rows for a transition of `batch` concerning the people on `lines`."""
    lines = list(lines)
    notify(
        event=event,
        users=staff_recipients(batch, event.action),
        sms=sms_contacts(event.action, lines),
        cases=[line.patient.case_reference for line in lines if line.patient_id]
        + [line.returnee.reference for line in lines if line.returnee_id],
    )
