# The action `import` and the subject type `import` (issue 13): every import of a spreadsheet of
# cases or of a clearance list, dry run or real, is one event (who, the file's SHA-256, row
# counts by outcome; never its content).
#
# Only the check constraints change in the database, widened NOT VALID then validated as in
# audit/0009 and 0011 (`ReplaceCheckConstraints`), so the inserts of every transition and read
# go on meanwhile: the migration is not atomic.
#
# Going back narrows the checks again: refused while import events exist (README, Upgrading the
# database).

from django.db import migrations, models

from casetracker.migration_ops import ReplaceCheckConstraints, refuse_reversal

ACTIONS = [
    ("create", "created"),
    ("register", "registered"),
    ("update", "details changed"),
    ("companion_add", "companion registered"),
    ("add_member", "person added"),
    ("remove_member", "person removed"),
    ("clearance", "clearance recorded"),
    ("prepare", "prepared"),
    ("reopen", "reopened"),
    ("submit", "submitted for security vetting"),
    ("clear", "cleared"),
    ("depart", "departed"),
    ("cross", "crossed"),
    ("cancel", "cancelled"),
    ("reschedule", "rescheduled"),
    ("status_change", "status changed"),
    ("referral_decision", "referral decision"),
    ("readiness_update", "readiness updated"),
    ("retry_delivery", "delivery retried"),
    ("export", "data exported"),
    ("two_factor", "two-factor sign-in changed"),
    ("vehicle_add", "vehicle added"),
    ("vehicle_remove", "vehicle removed"),
    ("vehicle_assign", "seats assigned"),
    ("crossing_state", "crossing opened, restricted or closed"),
    ("quota_change", "agreed quota changed"),
    ("statement", "statement recorded"),
    ("redact", "text redacted"),
    ("view", "record viewed"),
    ("search", "patient search"),
    ("seal", "access log sealed"),
    ("import", "list imported"),
]

SUBJECT_TYPES = [
    ("batch", "batch"),
    ("member", "manifest line"),
    ("patient", "patient"),
    ("referral", "referral"),
    ("returnee", "returnee"),
    ("notification", "notification"),
    ("report", "report"),
    ("account", "staff account"),
    ("crossing", "crossing"),
    ("quota", "agreed quota"),
    ("facility", "facility"),
    ("audit_log", "audit log"),
    ("import", "imported list"),
]


def import_events(apps, using) -> list[str]:
    Event = apps.get_model("audit", "Event")
    events = Event.objects.using(using)
    problems = []
    if count := events.filter(action="import").count():
        problems.append(f"{count} events have the action import, which the older check refuses")
    if count := events.filter(subject_type="import").count():
        problems.append(f"{count} events are about an import, which the older check refuses")
    return problems


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0011_access_lanes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="action",
            field=models.CharField(
                choices=ACTIONS, db_index=True, max_length=32, verbose_name="action"
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="subject_type",
            field=models.CharField(
                choices=SUBJECT_TYPES, max_length=20, verbose_name="subject type"
            ),
        ),
        ReplaceCheckConstraints(
            model_name="event",
            constraints=[
                models.CheckConstraint(
                    condition=models.Q(
                        ("subject_type__in", [value for value, _label in SUBJECT_TYPES])
                    ),
                    name="event_subject_type_valid",
                ),
                models.CheckConstraint(
                    condition=models.Q(("action__in", [value for value, _label in ACTIONS])),
                    name="event_action_valid",
                ),
            ],
        ),
        refuse_reversal("audit.0012_import_events", import_events),
    ]
