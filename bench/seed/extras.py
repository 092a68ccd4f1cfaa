"""The rest of the record around the batches: the agreed quotas of every day, the readiness
reported for the patients (with its history, which makes up the events still to seed), and
the notifications of every step, as `quota_set`, `readiness_update` and `notify` write them."""

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from random import Random

from batches.models import CrossingQuota, Direction
from casetracker.audit.models import Action, SubjectType
from casetracker.notifications.models import Notification, NotificationChannel, NotificationStatus
from patients.models import READINESS_FLAGS, Readiness, ReadinessChange

from .chain import EventStream, Spec
from .copy import Ids
from .history import History, local
from .people import People
from .setup import Setting

# Agreed numbers per crossing: (patients, companions) out; returnees back.
AGREED = {"rafah": (60, 120, 60), "kerem-shalom": (30, 45, 30)}
# Readiness reported in two steps: fit and with papers, then transport and companions.
READY_STEPS = (("fit_to_travel", "documents_ready"), ("transport_confirmed", "companions_present"))
NOTES = ["Passport renewal pending.", "Waiting for the oxygen concentrator.", ""]


def make_quotas(ids: Ids, setting: Setting, stream: EventStream, days: list[date], now) -> list:
    quotas = []
    for day in days:
        for code, (patients, companions, returnees) in AGREED.items():
            for direction, numbers in (
                (Direction.EXIT, {"patients": patients, "companions": companions}),
                (Direction.RETURN, {"returnees": returnees}),
            ):
                exit_day = direction == Direction.EXIT
                quota = CrossingQuota(
                    id=ids.take(CrossingQuota),
                    crossing=setting.crossings[code],
                    date=day,
                    direction=direction,
                    agreed_patients=patients if exit_day else returnees,
                    agreed_companions=companions if exit_day else 0,
                )
                quotas.append(quota)
                stream.add(
                    min(local(day - timedelta(days=5), 10), now - timedelta(hours=1)),
                    actor=setting.admin,
                    subject_type=SubjectType.QUOTA,
                    subject_ref=quota.reference,
                    action=Action.CREATE,
                    source="who",
                    details={
                        "crossing": code,
                        "date": day.isoformat(),
                        "direction": direction,
                        "old": None,
                        "new": numbers,
                    },
                )
    return quotas


def make_readiness(
    rng: Random,
    ids: Ids,
    setting: Setting,
    stream: EventStream,
    people: People,
    history,
    *,
    budget: int,
    now: datetime,
) -> tuple[list[Readiness], list[ReadinessChange]]:
    """Each patient's readiness; `budget` reports (events) are spread over them: first the
    two that make ready those who were put on a batch, then those waiting with an approved
    referral, then notes on anyone."""
    history: History
    changes: list[ReadinessChange] = []
    state = {p.pk: dict.fromkeys((*READINESS_FLAGS, "note"), False) for p in people.patients}
    for values in state.values():
        values["note"] = ""
    last: dict[int, tuple[datetime, object]] = {}
    by_pk = {p.pk: p for p in people.patients}
    queued = [pk for pk in people.approved_at if pk not in history.first_batch]
    order = [*history.first_batch, *queued]

    def report(pk: int, at: datetime, **new) -> None:
        patient = by_pk[pk]
        staff = setting.staff_of(patient.facility_id)
        actor = staff[0] if staff else rng.choice(setting.coordinators)
        old = dict(state[pk])
        state[pk].update(new)
        changes.append(
            ReadinessChange(
                id=ids.take(ReadinessChange),
                patient=patient,
                changed_by=actor,
                changed_at=at,
                old=old,
                new=dict(state[pk]),
            )
        )
        stream.add(
            at,
            actor=actor,
            subject_type=SubjectType.PATIENT,
            subject_ref=patient.case_reference,
            subject_facility_id=patient.facility_id,
            action=Action.READINESS_UPDATE,
            details={k: state[pk][k] for k in READINESS_FLAGS if state[pk][k] != old[k]},
        )
        last[pk] = (at, actor)

    for pk in order:
        if budget < len(READY_STEPS):
            break
        start = people.approved_at.get(pk, by_pk[pk].registered_at)
        end = history.first_batch.get(pk, now)
        for number, flags in enumerate(READY_STEPS, start=1):
            report(pk, start + (end - start) * (number / 3), **dict.fromkeys(flags, True))
        budget -= len(READY_STEPS)
    patients = people.patients
    while budget > 0:
        patient = rng.choice(patients)
        since = last.get(patient.pk, (patient.registered_at, None))[0]
        note = rng.choice([n for n in NOTES if n != state[patient.pk]["note"]])
        report(patient.pk, since + (now - since) * rng.random(), note=note)
        budget -= 1
    rows = []
    for patient in patients:
        at, actor = last.get(patient.pk, (patient.registered_at, people.registered_by[patient.pk]))
        values = state[patient.pk]
        rows.append(
            Readiness(
                id=ids.take(Readiness), patient=patient, updated_by=actor, updated_at=at, **values
            )
        )
    return rows, changes


def make_notifications(
    rng: Random, ids: Ids, specs: list[Spec], *, target: int, now: datetime
) -> Iterator[Notification]:
    """Inbox and email rows of every step someone hears of (events already numbered). Emails
    were sent only from some point on (the older steps' emails are left out) when there would
    be more rows than `target`."""
    told = [spec for spec in specs if spec.recipients]
    total = sum(len(spec.recipients) for spec in told)
    emails = sum(1 for spec in told for user in spec.recipients if user.email)
    skip_emails = max(0, min(emails, total + emails - target))
    for spec in told:
        for user in spec.recipients:
            channels = [NotificationChannel.INBOX]
            if user.email:
                if skip_emails:
                    skip_emails -= 1
                else:
                    channels.append(NotificationChannel.EMAIL)
            for channel in channels:
                inbox = channel == NotificationChannel.INBOX
                old = now - spec.created_at > timedelta(days=2)
                yield Notification(
                    id=ids.take(Notification),
                    event_id=spec.id,
                    recipient=user,
                    address="" if inbox else user.email,
                    channel=channel,
                    language=user.preferred_language,
                    status=NotificationStatus.SENT,
                    attempts=1,
                    next_attempt_at=spec.created_at,
                    idempotency_key=f"event-{spec.id}-{channel}-user-{user.pk}",
                    created_at=spec.created_at,
                    sent_at=spec.created_at + timedelta(seconds=1 + 4 * rng.random()),
                    read_at=spec.created_at + timedelta(hours=3) if inbox and old else None,
                )
