"""The manifest of a batch as a CSV or XLSX file: one row per person (each patient followed by
their companions, or a returnee), for the partners who work in spreadsheets.

The rows are those of the printed manifest (`build_manifest`): the same people, what the user
may see of them (`BatchMember.objects.visible_to`), national ID numbers whole or reduced to
their last four digits by the same rule (`shows_full_national_id`). Cells go through
`casetracker.exports` (formulas neutralised); the download is an export event and one
access-log event naming the batch, the references and whether ID numbers were whole
(`log_manifest_access`), never a name or a number. A batch carries at most a day's quota, so
the file is built in one go."""

from typing import Any

from django.http import FileResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from casetracker.exports import Column, SheetLayout, export_file_response, reader_language

from .manifest import HEADINGS, Manifest, Person, build_manifest, log_manifest_access
from .models import Batch

# The export's name in the audit log and the file's name (the batch code is a filter).
MANIFEST_EXPORT = "batch-manifest"

KINDS = {"patient": _("patient"), "companion": _("companion"), "returnee": _("returnee")}

COLUMNS = (
    Column("batch", HEADINGS["batch"]),
    Column("reference", HEADINGS["reference"]),
    Column("role", _("role")),
    Column("name_latin", HEADINGS["name_latin"]),
    Column("name_arabic", HEADINGS["name_arabic"]),
    Column("relationship", HEADINGS["relationship"]),
    Column("is_guardian", _("guardian")),
    Column("date_of_birth", _("date of birth")),
    Column("age", HEADINGS["age"]),
    Column("sex", HEADINGS["sex"]),
    Column("national_id", HEADINGS["national_id"]),
    Column("clearance", HEADINGS["clearance"]),
    Column("outcome", HEADINGS["outcome"]),
    Column("vehicle", HEADINGS["vehicle"]),
)
LAYOUT = {
    language: SheetLayout(
        right_to_left=language == "ar", rtl_columns=frozenset({"name_arabic"}), freeze_header=True
    )
    for language in ("en", "ar")
}


def manifest_row(manifest: Manifest, person: Person) -> dict[str, Any]:
    """One person as a row; a companion's reference is their patient's case reference."""
    companion = person.kind == "companion"
    return {
        "batch": manifest.batch.code,
        "reference": person.reference,
        "role": KINDS[person.kind],
        "name_latin": person.name_latin,
        "name_arabic": person.name_arabic,
        "relationship": person.relationship,
        "is_guardian": person.is_guardian if companion else None,
        "date_of_birth": person.date_of_birth,
        "age": person.age,
        "sex": person.sex,
        "national_id": person.national_id,
        "clearance": person.clearance_label,
        "outcome": person.outcome_label,
        "vehicle": person.vehicle,
    }


def manifest_export_response(*, batch: Batch, user, fmt: str) -> FileResponse:
    """The manifest of `batch` as `user` may see it, in the user's language, as a CSV or XLSX
    download (`fmt`); ValueError for an unknown format, and nothing logged then."""
    language = reader_language(user)
    # Headers and values (sex, clearance) in the reader's language, for the page and the API.
    with translation.override(language):
        manifest = build_manifest(batch=batch, user=user)
        return export_file_response(
            user=user,
            name=MANIFEST_EXPORT,
            columns=COLUMNS,
            rows=[manifest_row(manifest, person) for person in manifest.people],
            fmt=fmt,
            filters={"batch": batch.code},
            layout=LAYOUT[language],
            file_stem=f"{batch.code}-manifest",  # beside the PDF's "{code}.pdf"
            record_read=lambda rows: log_manifest_access(
                actor=user, manifest=manifest, document=f"manifest_{fmt}"
            ),
        )
