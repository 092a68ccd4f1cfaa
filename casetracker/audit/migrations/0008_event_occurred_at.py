# Events keep when a fact occurred beside when it was recorded (`created_at`). The column is
# nullable and added without a default: events recorded before it keep NULL (they occurred when
# recorded; `Event.occurred` reads `created_at` for them) and their hashes stay valid, since
# `event_hash` adds `occurred_at` to the payload only when it is set. Adding the column and its
# index is DDL: no row is updated, so the append-only trigger of audit/0002 (BEFORE UPDATE OR
# DELETE, per row) does not fire on PostgreSQL; SQLite has no trigger.
#
# Not atomic: every transition and every audited read inserts into audit_event, and a plain
# CREATE INDEX blocks inserts until it has read the whole table. On PostgreSQL the index is
# built CONCURRENTLY, which lets them through and cannot run in a transaction (SQLite builds it
# plainly). Adding a nullable column without a default only changes the catalogue. Should the
# index build fail, drop the INVALID index `audit_event_occurred_idx` and the column, then run
# the migration again.
#
# Going back drops `occurred_at`, and with it the time of every event recorded since, whose
# hashes include it: refused once any event has one (README, Upgrading the database).

from django.db import migrations, models

from casetracker.migration_ops import AddIndexConcurrently, refuse_reversal


def occurred_times_recorded(apps, using) -> list[str]:
    Event = apps.get_model("audit", "Event")
    count = Event.objects.using(using).filter(occurred_at__isnull=False).count()
    if not count:
        return []
    return [
        f"{count} events record when they occurred (occurred_at); going back would drop those "
        "times and break the hash of each of them"
    ]


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('audit', '0007_vehicle_actions'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='occurred_at',
            field=models.DateTimeField(blank=True, help_text='when it happened, as the user stated it (default: when it was recorded); empty on events recorded before this field existed, which occurred when recorded', null=True, verbose_name='occurred at'),
        ),
        AddIndexConcurrently(
            model_name='event',
            index=models.Index(fields=['occurred_at'], name='audit_event_occurred_idx'),
        ),
        refuse_reversal('audit.0008_event_occurred_at', occurred_times_recorded),
    ]
