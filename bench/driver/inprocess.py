"""Inside the driver's process, with Django's test client on the same database: how many SQL
queries each endpoint runs (at 10 and 100 rows a page for the lists), how long they take, and
the slowest of them (the endpoint's main query) timed again by PostgreSQL (EXPLAIN ANALYZE)."""

import re
import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from .targets import Target

EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")


def _sized(path: str, size: int) -> str:
    return f"{path}{'&' if '?' in path else '?'}page_size={size}"


def _measure(client: Client, path: str) -> dict:
    began = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    elapsed = time.perf_counter() - began
    queries = captured.captured_queries
    # The main query: the slowest read (writes of the access log and the session aside).
    reads = [q for q in queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
    slowest = max(reads, key=lambda q: float(q["time"]), default=None)
    return {
        "status": response.status_code,
        "queries": len(queries),
        # The whole request in this process, alone: the server time without queueing.
        "request_ms": round(elapsed * 1000, 1),
        "sql_ms": round(sum(float(q["time"]) for q in queries) * 1000, 1),
        "slowest_sql": slowest["sql"] if slowest else "",
        "slowest_ms": round(float(slowest["time"]) * 1000, 1) if slowest else None,
    }


def explain_ms(sql: str) -> float | None:
    """PostgreSQL's own execution time of a read query; None for anything else."""
    if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT TEXT) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    except Exception:
        return None
    found = EXECUTION.search(plan)
    return float(found.group(1)) if found else None


def count_queries(target: Target, clients: dict[str, Client]) -> dict:
    """The real endpoint's queries (twice: the first request warms the caches) and the bare
    view's, at 10 and 100 rows for a list whose page size the client chooses."""
    client = clients[target.user]
    path = target.real[0]
    _measure(client, path)
    result: dict = {}
    if target.sized:
        for size in (10, 100):
            result[f"real_{size}"] = _measure(client, _sized(path, size))
            if target.bare:
                result[f"bare_{size}"] = _measure(client, _sized(target.bare[0], size))
    else:
        result["real"] = _measure(client, path)
        if target.bare:
            result["bare"] = _measure(client, target.bare[0])
    main = result.get("real_10") or result["real"]
    main["explain_ms"] = explain_ms(main["slowest_sql"])
    for measured in result.values():
        measured["slowest_sql"] = measured["slowest_sql"][:300]
    return result
