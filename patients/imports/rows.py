"""One row of a list of cases, from its cells to what `patient_register_with_family` takes.

Only the spelling is read here (dates day first, choices by value or name, yes/no, facility
codes, lengths); every rule of a case (a valid national ID, a date of birth not in the future,
a guardian who is an adult, a duplicate number) is the services' own, checked when they run."""

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from casetracker.accounts.models import Facility
from casetracker.exports import neutralise

from ..models import ClinicalCategory, Priority, Sex
from .reading import FileRefused
from .template import (
    CHOICE,
    COMPANION,
    DATE,
    FACILITY,
    FLAG,
    PATIENT,
    REFERRAL,
    ImportColumn,
    columns,
    fold_header,
    header_aliases,
    max_length,
)

_DAY_FIRST = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
# Arabic-Indic and Extended Arabic-Indic digits, as ASCII.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_YES = {"yes", "y", "true", "1", "x", "نعم"}
_NO = {"no", "n", "false", "0", "لا", ""}


@dataclass
class CellError:
    row: int
    column: str | None  # the header as the file spells it
    message: str


@dataclass
class ParsedRow:
    number: int
    patient: dict[str, Any] = field(default_factory=dict)
    # (slot, data): the companions filled in, in slot order
    companions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    referral: dict[str, Any] | None = None
    errors: list[CellError] = field(default_factory=list)


def _choices(*vocabularies) -> dict[str, dict[str, str]]:
    """Per field: folded value, English name and Arabic name -> value."""
    found: dict[str, dict[str, str]] = {}
    for name, choices in vocabularies:
        table = found.setdefault(name, {})
        for value, label in choices:
            table[fold_header(value)] = value
            for language in ("en", "ar"):
                with translation.override(language):
                    table[fold_header(str(label))] = value
    return found


class Layout:
    """The columns a file's header row names, and how to read each data row by them."""

    def __init__(self, headers: list[str], *, actor):
        aliases = header_aliases()
        self.at: dict[str, tuple[int, str]] = {}  # column key -> (index, header as written)
        unknown = []
        for index, header in enumerate(headers):
            if not header:
                continue
            column = aliases.get(fold_header(header))
            if column is None:
                unknown.append(header)
                continue
            if column.key in self.at:
                raise FileRefused(
                    _('the column "%(header)s" is given twice') % {"header": header},
                    row=1,
                    column=header,
                )
            self.at[column.key] = (index, header)
        if unknown:
            raise FileRefused(
                _("unknown columns: %(headers)s (see the template for the column names)")
                % {"headers": ", ".join(f'"{h}"' for h in unknown)},
                row=1,
            )
        missing = [
            c.english
            for c in columns()
            if c.part == PATIENT and c.required and c.key not in self.at
        ]
        if missing:
            raise FileRefused(
                _("required columns are missing: %(headers)s")
                % {"headers": ", ".join(f'"{h}"' for h in missing)},
                row=1,
            )
        self.all_columns = columns()
        self.columns = [c for c in self.all_columns if c.key in self.at]
        facilities = Facility.objects.visible_to(actor).filter(is_active=True)
        self.facilities = {fold_header(f.code): f for f in facilities}
        self.choices = _choices(
            ("sex", Sex.choices),
            ("priority", Priority.choices),
            ("clinical_category", ClinicalCategory.choices),
            ("contact_language", settings.LANGUAGES),
        )

    def header(self, column: ImportColumn) -> str:
        """The column's header as the file spells it (the template's, if the file lacks it)."""
        return self.at[column.key][1] if column.key in self.at else column.english

    def header_of(self, part: str, field: str, slot: int | None = None) -> str | None:
        """The header of a field of a part, as the services name it; None if no column holds
        it (a message about the row as a whole)."""
        for column in self.all_columns:
            if (column.part, column.field, column.slot) == (part, field, slot):
                return self.header(column)
        return None

    def parse(self, number: int, cells: list[Any]) -> ParsedRow:
        row = ParsedRow(number)
        parts: dict[tuple[str, int | None], dict[str, Any]] = {}
        for column in self.columns:
            index = self.at[column.key][0]
            raw = cells[index] if index < len(cells) else ""
            if raw in ("", None):
                continue
            try:
                value = self._value(column, raw)
            except ValueError as exc:
                row.errors.append(CellError(number, self.header(column), str(exc)))
                continue
            parts.setdefault((column.part, column.slot), {})[column.field] = value
        row.patient = parts.pop((PATIENT, None), {})
        row.referral = parts.pop((REFERRAL, None), None)
        row.companions = sorted((slot, data) for (_part, slot), data in parts.items())
        self._flags_default_to_no(row)
        self._required(row)
        return row

    def _flags_default_to_no(self, row: ParsedRow) -> None:
        # An empty yes/no cell is "no": the service then sets it as the form does.
        for column in self.columns:
            if column.kind != FLAG:
                continue
            if column.part == PATIENT:
                row.patient.setdefault(column.field, False)
            else:
                for slot, data in row.companions:
                    if slot == column.slot:
                        data.setdefault(column.field, False)

    def _required(self, row: ParsedRow) -> None:
        """A required cell left empty, in the patient's part or in a companion or referral
        begun on the row, named by its column (the file may lack the column altogether)."""
        present = {
            (PATIENT, None): row.patient,
            **{(COMPANION, slot): data for slot, data in row.companions},
        }
        if row.referral is not None:
            present[(REFERRAL, None)] = row.referral
        bad = {e.column for e in row.errors}
        for column in self.all_columns:
            data = present.get((column.part, column.slot))
            if data is None or not column.required or column.field in data:
                continue
            header = self.header(column)
            if header in bad:
                continue
            row.errors.append(CellError(row.number, header, _("this cell is required")))

    def _value(self, column: ImportColumn, raw: Any) -> Any:
        if column.kind == DATE:
            return parse_date(raw)
        text = exported_text(str(raw).strip())
        if (limit := max_length(column)) is not None and len(text) > limit:
            raise ValueError(
                _("at most %(limit)d characters, not %(length)s")
                % {"limit": limit, "length": f"{len(text):,}"}
            )
        if column.kind == CHOICE:
            value = self.choices[column.field].get(fold_header(text))
            if value is None:
                allowed = ", ".join(dict.fromkeys(self.choices[column.field].values()))
                raise ValueError(
                    _("%(value)r is not one of: %(allowed)s")
                    % {"value": text[:40], "allowed": allowed}
                )
            return value
        if column.kind == FLAG:
            folded = text.casefold()
            if folded in _YES:
                return True
            if folded in _NO:
                return False
            raise ValueError(_("write yes or no, not %(value)r") % {"value": text[:40]})
        if column.kind == FACILITY:
            facility = self.facilities.get(fold_header(text))
            if facility is None:
                raise ValueError(
                    _("no active facility has the code %(code)r") % {"code": text[:40]}
                )
            return facility
        return text


def exported_text(text: str) -> str:
    """A cell as it was before our exports neutralised it: they prefix `'` to a text a
    spreadsheet would run as a formula (a phone number "+970..." among them), so a list exported
    and imported again keeps "+970...". The text is stored as text, never run."""
    if text.startswith("'") and neutralise(text[1:]) == text:
        return text[1:]
    return text


def parse_date(raw: Any) -> dt.date:
    """A date from a spreadsheet's date cell, ISO text (2026-02-04) or day-first text
    (04/02/2026, 4.2.2026, 04-02-2026): the day always comes first, whatever the numbers."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = str(raw).strip().translate(_DIGITS)
    if match := _ISO.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DAY_FIRST.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise ValueError(
            _("%(value)r is not a date: write 04/02/2026 (day first) or 2026-02-04")
            % {"value": str(raw)[:40]}
        )
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(
            _("%(value)r is not a date (day %(day)d, month %(month)d)")
            % {"value": str(raw)[:40], "day": day, "month": month}
        ) from None
