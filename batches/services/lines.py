"""Naming the lines of a batch in a bulk request: by line id, or by the person on the line, so a
coordinator can record the list that came back from the border (which names people, not our
line numbers) without fetching the line ids first."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..models import Batch, BatchMember


@dataclass(frozen=True)
class LineKey:
    """A line named by `member` (its id), by `person` (the case reference of a patient or the
    reference of a returnee) or by `companion` (the companion's id: companions have no
    reference of their own). A bare `int` in a service's mapping is a line id."""

    kind: str  # "member", "person" or "companion"
    value: int | str

    KINDS = ("member", "person", "companion")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(self.kind)
        if self.kind == "person":
            # References are upper case; what was typed from a printed list may not be.
            object.__setattr__(self, "value", str(self.value).strip().upper())

    def __str__(self) -> str:
        if self.kind == "member":
            return _("line %(line)s") % {"line": self.value}
        if self.kind == "companion":
            return _("companion #%(number)s") % {"number": self.value}
        return str(self.value)

    def matches(self, line: BatchMember) -> bool:
        if self.kind == "member":
            return line.pk == self.value
        if self.kind == "companion":
            return line.companion_id == self.value
        if line.patient_id:
            return line.patient.case_reference == self.value
        return bool(line.returnee_id) and line.returnee.reference == self.value


def as_key(key: "int | LineKey") -> LineKey:
    return key if isinstance(key, LineKey) else LineKey("member", key)


def resolve_lines(
    batch: Batch,
    keys: Iterable["int | LineKey"],
    lines: Iterable[BatchMember],
    *,
    on_board: bool = False,
) -> tuple[dict, list[str]]:
    """The line each key names among `lines` (read with their patient, companion and
    returnee), and a message for every key that names none of them ("not on board" when
    `lines` are the people travelling) and for every line named twice."""
    lines = list(lines)
    found: dict = {}
    problems: list[str] = []
    taken: dict[int, LineKey] = {}
    for key in keys:
        wanted = as_key(key)
        # An open line first: a person can have an older, closed line on the same batch.
        match = sorted(
            (line for line in lines if wanted.matches(line)), key=lambda line: not line.is_open
        )
        if not match:
            if on_board:
                message = _("%(who)s is not on board batch %(code)s")
            else:
                message = _("%(who)s is not on batch %(code)s")
            problems.append(message % {"who": wanted, "code": batch.code})
            continue
        line = match[0]
        if line.pk in taken:
            problems.append(
                _("%(who)s is listed twice (also as %(other)s)")
                % {"who": line.label, "other": taken[line.pk]}
                if taken[line.pk] != wanted
                else _("%(who)s is listed twice") % {"who": line.label}
            )
            continue
        taken[line.pk] = wanted
        found[key] = line
    return found, problems
