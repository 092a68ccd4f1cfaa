"""The waiting queue in the columns of the import template, so a list exported, corrected in a
spreadsheet and imported again names the same cases with the same details (the round trip).

The download (the queue page's links, `GET /api/v1/patients/queue-export/`) is
`queue_export_response`: written to a temporary file by `export_file_response`
(`casetracker.exports`), which neutralises formulas and records the export; the file's
personal data is one access-log event (how many cases, which kind of data, whether ID numbers
were whole), never a name or a number.
The waiting queue can hold 100,000 cases: the event does not list their references, which would
grow with the queue; the actor's role and facility in the event, and its time, say which cases
the file held (the waiting queue as that user could see it then).

National ID numbers follow `shows_full_national_id`, as on every page: whole for coordinators
and admins (whose files import again), the last four digits for hospital staff and auditors."""

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.http import FileResponse

from casetracker.audit.models import Action, SubjectType
from casetracker.audit.services import record_access
from casetracker.exports import Column, SheetLayout, export_file_response, reader_language

from ..access import Category, mask_national_id, record_category, shows_full_national_id
from ..models import Companion, Patient, PatientStatus, Referral
from .template import COMPANION, FACILITY, PATIENT, ImportColumn, columns, template_columns

# The export's name: in the audit log and in the file's name.
QUEUE_EXPORT = "waiting-queue"


def queue_export_columns(language: str = "en") -> list[Column]:
    return template_columns(language)


def _cell(instance, field: str, kind: str) -> Any:
    value = getattr(instance, field)
    return value.code if kind == FACILITY and value is not None else value


def case_row(
    patient: Patient,
    *,
    with_diagnosis: bool,
    full_ids: bool = True,
    template: list[ImportColumn] | None = None,
) -> dict[str, Any]:
    """One case as a row of the template (`template`: its columns, read once per file): its
    first companions (as many as the template has), its latest referral. Prefetch
    `companions` and `referrals` (ordered by id)."""
    companions = list(patient.companions.all())[: settings.MAX_COMPANIONS_PER_PATIENT]
    referrals = list(patient.referrals.all())
    referral = referrals[-1] if referrals else None
    row: dict[str, Any] = {}
    for column in template or columns():
        if column.part == PATIENT:
            source = patient
        elif column.part == COMPANION:
            slot = column.slot or 0
            source = companions[slot - 1] if slot <= len(companions) else None
        else:
            source = referral
        value = None if source is None else _cell(source, column.field, column.kind)
        if column.field == "national_id" and value and not full_ids:
            value = mask_national_id(value)
        row[column.key] = value
    if not with_diagnosis:
        row["diagnosis"] = None
    return row


def queue_export_rows(user, *, chunk_size: int = 500) -> Iterator[dict[str, Any]]:
    """The waiting cases `user` may see, in queue order, as template rows; the diagnosis only
    for those who may read it. Read in chunks: memory does not grow with the queue."""
    patients = (
        Patient.objects.visible_to(user)
        .filter(status=PatientStatus.WAITING)
        .queue_order()
        .select_related("facility")
        .prefetch_related(
            Prefetch("companions", queryset=Companion.objects.order_by("pk")),
            Prefetch(
                "referrals",
                queryset=Referral.objects.select_related("referring_facility").order_by("pk"),
            ),
        )
    )
    with_diagnosis = record_category(user) == Category.CLINICAL
    full_ids = shows_full_national_id(user)
    template = columns()
    for patient in patients.iterator(chunk_size=chunk_size):
        yield case_row(patient, with_diagnosis=with_diagnosis, full_ids=full_ids, template=template)


def queue_export_response(*, user, fmt: str, chunk_size: int = 500) -> FileResponse:
    """The waiting queue `user` may see as a CSV or XLSX download (`fmt`), headers in the
    user's language (the template's Arabic ones for Arabic readers: the file imports again),
    logged as an export and as a read of personal data. ValueError for an unknown format."""
    language = reader_language(user)
    export_columns = queue_export_columns(language)
    full_ids = shows_full_national_id(user)

    def record_read(rows: int) -> None:
        record_access(
            subject_type=SubjectType.PATIENT,
            subject_ref="list",
            action=Action.VIEW,
            actor=user,
            details={
                "category": record_category(user),
                "document": "queue_export",
                "format": fmt,
                "rows": rows,
                "national_id": "full" if full_ids else "last_4_digits",
            },
        )

    return export_file_response(
        user=user,
        name=QUEUE_EXPORT,
        columns=export_columns,
        rows=queue_export_rows(user, chunk_size=chunk_size),
        fmt=fmt,
        layout=SheetLayout(
            right_to_left=language == "ar",
            rtl_columns=frozenset(c.key for c in export_columns if c.key.endswith("name_arabic")),
            freeze_header=True,
        ),
        record_read=record_read,
    )
