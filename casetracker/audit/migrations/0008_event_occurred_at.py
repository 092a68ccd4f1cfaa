# Events keep when a fact occurred beside when it was recorded (`created_at`). The column is
# nullable and added without a default: events recorded before it keep NULL (they occurred when
# recorded; `Event.occurred` reads `created_at` for them) and their hashes stay valid, since
# `event_hash` adds `occurred_at` to the payload only when it is set. Adding a column and an
# index is DDL: no row is updated, so the append-only trigger of audit/0002 (BEFORE UPDATE OR
# DELETE, per row) does not fire on PostgreSQL; SQLite has no trigger.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0007_vehicle_actions'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='occurred_at',
            field=models.DateTimeField(blank=True, db_index=True, help_text='when it happened, as the user stated it (default: when it was recorded); empty on events recorded before this field existed, which occurred when recorded', null=True, verbose_name='occurred at'),
        ),
    ]
