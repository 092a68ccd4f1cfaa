from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from casetracker.db_roles import (
    grant_statements,
    privilege_problems,
    role_problems,
    tables_owner,
)


class Command(BaseCommand):
    help = (
        "The privileges of the application's PostgreSQL role: read and write the data, read "
        "and append to the audit log, never change or remove it. Prints the SQL; --apply runs "
        "it (connected as the owner of the tables), --check verifies the role. Run it again "
        "after every migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--app-role",
            required=True,
            help="the role the web processes and the workers connect as (not the owner)",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--apply", action="store_true", help="run the statements, then check the role"
        )
        mode.add_argument(
            "--check",
            action="store_true",
            help="exit non-zero if the role may change or remove the audit log, or lacks a "
            "privilege the application needs",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, app_role: str, apply: bool, check: bool, database: str, **options):
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError(
                f"database roles are PostgreSQL's; this database is {connection.vendor}"
            )
        with connection.cursor() as cursor:
            try:
                owner, schema = tables_owner(cursor)
            except LookupError as exc:
                raise CommandError(str(exc)) from None
            problems = role_problems(cursor, app_role=app_role, owner=owner)
        statements = grant_statements(
            app_role=app_role,
            owner=owner,
            database=connection.settings_dict["NAME"],
            schema=schema,
        )
        if not (apply or check):
            for problem in problems:
                self.stderr.write(f"-- warning: {problem}")
            self.stdout.write("\n".join(["BEGIN;", *(f"{s};" for s in statements), "COMMIT;"]))
            return
        if problems:
            raise CommandError("; ".join(problems))
        if apply:
            with transaction.atomic(using=database), connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        with connection.cursor() as cursor:
            problems = privilege_problems(cursor, app_role=app_role, schema=schema)
        if problems:
            raise CommandError("; ".join(problems))
        done = "Applied: " if apply else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{done}{app_role} reads and appends to the audit log and cannot change or "
                f"remove it; {owner} owns the tables."
            )
        )
