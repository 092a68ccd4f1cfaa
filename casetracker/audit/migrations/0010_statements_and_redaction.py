# Issue 11: free text kept beside the hash chain, redactable (the actions `statement` and
# `redact` are allowed by audit/0009, so the check on actions changes once).
#
# - The text column of an event (`reason_text`) stays where it is, with every text recorded
#   before this migration: those events keep their payload and hash. The model calls it
#   `chained_text` now (state only: no SQL touches the column or its check), and
#   `Event.reason_text` reads the text wherever it is kept.
# - `text_digest` is added with a constant default: PostgreSQL adds the column without
#   rewriting a row, so the append-only trigger of audit/0002 (BEFORE UPDATE, per row) does not
#   fire; SQLite copies the table, and has no trigger.
# - `EventText` holds the texts recorded from now on. On PostgreSQL a trigger refuses to delete
#   one and allows only one change: blanking it, with who and when and the `redact` event that
#   records it (and later blanking the reason of a redaction whose own text was redacted); the
#   check constraint asks for all three, or none.
# - Nothing here reads audit_event under a lock: the new column has a constant default (no row
#   is rewritten or checked), and the check constraints are on the new table.
# - Going back drops the kept texts and the digests chained in the events: refused once any
#   exists (README, Upgrading the database).

import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
from django.conf import settings
from django.db import migrations, models

from casetracker.migration_ops import refuse_reversal

# A redaction is the text blanked with who and when, pointing to the `redact` event recorded in
# the same transaction, which must name this text's event and have the same time, author and
# reason (text_redact writes them so). Blanking a text by hand, even with a date and a name,
# is refused; `verify_audit_log` checks the same, where the trigger is off or absent (SQLite).
CREATE_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_eventtext_redact_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit texts are kept: DELETE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.redacted_at IS NULL THEN
        IF NEW.event_id <> OLD.event_id OR NEW.text <> '' OR NEW.redacted_at IS NULL
            OR NEW.redacted_by_id IS NULL OR NEW.redaction_event_id IS NULL
            OR NOT EXISTS (
                SELECT 1 FROM audit_event AS redaction
                WHERE redaction.id = NEW.redaction_event_id
                    AND redaction.action = 'redact'
                    AND redaction.details ->> 'event' = NEW.event_id::text
                    AND redaction.created_at = NEW.redacted_at
                    AND redaction.actor_id = NEW.redacted_by_id
                    AND NEW.redaction_reason = COALESCE(
                        (SELECT reason.text FROM audit_eventtext AS reason
                         WHERE reason.event_id = redaction.id), ''))
        THEN
            RAISE EXCEPTION 'audit texts change only to be redacted, with the redact event that records it: UPDATE refused'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF NEW.event_id <> OLD.event_id OR NEW.text <> ''
        OR NEW.redacted_at IS DISTINCT FROM OLD.redacted_at
        OR NEW.redacted_by_id IS DISTINCT FROM OLD.redacted_by_id
        OR NEW.redaction_event_id IS DISTINCT FROM OLD.redaction_event_id
        OR NEW.redaction_reason NOT IN ('', OLD.redaction_reason)
    THEN
        RAISE EXCEPTION 'audit texts change only to be redacted: UPDATE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_eventtext_redact_only
    BEFORE UPDATE OR DELETE ON audit_eventtext
    FOR EACH ROW EXECUTE FUNCTION audit_eventtext_redact_only();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS audit_eventtext_redact_only ON audit_eventtext;
DROP FUNCTION IF EXISTS audit_eventtext_redact_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


def texts_kept_apart(apps, using) -> list[str]:
    Event = apps.get_model("audit", "Event")
    EventText = apps.get_model("audit", "EventText")
    problems = []
    if count := EventText.objects.using(using).count():
        problems.append(f"{count} texts are kept beside their events (audit_eventtext)")
    if count := Event.objects.using(using).exclude(text_digest="").count():
        problems.append(
            f"{count} events chain the digest of their text (text_digest), which going back "
            "would drop, breaking the hash of each"
        )
    return problems


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_role_groups'),
        ('audit', '0009_crossing_and_quota_events'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name='event', name='event_reason_text_length'),
                migrations.RenameField(
                    model_name='event', old_name='reason_text', new_name='chained_text'
                ),
                migrations.AlterField(
                    model_name='event',
                    name='chained_text',
                    field=models.TextField(blank=True, db_column='reason_text', help_text='the text of an event recorded before texts were kept apart (cannot be redacted without breaking the chain)', max_length=2000, verbose_name='text in the chained row'),
                ),
                migrations.AddConstraint(
                    model_name='event',
                    constraint=models.CheckConstraint(condition=django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length('chained_text'), 2000), name='event_reason_text_length', violation_error_message='chained_text: at most 2000 characters'),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name='event',
            name='text_digest',
            field=models.CharField(blank=True, default='', help_text='HMAC-SHA256 of the text kept beside the event, under AUDIT_TEXT_KEY', max_length=64, verbose_name='text digest'),
        ),
        migrations.CreateModel(
            name='EventText',
            fields=[
                ('event', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='text_row', serialize=False, to='audit.event', verbose_name='event')),
                ('text', models.TextField(blank=True, max_length=2000, verbose_name='text')),
                ('redacted_at', models.DateTimeField(blank=True, null=True, verbose_name='redacted at')),
                ('redaction_reason', models.CharField(blank=True, max_length=500, verbose_name='why it was redacted')),
                ('redacted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='redacted by')),
                ('redaction_event', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='redacted_text', to='audit.event', verbose_name='redaction event')),
            ],
            options={
                'verbose_name': 'event text',
                'verbose_name_plural': 'event texts',
                'constraints': [
                    models.CheckConstraint(condition=django.db.models.lookups.LessThanOrEqual(django.db.models.functions.text.Length('text'), 2000), name='eventtext_text_length', violation_error_message='text: at most 2000 characters'),
                    models.CheckConstraint(condition=models.Q(models.Q(('redacted_at__isnull', True), ('redacted_by__isnull', True), ('redaction_event__isnull', True)), models.Q(('redacted_at__isnull', False), ('redacted_by__isnull', False), ('redaction_event__isnull', False), ('text', '')), _connector='OR'), name='eventtext_redacted_is_blank'),
                ],
            },
        ),
        migrations.RunPython(create_trigger, drop_trigger),
        refuse_reversal('audit.0010_statements_and_redaction', texts_kept_apart),
    ]
