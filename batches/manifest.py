"""The printed manifest of a batch, or of one of its vehicles: what the crews, the staging
facility and the crossing sign. `build_manifest` gathers it once; the same object fills the PDF
(`batches/views/manifest.py`) and the browser's print of the batch page
(`templates/batches/_manifest_sheet.html`).

Who is on it:
- a batch before its crossing (draft to in transit): the open lines, the people who still travel;
- a crossed batch: every line that travelled (its crossing outcome recorded), with the outcome;
- a cancelled batch: the lines it carried when it was cancelled, marked cancelled.
People not cleared to travel, or removed, are not on it. Rows are what the reader may see
(`BatchMember.objects.visible_to`): hospital staff see the patients and companions of batches
staged at their facility, never returnees.

National ID numbers: printed in full for coordinators and admins, who organise the crossing and
hand the list to the border; masked to their last four digits for everyone else (the hospital
staff of the staging facility, auditors), enough to tell two people of the same name apart at
the ambulance door. `shows_full_national_id` is the one place that decides it. Every download
is written to the access log (`log_manifest_access`): who, which batch and vehicle, how many
people, and whether the numbers were full; never a name or a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from casetracker.audit.models import Action, Event, SubjectType
from casetracker.audit.services import record_access
from patients.access import Category, mask_national_id, shows_full_national_id
from patients.models import MOBILITY_NEEDS, Sex

from .models import (
    Batch,
    BatchMember,
    BatchStatus,
    Clearance,
    Direction,
    EndReason,
    Outcome,
    Vehicle,
    vehicle_name,
)
from .selectors import manifest_groups
from .services.vehicles import STRETCHER_NEEDS

_PERSON = ("name_latin", "name_arabic", "national_id", "date_of_birth", "sex")

# The columns the sheet shows, and no more: every row loaded decrypts a national ID.
_COLUMNS = (
    "id",
    "batch_id",
    "patient_id",
    "companion_id",
    "returnee_id",
    "is_open",
    "end_reason",
    "clearance",
    "outcome",
    "vehicle_id",
    "patient__case_reference",
    *(f"patient__{name}" for name in (*_PERSON, *MOBILITY_NEEDS)),
    "companion__patient_id",
    "companion__relationship",
    "companion__is_guardian",
    "companion__patient__case_reference",
    *(f"companion__{name}" for name in _PERSON),
    "returnee__reference",
    *(f"returnee__{name}" for name in _PERSON),
    "vehicle__number",
    "vehicle__kind",
    "vehicle__label",
)

# --- Bilingual labels -----------------------------------------------------------------------

# The other language of the sheet: every heading is printed in English and Arabic, the reader's
# language first. Values (sex, needs, clearance) follow the reader's language only.
SHEET_LANGUAGES = ("en", "ar")


def sheet_languages() -> list[str]:
    """The sheet's languages in display order: the reader's first."""
    current = translation.get_language() or "en"
    first = current if current in SHEET_LANGUAGES else "en"
    return [first, *(lang for lang in SHEET_LANGUAGES if lang != first)]


@dataclass(frozen=True)
class Bilingual:
    """Text in both languages of the sheet, the reader's first. In a template it renders as
    one span per language, each with its `lang` and `dir` (`str()` is that markup, safe)."""

    texts: tuple[tuple[str, str], ...]  # (language, text), in display order

    @classmethod
    def from_languages(cls, english: str, arabic: str) -> Bilingual:
        if arabic == english:  # Not translated (yet), or a name with one spelling: once.
            return cls((("en", english),))
        given = {"en": english, "ar": arabic}
        return cls(tuple((lang, given[lang]) for lang in sheet_languages() if given[lang]))

    @classmethod
    def of(cls, text) -> Bilingual:
        """A translatable text (a lazy string, a choice label) in each language."""
        return cls.from_languages(
            *(_in(lang, lambda: capfirst(str(text))) for lang in ("en", "ar"))
        )

    def __html__(self) -> SafeString:
        spans = format_html_join(
            " ",
            '<span lang="{}" dir="{}">{}</span>',
            ((lang, "rtl" if lang == "ar" else "ltr", text) for lang, text in self.texts),
        )
        return format_html('<span class="bi">{}</span>', spans)

    # Django's templates call str() before escaping: the markup, marked safe, goes through.
    __str__ = __html__


def _in(lang: str, make):
    with translation.override(lang):
        return make()


HEADINGS = {
    "title": _("Passenger manifest"),
    "vehicle_title": _("Vehicle manifest"),
    "batch": _("batch"),
    "crossing": _("crossing"),
    "direction": _("direction"),
    "planned_date": _("planned date"),
    "staging_facility": _("staging facility"),
    "vehicle": _("vehicle"),
    "vehicles": _("vehicles"),
    "printed": _("printed"),
    "patients": _("patients"),
    "companions": _("companions"),
    "returnees": _("returnees"),
    "people": _("people on this list"),
    "stretcher_places": _("stretcher places needed"),
    "number": pgettext_lazy("row number on a list", "no."),
    "reference": _("reference"),
    "name_latin": _("full name (Latin)"),
    "name_arabic": _("full name (Arabic)"),
    "sex": _("sex"),
    "age": _("age"),
    "national_id": _("national ID"),
    "masked": _("last 4 digits only"),
    "relationship": _("relationship"),
    "needs": _("mobility needs"),
    "clearance": _("clearance"),
    "outcome": _("outcome"),
    "present": _("present"),
    "signatures": _("signatures"),
    "staging_signature": _("handed over by the staging facility"),
    "crossing_signature": _("received at the crossing"),
    "signer_name": _("name"),
    "signature": _("signature"),
    "time": _("time"),
    "cancelled": _("This batch was cancelled: nobody on this list travels with it."),
    "nobody": _("Nobody on this list."),
}


class Headings(dict):
    """Every heading in both languages, built in one pass (`{{ m.t.batch }}`)."""

    def __init__(self):
        super().__init__({key: Bilingual.of(text) for key, text in HEADINGS.items()})


# Per reader's language: building them translates every heading twice (2 ms on each batch
# page), and the catalogues do not change while the process runs. Read only.
_HEADINGS: dict[str, Headings] = {}


def headings() -> Headings:
    language = translation.get_language() or "en"
    if language not in _HEADINGS:
        _HEADINGS[language] = Headings()
    return _HEADINGS[language]


# --- The manifest ---------------------------------------------------------------------------


@dataclass
class Person:
    """One row of the sheet."""

    line_id: int
    number: int  # 1, 2, ... down the sheet
    kind: str  # "patient", "companion" or "returnee"
    reference: str  # case reference (a companion: their patient's), returnee reference
    name_latin: str
    name_arabic: str
    sex: str
    age: int
    is_child: bool
    national_id: str
    relationship: str = ""
    is_guardian: bool = False
    needs: list[str] = field(default_factory=list)
    takes_stretcher: bool = False
    clearance: str = ""
    clearance_label: str = ""
    outcome: str = ""
    outcome_label: str = ""
    vehicle: str = ""
    date_of_birth: date | None = None  # the CSV/XLSX manifest's (batches/manifest_export.py)


@dataclass
class Group:
    """A patient and the companions who travel with them (or a returnee): one block of rows.
    On a vehicle's manifest a companion whose patient rides elsewhere heads a group alone."""

    people: list[Person]


@dataclass
class VehicleSummary:
    number: int
    name: str
    kind: str
    label: str
    seats: int
    stretchers: int
    people: int


@dataclass
class Manifest:
    batch: Batch
    vehicle: Vehicle | None
    groups: list[Group]
    full_ids: bool
    printed_at: datetime
    printed_by: str
    vehicles: list[VehicleSummary]
    t: Headings
    crossing: Bilingual
    direction: Bilingual
    staging_facility: Bilingual
    vehicle_name: Bilingual | None
    show_outcome: bool
    show_vehicle: bool
    cancelled: bool

    @property
    def people(self) -> list[Person]:
        return [person for group in self.groups for person in group.people]

    @property
    def counts(self) -> dict[str, int]:
        people = self.people
        return {
            "patients": sum(1 for p in people if p.kind == "patient"),
            "companions": sum(1 for p in people if p.kind == "companion"),
            "returnees": sum(1 for p in people if p.kind == "returnee"),
            "people": len(people),
            "stretcher_places": sum(1 for p in people if p.takes_stretcher),
        }

    @property
    def filename(self) -> str:
        suffix = f"-vehicle-{self.vehicle.number}" if self.vehicle else ""
        return f"{self.batch.code}{suffix}.pdf"


def _on_sheet(batch: Batch, vehicle: Vehicle | None) -> dict:
    """Who is on the manifest (see the module docstring), as values of a line's fields: a
    filter of the query, or a test of lines already read."""
    if batch.status == BatchStatus.CROSSED:
        wanted = {"end_reason": EndReason.COMPLETED}
    elif batch.status == BatchStatus.CANCELLED:
        wanted = {"end_reason": EndReason.CANCELLED}
    else:
        wanted = {"is_open": True}
    if vehicle is not None:
        wanted["vehicle_id"] = vehicle.pk
    return wanted


def manifest_lines(batch: Batch, user, vehicle: Vehicle | None = None):
    """The lines printed on the manifest (see the module docstring), as `user` may see them."""
    lines = BatchMember.objects.visible_to(user).filter(batch=batch, **_on_sheet(batch, vehicle))
    return (
        lines.select_related("patient", "companion__patient", "returnee", "vehicle")
        .only(*_COLUMNS)
        .order_by("id")
    )


def _person(line: BatchMember, day, full_ids: bool) -> Person:
    who = line.patient or line.companion or line.returnee
    national_id = who.national_id if full_ids else mask_national_id(who.national_id)
    age = who.age_on(day)
    person = Person(
        line_id=line.pk,
        number=0,
        kind=line.kind,
        reference="",
        name_latin=who.name_latin,
        name_arabic=who.name_arabic,
        sex=str(Sex(who.sex).label) if who.sex in Sex.values else who.sex,
        age=age,
        is_child=age < settings.ADULT_AGE,
        national_id=national_id,
        clearance=line.clearance,
        clearance_label=str(Clearance(line.clearance).label),
        outcome=line.outcome,
        outcome_label=str(Outcome(line.outcome).label) if line.outcome else "",
        vehicle=line.vehicle.name if line.vehicle_id else "",
        date_of_birth=who.date_of_birth,
    )
    if line.patient_id:
        person.reference = line.patient.case_reference
        person.needs = line.patient.mobility_needs()
        person.takes_stretcher = any(getattr(line.patient, n) for n in STRETCHER_NEEDS)
    elif line.companion_id:
        person.reference = line.companion.patient.case_reference
        person.relationship = line.companion.relationship
        person.is_guardian = line.companion.is_guardian
    else:
        person.reference = line.returnee.reference
    return person


def _groups(lines: list[BatchMember], day, full_ids: bool) -> list[Group]:
    """Each patient followed by their companions, in the order the patients joined the batch
    (the grouping of the batch page), numbered down the sheet."""
    groups = [
        Group(people=[_person(line, day, full_ids) for line in group.lines])
        for group in manifest_groups(lines)
    ]
    for number, person in enumerate((p for g in groups for p in g.people), start=1):
        person.number = number
    return groups


def _vehicles(fleet: list[Vehicle], lines: list[BatchMember]) -> list[VehicleSummary]:
    riding: dict[int, int] = {}
    for line in lines:
        if line.vehicle_id:
            riding[line.vehicle_id] = riding.get(line.vehicle_id, 0) + 1
    return [
        VehicleSummary(
            number=v.number,
            name=v.name,
            kind=v.kind,
            label=v.label,
            seats=v.seats,
            stretchers=v.stretchers,
            people=riding.get(v.pk, 0),
        )
        for v in fleet
    ]


def _bilingual_choice(choices, value) -> Bilingual:
    return Bilingual.of(choices(value).label) if value in choices.values else Bilingual.of(value)


def _vehicle_title(vehicle: Vehicle) -> Bilingual:
    """ "Ambulance 2 (PRCS-14)" in both languages; the call sign as it was typed."""
    suffix = f" ({vehicle.label})" if vehicle.label else ""
    return Bilingual.from_languages(
        *(
            _in(lang, lambda: vehicle_name(vehicle.kind, vehicle.number) + suffix)
            for lang in ("en", "ar")
        )
    )


def build_manifest(
    *,
    batch: Batch,
    user,
    vehicle: Vehicle | None = None,
    masked: bool = False,
    fleet: list[Vehicle] | None = None,
    lines: list[BatchMember] | None = None,
) -> Manifest:
    """The manifest of `batch` (or of one of its vehicles) as `user` may print it; `masked`
    prints only the last digits of ID numbers whoever the user is (the batch page's own print,
    which carries no full number: the PDF download does, and is logged as such). `fleet`: the
    batch's vehicles by number, and `lines`: every line of the batch the user may see
    (`batch_lines(..., sheet=True)`), when the caller has read them already."""
    full_ids = shows_full_national_id(user) and not masked
    if lines is None:
        lines = list(manifest_lines(batch, user, vehicle))
    else:
        wanted = _on_sheet(batch, vehicle).items()
        lines = [line for line in lines if all(getattr(line, k) == v for k, v in wanted)]
    facility = batch.staging_facility
    return Manifest(
        batch=batch,
        vehicle=vehicle,
        groups=_groups(lines, batch.planned_date, full_ids),
        full_ids=full_ids,
        printed_at=timezone.localtime(),
        printed_by=user.get_full_name() or user.get_username(),
        vehicles=[]
        if vehicle
        else _vehicles(fleet if fleet is not None else batch.vehicles.order_by("number"), lines),
        t=headings(),
        crossing=Bilingual.from_languages(batch.crossing.name_en, batch.crossing.name_ar),
        direction=_bilingual_choice(Direction, batch.direction),
        staging_facility=Bilingual.from_languages(facility.name_en, facility.name_ar),
        vehicle_name=_vehicle_title(vehicle) if vehicle else None,
        show_outcome=batch.status == BatchStatus.CROSSED,
        show_vehicle=vehicle is None and any(line.vehicle_id for line in lines),
        cancelled=batch.status == BatchStatus.CANCELLED,
    )


def log_manifest_access(*, actor, manifest: Manifest, document: str = "manifest") -> Event:
    """The access-log event of one printed manifest: who (added by `record_access`), which batch
    and vehicle, how many people, their references, and whether ID numbers were printed in
    full. Never a name or a number. Only auditors and admins see it. `document` names what
    showed it: "manifest" (the PDF), or e.g. "batch_page" for a page that embeds the sheet."""
    people = manifest.people
    details = {
        "category": Category.IDENTITY,
        "document": document,
        "vehicle": manifest.vehicle.number if manifest.vehicle else None,
        "rows": len(people),
        "national_id": "full" if manifest.full_ids else "last_4_digits",
        "results": sorted({p.reference for p in people}),
        "companions": sum(1 for p in people if p.kind == "companion"),
    }
    return record_access(
        subject_type=SubjectType.BATCH,
        subject_ref=manifest.batch.code,
        batch_ref=manifest.batch.code,
        subject_facility_id=manifest.batch.staging_facility_id,
        action=Action.VIEW,
        actor=actor,
        details=details,
    )
