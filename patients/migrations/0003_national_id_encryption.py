# National IDs: from a plain column to an encrypted one with a keyed hash beside it.
#
# The plain column is renamed, the encrypted column and the hash are added, every row is copied
# across through casetracker.crypto (in batches), then the plain column is dropped. Reversible:
# going back decrypts into the plain column again. Works on SQLite and PostgreSQL.

from django.db import migrations, models

import patients.fields
from casetracker import crypto
from patients.fields import normalise_national_id

MODELS = ("patient", "companion", "returnee")
BATCH = 500


def _batches(queryset, *fields):
    """(pk, *fields) tuples, BATCH at a time, in pk order."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", *fields)[:BATCH])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def encrypt_existing(apps, schema_editor):
    for name in MODELS:
        model = apps.get_model("patients", name)
        for rows in _batches(model.objects.all(), "national_id_plain"):
            for pk, plain in rows:
                number = normalise_national_id(plain or "")
                # The field encrypts on write; the hash is written explicitly because
                # `update` does not run the hash field's pre_save.
                model.objects.filter(pk=pk).update(
                    national_id=number,
                    national_id_hash=crypto.keyed_hash(number) if number else "",
                )


def decrypt_back(apps, schema_editor):
    for name in MODELS:
        model = apps.get_model("patients", name)
        for rows in _batches(model.objects.all(), "national_id"):
            for pk, number in rows:
                model.objects.filter(pk=pk).update(national_id_plain=number or "")


def _national_id(null: bool):
    return patients.fields.NationalIdField(
        db_column="national_id_encrypted",
        max_length=20,
        null=null,
        validators=[patients.fields.validate_national_id],
        verbose_name="national ID",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_sms_consent_and_name_checks"),
    ]

    operations = [
        *(
            op
            for name in MODELS
            for op in (
                migrations.RenameField(name, "national_id", "national_id_plain"),
                # Nullable first, so going back can add it again before refilling it.
                migrations.AlterField(
                    name,
                    "national_id_plain",
                    field=models.CharField(max_length=20, null=True),
                ),
                migrations.AddField(name, "national_id", field=_national_id(null=True)),
                migrations.AddField(
                    name,
                    "national_id_hash",
                    field=patients.fields.KeyedHashField(db_index=True, source="national_id"),
                ),
            )
        ),
        migrations.RunPython(encrypt_existing, decrypt_back, elidable=False),
        *(
            op
            for name in MODELS
            for op in (
                migrations.AlterField(name, "national_id", field=_national_id(null=False)),
                migrations.RemoveField(name, "national_id_plain"),
            )
        ),
    ]
