"""The checks of a new row (a patient, a companion, a referral): Django's `full_clean`, the same
for a service registering one row and for the bulk registration of a chunk of rows.

Most of `full_clean` runs in memory (field validators, choices, the model's `clean`). Three of
its checks ask the database, each with a query per row (and a savepoint around each check
constraint): that a foreign key's row exists, that a unique value is free, and the check
constraints. One at a time they run as Django runs them; for a chunk, `ChunkLookups` makes
the first two once for all its rows, and the bulk registration lets the database check the
constraints on insert, asking Django's own check (`constraint_error`) row by row only when the
insert is refused."""

from collections.abc import Sequence

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models


def _foreign_keys(model: type[models.Model]) -> list[models.ForeignKey]:
    return [f for f in model._meta.concrete_fields if f.many_to_one]


def _unique_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.unique and not f.primary_key]


def clean_new(instance: models.Model, *, batched: bool = False, parent: str = "") -> None:
    """`full_clean` of a row about to be inserted. `batched`: without the look-ups made for
    the whole chunk (`ChunkLookups`, and the constraints on insert); `parent`, the foreign key
    to a row inserted in the same chunk (not yet saved), is set when it is."""
    if not batched:
        instance.full_clean()
        return
    # A foreign key left empty is still refused here ("cannot be null"), with no query.
    exclude = [
        f.name
        for f in _foreign_keys(type(instance))
        if f.name == parent or getattr(instance, f.attname) is not None
    ]
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise Refused(exc, row=instance) from exc


class Refused(ValidationError):
    """A new row refused by the checks made in memory; `row`, for the look-ups of the fields
    that passed (`full_clean` makes them too, and reports all at once)."""

    def __init__(self, error: ValidationError, *, row: models.Model):
        super().__init__(error.error_dict if hasattr(error, "error_dict") else error.error_list)
        self.row = row


class ChunkLookups:
    """The foreign keys and unique values of a chunk of new rows, looked up once: which rows
    exist and which values are taken. Then `errors(row)` refuses a row as `full_clean` would,
    and `take(row)` marks the unique values of a row that will be inserted, so a later row of
    the chunk with the same value is refused as it would be once the first was saved."""

    def __init__(self, rows: Sequence[models.Model]):
        self.present: dict[tuple[type, str], set] = {}
        self.taken: dict[tuple[type, str], set] = {}
        for model in {type(row) for row in rows}:
            of_model = [row for row in rows if type(row) is model]
            for field in _foreign_keys(model):
                values = {getattr(row, field.attname) for row in of_model} - {None}
                target = field.remote_field.model._base_manager.complex_filter(
                    field.get_limit_choices_to()
                )
                name = field.remote_field.field_name
                self.present[(model, field.name)] = set(
                    target.filter(**{f"{name}__in": values}).values_list(name, flat=True)
                    if values
                    else ()
                )
            for field in _unique_fields(model):
                values = {getattr(row, field.attname) for row in of_model} - {None}
                self.taken[(model, field.name)] = set(
                    model._base_manager.filter(**{f"{field.attname}__in": values}).values_list(
                        field.attname, flat=True
                    )
                    if values
                    else ()
                )

    def errors(self, row: models.Model, *, failed: set[str] = frozenset()) -> dict[str, list]:
        """What `full_clean`'s look-ups refuse in `row`, by field; `failed`, the fields already
        refused, are not looked up (as `full_clean` skips them)."""
        model = type(row)
        found: dict[str, list] = {}
        for field in _foreign_keys(model):
            value = getattr(row, field.attname)
            if value is None or field.name in failed:
                continue
            if value not in self.present[(model, field.name)]:
                try:
                    field.validate(value, row)  # Django's own message (and a query, rare)
                except ValidationError as exc:
                    found.setdefault(field.name, []).extend(exc.error_list)
        for field in _unique_fields(model):
            value = getattr(row, field.attname)
            if value is None or field.name in failed:
                continue
            if value in self.taken[(model, field.name)]:
                found.setdefault(field.name, []).append(
                    row.unique_error_message(model, (field.name,))
                )
        return found

    def take(self, row: models.Model) -> None:
        for field in _unique_fields(type(row)):
            value = getattr(row, field.attname)
            if value is not None:
                self.taken[(type(row), field.name)].add(value)


def merged(first: ValidationError | None, more: dict[str, list]) -> ValidationError | None:
    """Two sets of refusals of one row as one `ValidationError` by field (None: no refusal)."""
    if not more:
        return first
    found: dict[str, list] = {}
    if first is not None:
        for name, errors in (
            first.error_dict if hasattr(first, "error_dict") else {NON_FIELD_ERRORS: first}
        ).items():
            found.setdefault(name, []).extend(
                errors.error_list if isinstance(errors, ValidationError) else errors
            )
    for name, errors in more.items():
        found.setdefault(name, []).extend(errors)
    return ValidationError(found)


def constraint_error(row: models.Model) -> ValidationError | None:
    """Django's own check of the row's constraints (a query per constraint)."""
    try:
        row.validate_constraints()
    except ValidationError as exc:
        return exc
    return None
