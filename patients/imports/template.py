"""The columns of a list of cases: one row per patient, with up to MAX_COMPANIONS_PER_PATIENT
companions and one referral, and the headers (English or Arabic) that name them.

The headers are a file format, not page text: they do not follow the catalogue, so a template
downloaded in Arabic today still imports after a translation changes. A header is matched after
folding case, spaces and punctuation away, so "Date of birth", "date_of_birth" and
"DATE OF BIRTH" are one column; the column's key (`companion1_name_latin`) is accepted too.

Dates are day first: 04/02/2026 is 4 February 2026, never 2 April; 2026-02-04 (ISO) is read as
written. Written down in `COLUMN_NOTES` and in the template's documentation."""

import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings

from casetracker.exports import Column, to_csv, to_xlsx

from ..fields import normalise_national_id
from ..models import Companion, Patient, Referral

PATIENT, COMPANION, REFERRAL = "patient", "companion", "referral"

# Kinds of cell: how the text of a cell becomes a value for the service.
TEXT, DATE, CHOICE, FLAG, FACILITY = "text", "date", "choice", "flag", "facility"


@dataclass(frozen=True)
class ImportColumn:
    key: str  # as written in the template's keys: "companion1_sex", "referral_number"
    part: str  # PATIENT, COMPANION or REFERRAL
    field: str  # the model field the service takes: "sex", "number"
    kind: str
    english: str
    arabic: str
    slot: int | None = None  # companion 1, 2...
    required: bool = False  # in a part that is present; a companion or referral is optional


# field, kind, English header, Arabic header, required
_PATIENT_COLUMNS = (
    ("name_latin", TEXT, "Full name (Latin)", "الاسم الكامل (لاتيني)", True),
    ("name_arabic", TEXT, "Full name (Arabic)", "الاسم الكامل (عربي)", True),
    ("national_id", TEXT, "National ID", "رقم الهوية", True),
    ("date_of_birth", DATE, "Date of birth", "تاريخ الميلاد", True),
    ("sex", CHOICE, "Sex", "الجنس", True),
    ("phone", TEXT, "Phone", "الهاتف", False),
    ("sms_consent", FLAG, "Agrees to SMS", "يوافق على الرسائل القصيرة", False),
    ("contact_language", CHOICE, "Language for SMS", "لغة الرسائل", False),
    ("facility", FACILITY, "Facility code", "رمز المنشأة", True),
    ("priority", CHOICE, "Priority", "الأولوية", True),
    ("clinical_category", CHOICE, "Clinical category", "الفئة السريرية", True),
    ("diagnosis", TEXT, "Diagnosis", "التشخيص", False),
    ("needs_stretcher", FLAG, "Needs stretcher", "يحتاج نقالة", False),
    ("needs_wheelchair", FLAG, "Needs wheelchair", "يحتاج كرسيا متحركا", False),
    ("needs_oxygen", FLAG, "Needs oxygen", "يحتاج أكسجين", False),
    ("needs_incubator", FLAG, "Needs incubator", "يحتاج حاضنة", False),
    ("needs_escort_nurse", FLAG, "Needs escort nurse", "يحتاج ممرضا مرافقا", False),
)
_COMPANION_COLUMNS = (
    ("name_latin", TEXT, "name (Latin)", "الاسم (لاتيني)", True),
    ("name_arabic", TEXT, "name (Arabic)", "الاسم (عربي)", True),
    ("national_id", TEXT, "national ID", "رقم الهوية", True),
    ("date_of_birth", DATE, "date of birth", "تاريخ الميلاد", True),
    ("sex", CHOICE, "sex", "الجنس", True),
    ("relationship", TEXT, "relationship", "صلة القرابة", True),
    ("is_guardian", FLAG, "is guardian", "ولي أمر", False),
)
_REFERRAL_COLUMNS = (
    ("number", TEXT, "Referral number", "رقم التحويلة", True),
    ("specialty", TEXT, "Referral specialty", "تخصص التحويلة", True),
    ("referring_facility", FACILITY, "Referring facility code", "رمز المنشأة المحيلة", True),
    ("destination_country", TEXT, "Destination country", "بلد الوجهة", True),
    ("destination_hospital", TEXT, "Destination hospital", "مستشفى الوجهة", False),
    ("issued_on", DATE, "Referral issued on", "تاريخ إصدار التحويلة", True),
    ("expires_on", DATE, "Referral expires on", "تاريخ انتهاء التحويلة", False),
)

MODELS = {PATIENT: Patient, COMPANION: Companion, REFERRAL: Referral}


def columns() -> list[ImportColumn]:
    """Every column of the template, in its order (companions as many as a patient may take)."""
    found = [
        ImportColumn(field, PATIENT, field, kind, english, arabic, required=required)
        for field, kind, english, arabic, required in _PATIENT_COLUMNS
    ]
    for slot in range(1, settings.MAX_COMPANIONS_PER_PATIENT + 1):
        found += [
            ImportColumn(
                f"companion{slot}_{field}",
                COMPANION,
                field,
                kind,
                f"Companion {slot} {english}",
                f"المرافق {slot} {arabic}",
                slot=slot,
                required=required,
            )
            for field, kind, english, arabic, required in _COMPANION_COLUMNS
        ]
    found += [
        ImportColumn(f"referral_{field}", REFERRAL, field, kind, english, arabic, required=required)
        for field, kind, english, arabic, required in _REFERRAL_COLUMNS
    ]
    return found


def fold_header(text: str) -> str:
    """What two spellings of one header share: letters and digits (Arabic ones included, Arabic
    digits as ASCII), case folded, Arabic tatweel and diacritics dropped."""
    text = normalise_national_id(unicodedata.normalize("NFKC", str(text))).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c) and c != "\u0640")
    return re.sub(r"[\W_]+", "", text)


def header_aliases() -> dict[str, ImportColumn]:
    """Folded header -> its column: the key, the English and the Arabic header of each."""
    aliases: dict[str, ImportColumn] = {}
    for column in columns():
        for spelling in (column.key, column.english, column.arabic):
            aliases[fold_header(spelling)] = column
    return aliases


def max_length(column: ImportColumn) -> int | None:
    """The longest text the model keeps in this column (None: not a text column)."""
    if column.kind != TEXT:
        return None
    return MODELS[column.part]._meta.get_field(column.field).max_length


COLUMN_NOTES = {
    DATE: "day first: 04/02/2026 is 4 February 2026; or 2026-02-04",
    CHOICE: "the value or its English or Arabic name",
    FLAG: "yes/no (نعم/لا), true/false or 1/0; empty is no",
    FACILITY: "the facility's code",
}


def template_columns(language: str = "en") -> list[Column]:
    """The header row of the template in English or Arabic, as export columns."""
    return [
        Column(key=column.key, label=column.arabic if language == "ar" else column.english)
        for column in columns()
    ]


def template_csv(language: str = "en") -> bytes:
    """The template as a CSV: the header row only (UTF-8 with a mark, as the exports)."""
    return to_csv(template_columns(language), [])


def template_xlsx(language: str = "en") -> bytes:
    """The template as an XLSX workbook: the header row only."""
    return to_xlsx(template_columns(language), [], title="cases")
