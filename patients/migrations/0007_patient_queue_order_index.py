# The queue order over every case, for the API's patient list: the waiting queue's index
# (0006) holds waiting cases only, so an unfiltered list sorted every case for each page. This
# index is on the same expression as `PatientQuerySet.queue_order`.
#
# Not atomic: registrations and every status change write to the table, and a plain CREATE
# INDEX blocks them until it has read every row. On PostgreSQL the index is built
# CONCURRENTLY (SQLite builds it plainly). Should the build fail, drop the INVALID index
# `patient_queue_order` and run the migration again.

from django.db import migrations, models

from casetracker.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('accounts', '0002_role_groups'),
        ('patients', '0006_waiting_queue_index'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='patient',
            index=models.Index(models.Case(models.When(priority='critical', then=models.Value(0)), models.When(priority='urgent', then=models.Value(1)), models.When(priority='routine', then=models.Value(2)), output_field=models.IntegerField()), models.F('registered_at'), models.F('id'), name='patient_queue_order'),
        ),
    ]
