"""Writing many rows fast with PostgreSQL's COPY, fed with unsaved model instances: every value
goes through its field's own preparation, as a `save()` would write it (national IDs encrypted
and their keyed hashes computed by their fields, JSON adapted, `auto_now` times set)."""

from collections.abc import Iterable

from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Max, Model


class Ids:
    """Hands out the ids of the rows about to be copied, after those already in each table:
    rows point at each other (an event's notifications, a patient's companions) before any is
    written."""

    def __init__(self) -> None:
        self._next: dict[type[Model], int] = {}

    def prepare(self, *models: type[Model]) -> None:
        """Read where each table's ids start now: no query may run while a COPY is under way
        on the connection, and some ids are taken while their rows are being copied."""
        for model in models:
            if model not in self._next:
                self._next[model] = (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1

    def take(self, model: type[Model]) -> int:
        self.prepare(model)
        taken = self._next[model]
        self._next[model] = taken + 1
        return taken


def copy_instances(model: type[Model], instances: Iterable[Model]) -> int:
    """COPY the instances (ids already set) into the model's table; returns how many."""
    fields = model._meta.concrete_fields
    # The connection itself, not the `django.db.connection` proxy: each field of each row
    # asks for it.
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    count = 0
    with db.cursor() as cursor, cursor.copy(sql) as copy:
        for instance in instances:
            copy.write_row(
                [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]
            )
            count += 1
    return count


def reset_sequences(models: Iterable[type[Model]]) -> None:
    """Point each table's id sequence past the ids given by hand, so the application's own
    inserts carry on after them."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
