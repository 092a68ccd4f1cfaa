"""Seeding a database for the benchmark: the setting through the services, then the whole
history made in memory and written with COPY, in one transaction, the audit chain computed as
the application computes it so that `verify_audit_log` passes."""

import time
from collections.abc import Callable
from datetime import timedelta
from random import Random

from django.db import connection, transaction
from django.utils import timezone

from batches.models import Batch, BatchMember, CrossingQuota, Statement
from casetracker.audit.models import Event
from casetracker.notifications.models import Notification
from patients.models import Companion, Patient, Readiness, ReadinessChange, Referral, Returnee

from . import database
from .chain import EventStream
from .copy import Ids, copy_instances, reset_sequences
from .extras import make_notifications, make_quotas, make_readiness
from .figures import OPEN_DAYS, Figures
from .history import HistoryMaker, local
from .lifecycle import Story
from .people import PeopleMaker, make_people
from .setup import build_setting

COPIED = (
    Patient,
    Companion,
    Referral,
    Readiness,
    ReadinessChange,
    Returnee,
    Batch,
    BatchMember,
    Statement,
    CrossingQuota,
    Notification,
)


def seed(figures: Figures, *, say: Callable[[str], None] = print, rng_seed: int = 2026) -> dict:
    """Seed an empty database (migrated) at `figures`; returns the rows written per table."""
    started = time.monotonic()

    def step(what: str) -> None:
        say(f"{time.monotonic() - started:7.1f}s  {what}")

    rng = Random(rng_seed)  # noqa: S311 (made-up data, the same at every run)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # One COPY of a million events runs past any statement timeout a deployment sets.
            cursor.execute("SET LOCAL statement_timeout = 0")
        setting = build_setting()
        ids, stream = Ids(), EventStream(rng)
        ids.prepare(*COPIED, Event)
        now = timezone.now()
        today = timezone.localdate(now)
        first = local(today - timedelta(days=figures.days), 0)
        people = make_people(PeopleMaker(rng, ids, setting, stream), figures, first, now)
        step(f"{len(people.patients)} patients and {len(people.returnees)} returnees made")
        story = Story(rng, ids, setting, stream, back=None)
        history = HistoryMaker(story, people, figures, now).run()
        step(f"{len(history.batches)} batches with {len(story.lines)} manifest lines made")
        days = [first.date() + timedelta(days=n) for n in range(figures.days + OPEN_DAYS)]
        quotas = make_quotas(ids, setting, stream, days, now)
        budget = figures.events - Event.objects.count() - len(stream)
        readiness, changes = make_readiness(
            rng, ids, setting, stream, people, history, budget=budget, now=now
        )
        step(f"{len(stream)} events made; chaining and writing them")
        stream.write(ids)
        step("events written")
        for statement, spec in history.statements:
            statement.id, statement.event_id = ids.take(Statement), spec.id
        notifications = make_notifications(
            rng, ids, stream.specs, target=figures.notifications, now=now
        )
        rows = {
            Patient: people.patients,
            Companion: [c for theirs in people.companions.values() for c in theirs],
            Referral: people.referrals,
            Readiness: readiness,
            ReadinessChange: changes,
            Returnee: people.returnees,
            Batch: history.batches,
            BatchMember: story.lines,
            Statement: [statement for statement, _spec in history.statements],
            CrossingQuota: quotas,
            Notification: notifications,
        }
        counts = {}
        for model in COPIED:
            counts[model._meta.label] = copy_instances(model, rows[model])
            step(f"{counts[model._meta.label]} {model._meta.verbose_name_plural} written")
        counts[Event._meta.label] = Event.objects.count()
        reset_sequences([*COPIED, Event])
        database.mark(figures.scale, len(people.patients), counts)
        step("checking the constraints and committing")
    step("done")
    return counts
