"""The waiting queue is read in order from its expression index (PostgreSQL), not sorted: an
ORDER BY over a CASE needs an index on the same expression (DESIGN section 7)."""

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

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


def _patient_page_query(api, user) -> str:
    """The SQL of the API patient list's page of rows, as the list ran it."""
    with CaptureQueriesContext(connection) as ctx:
        response = api(user).get("/api/v1/patients/")
    assert response.status_code == 200
    [sql] = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "patients_patient"."id"') and "ORDER BY" in q["sql"]
    ]
    return sql


def test_api_patient_list_is_read_from_the_queue_order_index(require_postgres, api, coordinator):
    """The API's patient list, unfiltered (every status), pages through the queue order
    index instead of sorting every case for each page (DESIGN section 7)."""
    facilities = [factories.FacilityFactory(), factories.FacilityFactory()]
    for n, priority in enumerate(("routine", "critical", "urgent", "critical")):
        status = "evacuated" if n == 1 else "waiting"
        factories.PatientFactory(facility=facilities[n % 2], priority=priority, status=status)
    sql = _patient_page_query(api, coordinator)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "patient_queue_order" in plan
    assert "Sort" not in plan
    rows = api(coordinator).get("/api/v1/patients/").json()["results"]
    assert [(r["priority"], r["status"]) for r in rows] == [
        ("critical", "evacuated"),
        ("critical", "waiting"),
        ("urgent", "waiting"),
        ("routine", "waiting"),
    ]
