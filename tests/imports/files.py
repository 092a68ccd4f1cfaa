"""Spreadsheets built by the tests (good ones and a corpus of bad ones), and what the database
holds, to show that a refused import changed nothing."""

import csv
import hashlib
import io
import zipfile

from openpyxl import Workbook

from casetracker.audit.models import Action, Event
from patients.models import Companion, Patient, Readiness, ReadinessChange, Referral

HEADERS = [
    "name_latin",
    "name_arabic",
    "national_id",
    "date_of_birth",
    "sex",
    "phone",
    "facility",
    "priority",
    "clinical_category",
    "diagnosis",
    "needs_oxygen",
    "companion1_name_latin",
    "companion1_name_arabic",
    "companion1_national_id",
    "companion1_date_of_birth",
    "companion1_sex",
    "companion1_relationship",
    "companion1_is_guardian",
    "referral_number",
    "referral_specialty",
    "referral_referring_facility",
    "referral_destination_country",
    "referral_issued_on",
]


def case_row(n: int = 1, **cells) -> dict[str, str]:
    """A complete row: a patient with one companion and a referral."""
    row = {
        "name_latin": f"Amal Haddad {chr(64 + n)}",
        "name_arabic": "أمل حداد",
        "national_id": f"{900000000 + n}",
        "date_of_birth": "17/05/1980",
        "sex": "female",
        "phone": "+970599000000",
        "facility": "al-amal",
        "priority": "urgent",
        "clinical_category": "oncology",
        "diagnosis": "",
        "needs_oxygen": "yes",
        "companion1_name_latin": f"Omar Haddad {chr(64 + n)}",
        "companion1_name_arabic": "عمر حداد",
        "companion1_national_id": f"{800000000 + n}",
        "companion1_date_of_birth": "1975-01-02",
        "companion1_sex": "male",
        "companion1_relationship": "husband",
        "companion1_is_guardian": "no",
        "referral_number": f"REF-IMP-{n}",
        "referral_specialty": "oncology",
        "referral_referring_facility": "al-amal",
        "referral_destination_country": "Egypt",
        "referral_issued_on": "01/02/2026",
    }
    row.update(cells)
    return row


def csv_bytes(rows, headers=None, *, encoding: str = "utf-8-sig", delimiter: str = ",") -> bytes:
    headers = headers or HEADERS
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(h, "") for h in headers] if isinstance(row, dict) else row)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, headers=None) -> bytes:
    headers = headers or HEADERS
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append([row.get(h, "") for h in headers])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rewrite_part(xlsx: bytes, name: str, change) -> bytes:
    """The workbook with one part's XML changed by `change(text) -> text`."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == name:
                data = change(data.decode("utf-8")).encode("utf-8")
            target.writestr(item.filename, data)
    return out.getvalue()


def zip_bomb(unpacked: int) -> bytes:
    """A workbook-looking archive whose one part unpacks to `unpacked` bytes of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            block = b"\0" * (1024 * 1024)
            for _ in range(unpacked // len(block)):
                part.write(block)
    return out.getvalue()


def database_state() -> tuple:
    """Row counts and a checksum of every table an import writes, except the import events
    themselves (each import, refused or not, writes one)."""
    tables = {
        "patients": Patient.objects.values_list(),
        "companions": Companion.objects.values_list(),
        "referrals": Referral.objects.values_list(),
        "readiness": Readiness.objects.values_list(),
        "readiness_changes": ReadinessChange.objects.values_list(),
        "events": Event.objects.exclude(action=Action.IMPORT).values_list(),
    }
    counts = {name: rows.count() for name, rows in tables.items()}
    digest = hashlib.sha256()
    for name, rows in tables.items():
        digest.update(name.encode())
        for row in rows.order_by("pk"):
            digest.update(repr(row).encode())
    return counts, digest.hexdigest()


def import_events() -> list[Event]:
    return list(Event.objects.filter(action=Action.IMPORT).order_by("pk"))
