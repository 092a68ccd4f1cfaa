"""Import speed: a list of cases (each with two companions and a referral) read, checked and
imported through `patients.imports`, as `manage.py import_cases` does; the import inside a
transaction rolled back afterwards, so the seed stays as it was. At two sizes, to show the
memory an import takes does not grow with the file: `peak_rss_mb` is the peak resident memory
of this process during the run above its resident memory at the start (Linux's VmHWM, reset
before the run through /proc/self/clear_refs), the file itself (in memory) excluded."""

import csv
import io
import re
import time
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from casetracker.audit.context import Channel, audit_context


class _RolledBack(Exception):
    pass


def _csv(rows: int) -> bytes:
    today = timezone.localdate()
    person = ["name_latin", "name_arabic", "national_id", "date_of_birth", "sex"]
    companion = [*person, "relationship"]
    header = [*person, "facility", "priority", "clinical_category", "phone"]
    header += [f"companion{n}_{key}" for n in (1, 2) for key in companion]
    header += ["referral_number", "referral_specialty", "referral_referring_facility"]
    header += ["referral_destination_country", "referral_issued_on", "referral_expires_on"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    stamp = int(time.time()) % 100_000
    for n in range(rows):
        born = (today - timedelta(days=365 * 40 + n % 300)).isoformat()
        row = ["Ahmad Omar Qishta", "أحمد عمر قشطة", str(700_000_000 + n), born, "male"]
        row += ["nasser", "urgent", "oncology", ""]
        for c in (1, 2):
            row += ["Mariam Omar Qishta", "مريم عمر قشطة", str(800_000_000 + 2 * n + c)]
            row += [born, "female", "sister"]
        row += [f"BENCH-{stamp}-{n}", "oncology", "nasser", "Egypt", today.isoformat(), ""]
        writer.writerow(row)
    return out.getvalue().encode()


def import_speed(sizes: tuple[int, ...] = (1_000, 20_000)) -> dict:
    """Seconds, rows per second, queries per row and peak memory of a dry run and an import
    of each size of list."""
    try:
        from patients.imports.cases import import_cases
    except ImportError as exc:
        return {"skipped": f"no import of cases here ({exc})"}
    actor = get_user_model().objects.get(username="coordinator")
    runs = {}
    for rows in sizes:
        data = _csv(rows)
        timings = {}
        for dry_run in (True, False):
            queries = []
            began, rss = time.perf_counter(), _reset_peak_rss()
            try:
                with (
                    connection.execute_wrapper(_counting(queries)),
                    transaction.atomic(),
                    audit_context(channel=Channel.COMMAND),
                ):
                    result = import_cases(
                        file=io.BytesIO(data),
                        name="bench.csv",
                        actor=actor,
                        dry_run=dry_run,
                        update_fields=set(),
                    )
                    counts = result.counts()
                    del result
                    raise _RolledBack
            except _RolledBack:
                pass
            seconds = time.perf_counter() - began
            timings["dry_run" if dry_run else "import"] = {
                "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds, 1),
                "queries_per_row": round(len(queries) / rows, 3),
                "peak_rss_mb": _peak_rss_mb(rss),
                "counts": counts,
            }
        runs[str(rows)] = timings
    return {
        "companions_per_row": 2,
        "memory": "peak resident memory above the start of the run (VmHWM after clear_refs)",
        **runs,
    }


def _counting(queries: list):
    def count(execute, sql, params, many, context):
        queries.append(None)
        return execute(sql, params, many, context)

    return count


_STATUS = Path("/proc/self/status")


def _resident_kb(key: str) -> int | None:
    if not _STATUS.exists():
        return None
    found = re.search(rf"^{key}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    return int(found.group(1)) if found else None


def _reset_peak_rss() -> int | None:
    """The resident memory now (kB), the peak reset to it; None where Linux's /proc is not."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _resident_kb("VmRSS")


def _peak_rss_mb(start: int | None) -> float | None:
    peak = _resident_kb("VmHWM")
    if start is None or peak is None:
        return None
    return round((peak - start) / 1024, 1)
