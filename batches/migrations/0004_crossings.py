# Crossings become data (issue 11). `Batch.crossing` and `CrossingQuota.crossing` turn from a
# one-value choice into foreign keys to the new table by its code, keeping their column
# ("crossing") and the codes already stored ("rafah"): no batch or quota row is rewritten. A
# crossing row is created first for every code in use (Rafah, prefix RAF, whatever the rows
# hold). Return quotas lose their companions (they never held places: companions travel out
# with their patient), then a check keeps them at 0.
#
# Going back drops the table and turns the columns into plain text again, with the old check
# that a batch's crossing is "rafah". It is refused, before anything is undone, once the new
# code has recorded a crossing of its own (another crossing, Rafah's state, hours, note or
# names), whose rows would be lost or refused (README, Upgrading the database).

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from casetracker.migration_ops import refuse_reversal

RAFAH = {"code": "rafah", "prefix": "RAF", "name_en": "Rafah", "name_ar": "رفح"}


def create_crossings(apps, schema_editor):
    Crossing = apps.get_model("batches", "Crossing")
    Batch = apps.get_model("batches", "Batch")
    CrossingQuota = apps.get_model("batches", "CrossingQuota")
    db = schema_editor.connection.alias
    Crossing.objects.using(db).get_or_create(
        code=RAFAH["code"], defaults={k: v for k, v in RAFAH.items() if k != "code"}
    )
    used = set(Batch.objects.using(db).values_list("crossing", flat=True))
    used |= set(CrossingQuota.objects.using(db).values_list("crossing", flat=True))
    for code in sorted(used - {RAFAH["code"]}):
        # Only "rafah" could be stored; should anything else be, it keeps its rows.
        prefix = "".join(ch for ch in code.upper() if ch.isalpha())[:6].ljust(2, "X")
        Crossing.objects.using(db).create(code=code, prefix=prefix, name_en=code, name_ar=code)


def return_quotas_without_companions(apps, schema_editor):
    CrossingQuota = apps.get_model("batches", "CrossingQuota")
    db = schema_editor.connection.alias
    CrossingQuota.objects.using(db).filter(direction="return").exclude(
        agreed_companions=0
    ).update(agreed_companions=0)


def crossings_recorded(apps, using) -> list[str]:
    Crossing = apps.get_model("batches", "Crossing")
    problems = []
    others = list(
        Crossing.objects.using(using)
        .exclude(code=RAFAH["code"])
        .order_by("code")
        .values_list("code", flat=True)
    )
    if others:
        problems.append(
            f"crossings other than Rafah exist ({', '.join(others)}), with their batches and "
            "quotas, which the older schema refuses"
        )
    rafah = Crossing.objects.using(using).filter(code=RAFAH["code"]).first()
    if rafah is not None:
        initial = {**RAFAH, "state": "open", "state_reason": "", "state_source": "",
                   "opens_at": None, "closes_at": None, "note": ""}  # fmt: skip
        changed = sorted(name for name, value in initial.items() if getattr(rafah, name) != value)
        if changed:
            problems.append(
                f"Rafah's crossing row holds what the older schema has no place for "
                f"({', '.join(changed)})"
            )
    return problems


class Migration(migrations.Migration):

    dependencies = [
        ('batches', '0003_vehicles'),
    ]

    operations = [
        migrations.CreateModel(
            name='Crossing',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(help_text='How the API and the links name it, e.g. kerem-shalom. Never changes.', max_length=20, unique=True, verbose_name='code')),
                ('prefix', models.CharField(help_text='Two to six capital letters starting each batch code, e.g. KSH.', max_length=6, unique=True, verbose_name='batch code prefix')),
                ('name_en', models.CharField(max_length=100, verbose_name='name (English)')),
                ('name_ar', models.CharField(max_length=100, verbose_name='name (Arabic)')),
                ('state', models.CharField(choices=[('open', 'open'), ('restricted', 'restricted'), ('closed', 'closed')], default='open', max_length=10, verbose_name='state')),
                ('state_since', models.DateTimeField(default=django.utils.timezone.now, verbose_name='state since')),
                ('state_reason', models.CharField(blank=True, max_length=500, verbose_name='why it is in this state')),
                ('state_source', models.CharField(blank=True, choices=[('who', 'WHO'), ('border_authority', 'border authority'), ('ministry_of_health', 'ministry of health'), ('red_crescent', 'Red Crescent'), ('internal', 'internal decision'), ('other', 'other')], max_length=32, verbose_name='state reported by')),
                ('opens_at', models.TimeField(blank=True, null=True, verbose_name='opens at')),
                ('closes_at', models.TimeField(blank=True, null=True, verbose_name='closes at')),
                ('note', models.CharField(blank=True, max_length=500, verbose_name='note')),
            ],
            options={
                'verbose_name': 'crossing',
                'verbose_name_plural': 'crossings',
                'ordering': ['code'],
            },
        ),
        migrations.AddConstraint(
            model_name='crossing',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['open', 'restricted', 'closed'])), name='crossing_state_valid'),
        ),
        migrations.AddConstraint(
            model_name='crossing',
            constraint=models.CheckConstraint(condition=models.Q(('state_source', ''), ('state_source__in', ['who', 'border_authority', 'ministry_of_health', 'red_crescent', 'internal', 'other']), _connector='OR'), name='crossing_state_source_valid'),
        ),
        migrations.AddConstraint(
            model_name='crossing',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('closes_at__isnull', True), ('opens_at__isnull', True)), models.Q(('closes_at__isnull', False), ('opens_at__isnull', False)), _connector='OR'), name='crossing_hours_both_or_neither'),
        ),
        # Rows are written before the foreign keys exist: PostgreSQL would refuse to alter a
        # table with pending (deferred) constraint checks in the same transaction.
        migrations.RunPython(create_crossings, migrations.RunPython.noop),
        migrations.RunPython(return_quotas_without_companions, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='batch',
            name='batch_crossing_valid',
        ),
        migrations.AlterField(
            model_name='batch',
            name='crossing',
            field=models.ForeignKey(db_column='crossing', on_delete=django.db.models.deletion.PROTECT, related_name='batches', to='batches.crossing', to_field='code', verbose_name='crossing'),
        ),
        migrations.AlterField(
            model_name='crossingquota',
            name='crossing',
            field=models.ForeignKey(db_column='crossing', on_delete=django.db.models.deletion.PROTECT, related_name='quotas', to='batches.crossing', to_field='code', verbose_name='crossing'),
        ),
        migrations.AddConstraint(
            model_name='crossingquota',
            constraint=models.CheckConstraint(condition=models.Q(('direction', 'exit'), ('agreed_companions', 0), _connector='OR'), name='quota_return_has_no_companions'),
        ),
        refuse_reversal('batches.0004_crossings', crossings_recorded),
    ]
