"""`manage.py rotate_field_keys`: bring every stored national ID up to the current keys.

Each encrypted value not yet under the first key of FIELD_ENCRYPTION_KEYS is re-encrypted under
it (MultiFernet.rotate), and each lookup hash is recomputed under FIELD_HASH_KEY from the
decrypted value (so the old hash key is not needed for that; FIELD_HASH_KEY_PREVIOUS only keeps
searches working until the command has run). Rows already current are left alone: running it
twice changes nothing the second time. Works in batches, one transaction each, and reads and
writes the columns directly so the values never pass through the model.
"""

from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from casetracker import crypto
from patients.fields import normalise_national_id
from patients.models import Companion, Patient, Returnee

# Model, and the column that names a row in the report (the database id for companions).
TABLES = ((Patient, "case_reference"), (Companion, None), (Returnee, "reference"))


def _columns(model, reference: str | None) -> dict[str, str]:
    meta = model._meta
    return {
        "table": meta.db_table,
        "pk": meta.pk.column,
        "token": meta.get_field("national_id").column,
        "hash": meta.get_field("national_id_hash").column,
        "ref": meta.get_field(reference).column if reference else meta.pk.column,
    }


@dataclass
class Rotation:
    rows: int = 0
    reencrypted: int = 0
    rehashed: int = 0
    unreadable: list[str] = field(default_factory=list)  # references, never values


def rotate_table(model, reference: str | None, *, batch_size: int, dry_run: bool) -> Rotation:
    qn = connection.ops.quote_name
    c = {key: qn(value) for key, value in _columns(model, reference).items()}
    lock = " FOR UPDATE" if connection.features.has_select_for_update and not dry_run else ""
    # Identifiers come from the model's metadata, quoted; values are parameters.
    select = (
        f"SELECT {c['pk']}, {c['token']}, {c['hash']}, {c['ref']} FROM {c['table']} "  # noqa: S608
        f"WHERE {c['pk']} > %s ORDER BY {c['pk']} LIMIT %s{lock}"
    )
    update = f"UPDATE {c['table']} SET {c['token']} = %s, {c['hash']} = %s WHERE {c['pk']} = %s"  # noqa: S608
    result = Rotation()
    last = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select, [last, batch_size])
            rows = cursor.fetchall()
            for pk, token, digest, ref in rows:
                result.rows += 1
                try:
                    number = normalise_national_id(crypto.decrypt(token))
                except crypto.DecryptionError:
                    result.unreadable.append(str(ref) if reference else f"companion #{ref}")
                    continue
                new_token = token if crypto.is_current(token) else crypto.rotate(token)
                new_digest = crypto.keyed_hash(number)
                result.reencrypted += new_token != token
                result.rehashed += new_digest != digest
                if not dry_run and (new_token, new_digest) != (token, digest):
                    cursor.execute(update, [new_token, new_digest, pk])
        if not rows:
            break
        last = rows[-1][0]
    return result


class Command(BaseCommand):
    help = (
        "Re-encrypt every national ID under the first FIELD_ENCRYPTION_KEYS key and recompute "
        "every lookup hash under FIELD_HASH_KEY. Safe to run again; --check only counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--check", action="store_true", help="count what would change; write nothing"
        )

    def handle(self, *args, batch_size: int, check: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        unreadable_total = 0
        for model, reference in TABLES:
            done = rotate_table(model, reference, batch_size=batch_size, dry_run=check)
            self.stdout.write(
                f"{model._meta.verbose_name_plural}: {done.rows} rows, "
                f"{done.reencrypted} {'to re-encrypt' if check else 're-encrypted'}, "
                f"{done.rehashed} hashes {'to recompute' if check else 'recomputed'}, "
                f"{len(done.unreadable)} unreadable"
            )
            if done.unreadable:
                more = len(done.unreadable) - 20
                names = ", ".join(done.unreadable[:20]) + (f" and {more} more" if more > 0 else "")
                self.stderr.write(f"  unreadable {model._meta.verbose_name_plural}: {names}")
            unreadable_total += len(done.unreadable)
        if unreadable_total:
            raise CommandError(
                f"{unreadable_total} national IDs could not be decrypted with any key in "
                "FIELD_ENCRYPTION_KEYS: add the key they were encrypted with and run again"
            )
        self.stdout.write(self.style.SUCCESS("Done." if not check else "Nothing written."))
