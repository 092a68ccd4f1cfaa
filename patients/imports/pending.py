"""An uploaded list kept between its dry run and its confirmation, so that the coordinator
confirms the very file that was checked without choosing it again, and nothing about it ever
reaches a URL but a random id.

The file, its name and the preview of the dry run (rows, names, error messages) are stored
compressed and encrypted (`PendingImport`); the confirmation decrypts the file, checks its
SHA-256 against the one the dry run saw and runs the import again from it. A pending import is
its uploader's alone, expires after PENDING_IMPORT_HOURS and is deleted once confirmed; the
expired ones are purged by the beat (`patients.tasks.purge_expired_imports`)."""

import hashlib
import json
import uuid
import zlib
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from casetracker import crypto

from ..models import PendingImport
from .cases import ImportResult
from .reading import open_table
from .template import PATIENT, fold_header, header_aliases


class PendingImportDamaged(Exception):
    """The stored file no longer decrypts or is not the file the dry run checked."""


def _seal(data: bytes) -> bytes:
    return crypto.encrypt_bytes(zlib.compress(data))


def _unseal(token: bytes) -> bytes:
    return zlib.decompress(crypto.decrypt_bytes(token))


def _seal_json(value: Any) -> bytes:
    return _seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


@transaction.atomic
def pending_create(
    *,
    actor,
    kind: str,
    name: str,
    content: bytes,
    sha256: str,
    preview: dict,
    update_fields: list[str] | tuple[str, ...] = (),
    batch_ref: str = "",
) -> PendingImport:
    """Keep an uploaded file and its dry run's preview for `actor` until it is confirmed or
    expires."""
    now = timezone.now()
    return PendingImport.objects.create(
        actor=actor,
        kind=kind,
        batch_ref=batch_ref,
        file_name=_seal(name.encode()),
        sha256=sha256,
        content=_seal(content),
        preview=_seal_json(preview),
        update_fields=sorted(update_fields),
        created_at=now,
        expires_at=now + timedelta(hours=settings.PENDING_IMPORT_HOURS),
    )


@transaction.atomic
def pending_update_preview(
    *, pending: PendingImport, preview: dict, update_fields: list[str] | tuple[str, ...] = ()
) -> None:
    """Replace the preview after another dry run (fields to update chosen, or a confirmation
    that was refused)."""
    pending.preview = _seal_json(preview)
    pending.update_fields = sorted(update_fields)
    pending.save(update_fields=["preview", "update_fields"])


@transaction.atomic
def pending_discard(*, pending: PendingImport) -> None:
    PendingImport.objects.filter(pk=pending.pk).delete()


def purge_expired() -> int:
    """Delete every pending import past its expiry; how many were deleted."""
    deleted, _ = PendingImport.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def own_pending(user, pk, *, kind: str, batch_ref: str = "") -> PendingImport | None:
    """The user's pending import of this kind (and batch), without its file; None for another
    user's, or one that does not exist."""
    if pk is None:
        return None
    return (
        PendingImport.objects.visible_to(user)
        .defer("content")
        .filter(pk=pk, kind=kind, batch_ref=batch_ref)
        .first()
    )


def with_content(pending: PendingImport) -> PendingImport:
    """The same pending import with its file loaded (lists are read without it)."""
    return PendingImport.objects.get(pk=pending.pk)


def is_expired(pending: PendingImport) -> bool:
    return pending.expires_at <= timezone.now()


def pending_file(pending: PendingImport) -> tuple[str, bytes]:
    """The file's name and content, as uploaded; refused if it is not the file checked."""
    try:
        name = _unseal(bytes(pending.file_name)).decode()
        content = _unseal(bytes(pending.content))
    except (crypto.DecryptionError, zlib.error) as exc:
        raise PendingImportDamaged from exc
    if hashlib.sha256(content).hexdigest() != pending.sha256:
        raise PendingImportDamaged
    return name, content


def pending_name(pending: PendingImport) -> str:
    try:
        return _unseal(bytes(pending.file_name)).decode()
    except (crypto.DecryptionError, zlib.error) as exc:
        raise PendingImportDamaged from exc


def pending_preview(pending: PendingImport) -> dict:
    try:
        return json.loads(_unseal(bytes(pending.preview)))
    except (crypto.DecryptionError, zlib.error, ValueError) as exc:
        raise PendingImportDamaged from exc


# --- The preview of a list of cases ---------------------------------------------------------


def row_names(file: IO[bytes], name: str) -> dict[int, tuple[str, str]]:
    """Row number -> the patient's names as the file gives them (Latin, Arabic), so that the
    preview says whose row it is. Read after a dry run that accepted the file."""
    table = open_table(file, name=name)
    aliases = header_aliases()
    at: dict[str, int] = {}
    for index, header in enumerate(table.headers):
        column = aliases.get(fold_header(header))
        if column is not None and column.part == PATIENT:
            at[column.field] = index

    def cell(cells: list, field: str) -> str:
        index = at.get(field)
        return str(cells[index])[:200] if index is not None and index < len(cells) else ""

    return {
        number: (cell(cells, "name_latin"), cell(cells, "name_arabic"))
        for number, cells in table.rows
    }


def case_preview(result: ImportResult, names: dict[int, tuple[str, str]]) -> dict:
    """What the preview page shows of a dry run (or of a refused confirmation), as JSON: the
    counts and, per row, its number, outcome, case reference, fields changed, errors
    (column, message) and names."""
    rows = []
    for row in result.rows:
        latin, arabic = names.get(row.row, ("", ""))
        errors = [[error.column or "", error.message] for error in row.errors]
        rows.append([row.row, row.outcome, row.reference, row.changed, errors, latin, arabic])
    return {"counts": result.counts(), "rows": rows}
