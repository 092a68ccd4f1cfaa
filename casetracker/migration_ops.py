"""Operations the migrations share (README, "Upgrading the database").

- Changing the audit log's table without stopping the service: `audit_event` takes an insert
  on every transition and every audited read, so a migration must not hold it locked while
  PostgreSQL reads the whole table. An index is built `CONCURRENTLY` and a CHECK constraint is
  added `NOT VALID`, then validated in a transaction of its own (which lets inserts through).
  Both need a non-atomic migration (`atomic = False`). SQLite, the embedded database, has no
  such locks: the plain operations there.
- Refusing to go back once the newer code has written what the older schema would refuse or
  lose (`refuse_reversal`): the check runs first when a migration is reversed, and for
  `manage.py migrate` before any migration of the plan is reversed, so the database is never
  left half way back.
"""

from collections.abc import Callable

from django.core.management.base import CommandError
from django.db import NotSupportedError, migrations, transaction
from django.db.migrations.operations.base import Operation

# What a reversal check answers: the reasons it cannot go back, as sentences (none: it can).
ReversalCheck = Callable[..., list[str]]

FORWARD_ONLY = (
    "These migrations are forward-only once the new code has recorded anything "
    "(README, Upgrading the database): restore the backup taken before the upgrade instead."
)


class ReversalRefused(CommandError):
    """A migration cannot be reversed without losing or refusing what was recorded since."""


def _postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def _outside_transaction(schema_editor, what: str) -> None:
    if schema_editor.connection.in_atomic_block:
        raise NotSupportedError(f"{what} needs a non-atomic migration (atomic = False)")


class AddIndexConcurrently(migrations.AddIndex):
    """`AddIndex`, built with CREATE INDEX CONCURRENTLY on PostgreSQL (inserts and updates go on
    while it is built; the migration must be non-atomic) and plainly elsewhere. Should the build
    fail, PostgreSQL leaves an INVALID index of that name: drop it before running again."""

    def describe(self) -> str:
        return f"Create index {self.index.name} concurrently on {self.model_name}"

    def _options(self, schema_editor) -> dict:
        if not _postgresql(schema_editor):
            return {}
        _outside_transaction(schema_editor, "CREATE INDEX CONCURRENTLY")
        return {"concurrently": True}

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **self._options(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **self._options(schema_editor))


class ReplaceCheckConstraints(Operation):
    """Replace CHECK constraints of one model by new versions of the same names.

    On PostgreSQL each is dropped and added back `NOT VALID` in one short transaction (the
    table is locked for no longer than the catalogue change: no row is read), then validated in
    a transaction of its own, which reads the table under a lock that lets inserts and updates
    through. Adding a constraint plainly reads every row while holding the table locked against
    them all. The migration must be non-atomic. Elsewhere: drop and add."""

    reversible = True

    def __init__(self, model_name: str, constraints: list):
        self.model_name = model_name
        self.constraints = constraints

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def deconstruct(self):
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "constraints": self.constraints},
        )

    def describe(self) -> str:
        names = ", ".join(constraint.name for constraint in self.constraints)
        return f"Replace check constraints {names} on {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"replace_checks_{self.model_name_lower}"

    def state_forwards(self, app_label, state):
        for constraint in self.constraints:
            state.remove_constraint(app_label, self.model_name_lower, constraint.name)
            state.add_constraint(app_label, self.model_name_lower, constraint)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._replace(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._replace(app_label, schema_editor, from_state, to_state)

    def _replace(self, app_label, schema_editor, before, after):
        old_model = before.apps.get_model(app_label, self.model_name)
        new_model = after.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, new_model):
            return
        names = [constraint.name for constraint in self.constraints]
        old = {c.name: c for c in old_model._meta.constraints if c.name in names}
        new = {c.name: c for c in new_model._meta.constraints if c.name in names}
        if not _postgresql(schema_editor):
            for name in names:
                schema_editor.remove_constraint(old_model, old[name])
                schema_editor.add_constraint(new_model, new[name])
            return
        _outside_transaction(schema_editor, "VALIDATE CONSTRAINT in a transaction of its own")
        quote = schema_editor.quote_name
        table = quote(new_model._meta.db_table)
        with transaction.atomic(using=schema_editor.connection.alias):
            for name in names:
                schema_editor.execute(old[name].remove_sql(old_model, schema_editor))
                schema_editor.execute(f"{new[name].create_sql(new_model, schema_editor)} NOT VALID")
        for name in names:
            schema_editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {quote(name)}")


def refuse_reversal(migration: str, check: ReversalCheck) -> migrations.RunPython:
    """The last operation of a migration, so the first step of its reversal: `check(apps,
    using)` names what going back would refuse or lose (rows only the newer code writes); if
    anything, the reversal stops there with `ReversalRefused`, before anything is undone.
    `check_reversal_plan` runs the same checks before `manage.py migrate` reverses anything."""

    def refuse(apps, schema_editor):
        if problems := check(apps, schema_editor.connection.alias):
            raise ReversalRefused(f"{refusal(migration, problems)}\n{FORWARD_ONLY}")

    refuse.reversal_check = check
    refuse.migration = migration
    return migrations.RunPython(migrations.RunPython.noop, refuse, elidable=False)


def refusal(migration: str, problems: list[str]) -> str:
    return f"Cannot reverse {migration}: {'; '.join(problems)}."


def check_reversal_plan(sender, *, plan=None, apps=None, using="default", **kwargs) -> None:
    """`pre_migrate`: before `manage.py migrate` reverses anything, run the reversal check of
    every migration its plan reverses (on the state the database is in), and refuse the whole
    plan if one of them refuses: otherwise the migrations before the refused one would be
    reversed and the database left half way back."""
    if apps is None:
        from django.apps import apps
    refusals = []
    for migration, backwards in plan or []:
        if not backwards:
            continue
        for operation in migration.operations:
            refuse = getattr(operation, "reverse_code", None)
            check = getattr(refuse, "reversal_check", None)
            if check is not None and (problems := check(apps, using)):
                refusals.append(refusal(refuse.migration, problems))
    if refusals:
        raise ReversalRefused("\n".join([*refusals, FORWARD_ONLY]))
