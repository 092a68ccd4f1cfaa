"""The privileges of the application's database role, on PostgreSQL (README "Production").

The role that runs the migrations owns the tables. The web processes and the workers connect as
another role, which reads and writes the data but cannot rewrite the audit log: on the audit
tables it may read and append, and update only what the application itself updates (the heads
of the chains, a redaction), never DELETE or TRUNCATE. The triggers of audit/0002 and
audit/0010 refuse such changes to every role, but a table's owner may switch its triggers off,
and TRUNCATE passes them; a role that owns nothing and holds no such privilege cannot do
either. `manage.py db_roles` prints, applies or checks these privileges."""

from dataclasses import dataclass

from django.apps import apps

# What the application updates in the audit tables, beyond appending rows: the heads of the
# chains move with every event, and a redaction blanks a kept text (which the trigger of
# audit/0010 allows in one way only). The role may update their columns but the key. Every
# other audit table, and any added later, is append-only for it.
UPDATED_BY_THE_APPLICATION = {
    "audit.ChainHead": "the main chain's head moves with every event",
    "audit.AccessLane": "an access lane's head moves with every read chained in it",
    "audit.EventText": "a redaction blanks a text, with who, when and its event",
}

# On every table of the application (the audit tables then lose UPDATE and DELETE).
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
# nextval() and currval(), never setval(): ids are not moved back.
SEQUENCE_PRIVILEGES = "USAGE, SELECT"


@dataclass(frozen=True)
class AuditTable:
    name: str
    key: str
    # The columns the application updates; empty: the table is append-only for it.
    updated: tuple[str, ...] = ()


def audit_tables() -> list[AuditTable]:
    """The audit app's tables, read from its models, so a table added later is append-only
    for the application's role unless it is named in `UPDATED_BY_THE_APPLICATION`."""
    tables = []
    for model in apps.get_app_config("audit").get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        updated: tuple[str, ...] = ()
        if meta.label in UPDATED_BY_THE_APPLICATION:
            updated = tuple(f.column for f in meta.concrete_fields if not f.primary_key)
        tables.append(AuditTable(name=meta.db_table, key=meta.pk.column, updated=updated))
    return sorted(tables, key=lambda table: table.name)


def quoted(identifier: str) -> str:
    """A PostgreSQL identifier, quoted: any role name is taken as it is written, case included."""
    if not identifier or "\x00" in identifier:
        raise ValueError(f"not a usable identifier: {identifier!r}")
    return '"' + identifier.replace('"', '""') + '"'


def grant_statements(*, app_role: str, owner: str, database: str, schema: str) -> list[str]:
    """The statements, in order, that give `app_role` its privileges and no more, whatever it
    held before (they start by revoking everything on the tables): running them again changes
    nothing. Run them in one transaction, as the owner of the tables (or a superuser)."""
    role, where = quoted(app_role), quoted(schema)
    statements = [
        f"GRANT CONNECT ON DATABASE {quoted(database)} TO {role}",
        f"GRANT USAGE ON SCHEMA {where} TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {role}",
        f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {where} TO {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {role}",
        f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {where} TO {role}",
        # Tables of later migrations (created by the owner) get the same at once, so an upgrade
        # does not stop the application; an audit table among them is append-only only once
        # this runs again (README: after every migrate; `--check` says whether it is due).
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quoted(owner)} IN SCHEMA {where} "
        f"GRANT {TABLE_PRIVILEGES} ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quoted(owner)} IN SCHEMA {where} "
        f"GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {role}",
    ]
    for table in audit_tables():
        name = f"{where}.{quoted(table.name)}"
        statements.append(f"REVOKE UPDATE, DELETE ON {name} FROM {role}")
        if table.updated:
            columns = ", ".join(quoted(column) for column in table.updated)
            statements.append(f"GRANT UPDATE ({columns}) ON {name} TO {role}")
    return statements


def tables_owner(cursor) -> tuple[str, str]:
    """The owner of the audit event table (the role that ran the migrations) and its schema."""
    cursor.execute(
        "SELECT pg_get_userbyid(c.relowner), n.nspname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass('audit_event')"
    )
    row = cursor.fetchone()
    if row is None:
        raise LookupError("there is no audit_event table here: run `manage.py migrate` first")
    return row[0], row[1]


def role_problems(cursor, *, app_role: str, owner: str) -> list[str]:
    """Why `app_role` cannot be held to its privileges at all: it does not exist, is a
    superuser (every check passes for it) or may act as the owner of the tables."""
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [app_role])
    row = cursor.fetchone()
    if row is None:
        return [
            f"there is no role {app_role}: create it first "
            f"(CREATE ROLE {quoted(app_role)} LOGIN PASSWORD '...')"
        ]
    if row[0]:
        return [f"{app_role} is a superuser: no privilege holds it back"]
    cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [app_role, owner])
    if cursor.fetchone()[0]:
        return [
            f"{app_role} is {owner}, or a member of it, the owner of the tables: "
            "it may switch their triggers off; connect the application as another role"
        ]
    return []


def privilege_problems(cursor, *, app_role: str, schema: str) -> list[str]:
    """What `app_role` may do to the audit tables beyond reading, appending and the updates
    the application makes, and what it lacks of those (the application would fail)."""
    problems = []
    for table in audit_tables():
        name = f"{quoted(schema)}.{quoted(table.name)}"
        cursor.execute(
            "SELECT has_table_privilege(%(role)s, %(table)s, 'SELECT'), "
            "has_table_privilege(%(role)s, %(table)s, 'INSERT'), "
            "has_table_privilege(%(role)s, %(table)s, 'DELETE'), "
            "has_table_privilege(%(role)s, %(table)s, 'TRUNCATE'), "
            "has_any_column_privilege(%(role)s, %(table)s, 'UPDATE'), "
            "has_column_privilege(%(role)s, %(table)s, %(key)s, 'UPDATE')",
            {"role": app_role, "table": name, "key": table.key},
        )
        select, insert, delete, truncate, update_any, update_key = cursor.fetchone()
        lacks = [what for what, held in (("SELECT", select), ("INSERT", insert)) if not held]
        excess = [what for what, held in (("DELETE", delete), ("TRUNCATE", truncate)) if held]
        if table.updated:
            if update_key:
                excess.append(f"UPDATE of {table.key}")
            for column in table.updated:
                cursor.execute(
                    "SELECT has_column_privilege(%s, %s, %s, 'UPDATE')", [app_role, name, column]
                )
                if not cursor.fetchone()[0]:
                    lacks.append(f"UPDATE of {column}")
        elif update_any:
            excess.append("UPDATE")
        if excess:
            problems.append(f"{table.name}: {app_role} may {', '.join(excess)}")
        if lacks:
            problems.append(f"{table.name}: {app_role} lacks {', '.join(lacks)}")
    return problems
