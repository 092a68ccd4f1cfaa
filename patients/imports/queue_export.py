"""The waiting queue in the columns of the import template, so a list exported, corrected in a
spreadsheet and imported again names the same cases with the same details (the round trip).

Rows only: the download itself (a page or an API call) goes through
`casetracker.exports.export_response`, which neutralises formulas and records the export."""

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Prefetch

from casetracker.exports import Column

from ..access import Category, record_category
from ..models import Companion, Patient, PatientStatus, Referral
from .template import COMPANION, FACILITY, PATIENT, columns, template_columns


def queue_export_columns(language: str = "en") -> list[Column]:
    return template_columns(language)


def _cell(instance, field: str, kind: str) -> Any:
    value = getattr(instance, field)
    return value.code if kind == FACILITY and value is not None else value


def case_row(patient: Patient, *, with_diagnosis: bool) -> dict[str, Any]:
    """One case as a row of the template: its first companions (as many as the template has),
    its latest referral. Prefetch `companions` and `referrals` (ordered by id)."""
    companions = list(patient.companions.all())[: settings.MAX_COMPANIONS_PER_PATIENT]
    referrals = list(patient.referrals.all())
    referral = referrals[-1] if referrals else None
    row: dict[str, Any] = {}
    for column in columns():
        if column.part == PATIENT:
            source = patient
        elif column.part == COMPANION:
            slot = column.slot or 0
            source = companions[slot - 1] if slot <= len(companions) else None
        else:
            source = referral
        row[column.key] = None if source is None else _cell(source, column.field, column.kind)
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
    for patient in patients.iterator(chunk_size=chunk_size):
        yield case_row(patient, with_diagnosis=with_diagnosis)
