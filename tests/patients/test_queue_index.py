"""The waiting queue is read in order from its expression index (PostgreSQL), not sorted: an
ORDER BY over a CASE needs an index on the same expression (DESIGN section 7)."""

from django.db import connection, transaction

from patients.models import Patient, PatientStatus
from tests import factories


def test_queue_order_is_read_from_the_waiting_queue_index(require_postgres, facility):
    for priority in ("routine", "critical", "urgent"):
        factories.PatientFactory(facility=facility, priority=priority)
    queue = Patient.objects.filter(status=PatientStatus.WAITING).queue_order()[:50]
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows: make the planner show whether the index can serve the order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = queue.explain()
    assert "patient_waiting_queue" in plan
    assert [p.priority for p in queue] == ["critical", "urgent", "routine"]
