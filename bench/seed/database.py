"""Which database the seed goes into, and what it holds: a seed is recorded in a table of its
own (`bench_seed`, outside the application's models), so a database holding anything else is
recognised and refused, and one seeded at the same scale is reused."""

from dataclasses import dataclass

import psycopg
from django.core.management import call_command
from django.db import connection, connections

from batches.models import Batch
from casetracker.accounts.models import User
from casetracker.audit.models import Event
from patients.models import Patient

# Raised when what the seed writes changes: a database seeded by an older version is seeded again.
SEED_VERSION = 1


class NotABenchDatabase(Exception):
    """The database holds rows no seed wrote."""


@dataclass(frozen=True)
class Seeded:
    scale: float
    version: int
    patients: int


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise NotABenchDatabase(
            "the benchmark seeds PostgreSQL (COPY): set DATABASE_URL to a PostgreSQL database"
        )


def seeded() -> Seeded | None:
    """The seed this database holds, if it holds one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_seed')")
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute("SELECT scale, version, patients FROM bench_seed ORDER BY seeded_at DESC")
        row = cursor.fetchone()
    return Seeded(*row) if row else None


def holds_rows() -> bool:
    return any(model.objects.exists() for model in (User, Patient, Batch, Event))


def is_reusable(scale: float, patients: int) -> bool:
    """Seeded by this version at this scale, and not emptied since (a flush leaves the mark)."""
    seed = seeded()
    return (
        seed is not None
        and (seed.scale, seed.version) == (scale, SEED_VERSION)
        and Patient.objects.count() == patients == seed.patients
    )


def check_empty_or_bench(*, reset: bool) -> bool:
    """Whether the database must be made anew before seeding. Refuses a database holding rows
    that no seed wrote, unless told to `reset` it."""
    if not holds_rows():
        return False
    if seeded() is None and not reset:
        name = connection.settings_dict["NAME"]
        raise NotABenchDatabase(
            f"database {name} holds data that the benchmark did not seed: give --reset to "
            "drop it and seed it anew, or point DATABASE_URL at another database"
        )
    return True


def recreate() -> None:
    """Drop the database and make it anew, migrated: nothing of the old one remains (rows,
    sequences, the audit log's heads and lanes)."""
    settings = connection.settings_dict
    name = settings["NAME"]
    connections.close_all()
    params = {
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as maintenance:
        quoted = psycopg.sql.Identifier(name)
        maintenance.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(quoted)
        )
        maintenance.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(quoted))
    call_command("migrate", interactive=False, verbosity=0)


def mark(scale: float, patients: int, counts: dict) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_seed (scale double precision NOT NULL, "
            "version integer NOT NULL, patients integer NOT NULL, counts jsonb NOT NULL, "
            "seeded_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute("DELETE FROM bench_seed")
        cursor.execute(
            "INSERT INTO bench_seed (scale, version, patients, counts) VALUES (%s, %s, %s, %s)",
            [scale, SEED_VERSION, patients, psycopg.types.json.Jsonb(counts)],
        )
