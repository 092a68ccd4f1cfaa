# Reads of personal data are chained in access lanes (`AccessLane`, `Event.lane`/`lane_seq`)
# instead of the main chain, so that concurrent readers stop waiting one after the other for
# the lock on the main chain's head; the lanes' heads are sealed into the main chain at
# intervals (action `seal`, subject `audit_log`). The reads recorded before stay where they are,
# in the main chain (their lane is NULL), and keep their hashes: `event_hash` adds the lane to
# the payload only when it is set.
#
# The two new columns are nullable without a default (only the catalogue changes) and the
# check constraints are widened NOT VALID then validated, as in audit/0009
# (`ReplaceCheckConstraints`), so the inserts of every transition and read go on meanwhile:
# the migration is not atomic. The lanes (AUDIT_ACCESS_LANES of them) are opened after every
# `migrate` by the audit app (`open_access_lanes`, on post_migrate).
#
# Going back would drop the lanes, and with them the link of every read chained in one:
# refused once any read has been (README, Upgrading the database).

from django.db import migrations, models

from casetracker.migration_ops import ReplaceCheckConstraints, refuse_reversal

ACTIONS = [
    ('create', 'created'), ('register', 'registered'), ('update', 'details changed'),
    ('companion_add', 'companion registered'), ('add_member', 'person added'),
    ('remove_member', 'person removed'), ('clearance', 'clearance recorded'),
    ('prepare', 'prepared'), ('reopen', 'reopened'), ('submit', 'submitted for security vetting'),
    ('clear', 'cleared'), ('depart', 'departed'), ('cross', 'crossed'), ('cancel', 'cancelled'),
    ('reschedule', 'rescheduled'), ('status_change', 'status changed'),
    ('referral_decision', 'referral decision'), ('readiness_update', 'readiness updated'),
    ('retry_delivery', 'delivery retried'), ('export', 'data exported'),
    ('two_factor', 'two-factor sign-in changed'), ('vehicle_add', 'vehicle added'),
    ('vehicle_remove', 'vehicle removed'), ('vehicle_assign', 'seats assigned'),
    ('crossing_state', 'crossing opened, restricted or closed'),
    ('quota_change', 'agreed quota changed'), ('statement', 'statement recorded'),
    ('redact', 'text redacted'), ('view', 'record viewed'), ('search', 'patient search'),
    ('seal', 'access log sealed'),
]

SUBJECT_TYPES = [
    ('batch', 'batch'), ('member', 'manifest line'), ('patient', 'patient'),
    ('referral', 'referral'), ('returnee', 'returnee'), ('notification', 'notification'),
    ('report', 'report'), ('account', 'staff account'), ('crossing', 'crossing'),
    ('quota', 'agreed quota'), ('facility', 'facility'), ('audit_log', 'audit log'),
]


def reads_in_lanes(apps, using) -> list[str]:
    Event = apps.get_model("audit", "Event")
    events = Event.objects.using(using)
    problems = []
    if count := events.filter(lane__isnull=False).count():
        problems.append(f"{count} reads are chained in access lanes, which going back drops")
    if count := events.filter(action="seal").count():
        problems.append(f"{count} seals of the access lanes are in the main chain")
    return problems


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('audit', '0010_statements_and_redaction'),
    ]

    operations = [
        migrations.CreateModel(
            name='AccessLane',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveBigIntegerField(default=0, verbose_name='events in the lane')),
                ('last_hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64, verbose_name='last hash')),
            ],
            options={
                'verbose_name': 'access lane',
                'verbose_name_plural': 'access lanes',
            },
        ),
        migrations.AddField(
            model_name='event',
            name='lane',
            field=models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='access lane'),
        ),
        migrations.AddField(
            model_name='event',
            name='lane_seq',
            field=models.PositiveBigIntegerField(blank=True, null=True, verbose_name='place in the access lane'),
        ),
        migrations.AlterField(
            model_name='event',
            name='action',
            field=models.CharField(choices=ACTIONS, db_index=True, max_length=32, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='event',
            name='subject_type',
            field=models.CharField(choices=SUBJECT_TYPES, max_length=20, verbose_name='subject type'),
        ),
        ReplaceCheckConstraints(
            model_name='event',
            constraints=[
                models.CheckConstraint(condition=models.Q(('subject_type__in', [value for value, _label in SUBJECT_TYPES])), name='event_subject_type_valid'),
                models.CheckConstraint(condition=models.Q(('action__in', [value for value, _label in ACTIONS])), name='event_action_valid'),
            ],
        ),
        refuse_reversal('audit.0011_access_lanes', reads_in_lanes),
    ]
