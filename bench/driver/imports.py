"""Import speed: a list of cases (each with two companions and a referral) read, checked and
imported through `patients.imports`, as `manage.py import_cases` does; the import inside a
transaction rolled back afterwards, so the seed stays as it was."""

import csv
import io
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
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


def import_speed(rows: int) -> dict:
    try:
        from patients.imports.cases import import_cases
    except ImportError as exc:
        return {"skipped": f"no import of cases here ({exc})"}
    actor = get_user_model().objects.get(username="coordinator")
    data = _csv(rows)
    timings = {}
    for dry_run in (True, False):
        began = time.perf_counter()
        try:
            with transaction.atomic(), audit_context(channel=Channel.COMMAND):
                result = import_cases(
                    file=io.BytesIO(data),
                    name="bench.csv",
                    actor=actor,
                    dry_run=dry_run,
                    update_fields=set(),
                )
                counts = result.counts()
                raise _RolledBack
        except _RolledBack:
            pass
        seconds = time.perf_counter() - began
        timings["dry_run" if dry_run else "import"] = {
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds, 1),
            "counts": counts,
        }
    return {"rows": rows, "companions_per_row": 2, **timings}
