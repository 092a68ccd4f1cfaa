"""`python manage.py import_clearance FILE --batch CODE --as USERNAME [--dry-run]`: the cleared
list of a submitted batch from a CSV or XLSX file, recorded all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console

from batches.imports import import_clearance
from batches.models import Batch
from casetracker.audit.context import Channel, audit_context
from patients.imports.reading import where
from patients.management.commands.import_cases import importer


class Command(BaseCommand):
    help = "Check (--dry-run) or record the clearance list of a submitted batch."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--batch", dest="code", required=True, help="the batch's code")
        parser.add_argument("--as", dest="username", required=True, help="coordinator or admin")
        parser.add_argument("--dry-run", action="store_true", help="check every row, save none")

    def handle(self, *args, file: Path, code: str, username: str, dry_run: bool, **options):
        actor = importer(username)
        batch = Batch.objects.filter(code=code).first()
        if batch is None:
            raise CommandError(f"no batch {code!r}")
        if not file.is_file():
            raise CommandError(f"{file} is not a file")
        with file.open("rb") as handle, audit_context(channel=Channel.COMMAND):
            result = import_clearance(
                file=handle, name=file.name, batch=batch, actor=actor, dry_run=dry_run
            )
        out, err = Console(file=self.stdout), Console(file=self.stderr)
        decided = ", ".join(f"{count} {clearance}" for clearance, count in result.decided.items())
        out.print(
            f"{'dry run' if dry_run else 'clearance list'} for {batch.code}: "
            f"{decided or 'nothing decided'}; "
            + ("saved." if result.applied else "nothing saved."),
            markup=False,
        )
        if result.not_on_list:
            out.print(
                f"{len(result.not_on_list)} on the batch but not on the list (still pending): "
                + ", ".join(result.not_on_list),
                markup=False,
            )
        if result.errors:
            for error in result.errors:
                err.print(where(error.row, error.column) + error.message, markup=False)
            raise CommandError("the list was refused; nothing was saved")
