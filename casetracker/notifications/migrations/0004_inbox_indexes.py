# The inbox reads: every page's header counts the user's unread inbox notifications, and the
# inbox page lists them newest first with a count for its pages. Both partial indexes hold
# inbox rows only (a quarter to a half of the outbox), and the unread one only unread rows,
# so the count is read from the index alone.
#
# Not atomic: every transition writes notification rows, and a plain CREATE INDEX blocks
# inserts until it has read the whole table. On PostgreSQL the indexes are built CONCURRENTLY
# (SQLite builds them plainly). Should a build fail, drop the INVALID index it names and run
# the migration again.

from django.conf import settings
from django.db import migrations, models

from casetracker.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('notifications', '0003_last_error_length'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='notification',
            index=models.Index(condition=models.Q(('channel', 'inbox')), fields=['recipient', 'created_at', 'id'], name='notification_inbox'),
        ),
        AddIndexConcurrently(
            model_name='notification',
            index=models.Index(condition=models.Q(('channel', 'inbox'), ('read_at__isnull', True)), fields=['recipient'], name='notification_unread_inbox'),
        ),
    ]
