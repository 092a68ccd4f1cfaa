"""`python manage.py import_cases FILE --as USERNAME [--dry-run] [--update-fields ...]`: a list
of cases from a CSV or XLSX file, through the same import as the field screen."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from casetracker.accounts.roles import Role, user_role
from casetracker.audit.context import Channel, audit_context
from patients.imports.cases import REJECT, UPDATABLE, ImportResult, import_cases
from patients.imports.reading import where

# Who may import lists of cases: those who register cases for every facility.
IMPORTERS = (Role.COORDINATOR, Role.ADMIN)


def importer(username: str):
    """The active coordinator or admin named, as whom the command acts."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None or user_role(user) not in IMPORTERS:
        raise CommandError(f"{username!r} is not an active coordinator or admin")
    return user


def report_errors(result: ImportResult, console: Console) -> None:
    for error in result.errors():
        console.print(where(error.row, error.column) + error.message, markup=False)


class Command(BaseCommand):
    help = "Check (--dry-run) or import a list of cases from a CSV or XLSX file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--as", dest="username", required=True, help="coordinator or admin")
        parser.add_argument("--dry-run", action="store_true", help="check every row, save none")
        parser.add_argument(
            "--update-fields",
            nargs="+",
            default=[],
            choices=UPDATABLE,
            metavar="FIELD",
            help="fields of a case already held (same national ID) to update from the file; "
            f"without it such rows are refused as duplicates. One of: {', '.join(UPDATABLE)}",
        )

    def handle(self, *args, file: Path, username: str, dry_run: bool, update_fields, **options):
        actor = importer(username)
        if not file.is_file():
            raise CommandError(f"{file} is not a file")
        console = Console(file=self.stdout, stderr=False)
        with (
            Progress(
                TextColumn("rows"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stderr),
                transient=True,
            ) as bar,
            file.open("rb") as handle,
            audit_context(channel=Channel.COMMAND),
        ):
            task = bar.add_task("rows", total=None)
            result = import_cases(
                file=handle,
                name=file.name,
                actor=actor,
                dry_run=dry_run,
                update_fields=set(update_fields),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        counts = result.counts()
        console.print(
            f"{'dry run' if dry_run else 'import'}: {counts['create']} to create, "
            f"{counts['update']} to update, {counts['reject']} refused; "
            + ("saved." if result.applied else "nothing saved."),
            markup=False,
        )
        if result.refused is not None or counts[REJECT]:
            report_errors(result, Console(file=self.stderr))
            raise CommandError("the file was refused; nothing was saved")
