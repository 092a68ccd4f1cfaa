import getpass
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from casetracker.accounts.models import Facility
from casetracker.accounts.roles import GROUP_ROLES, Role
from casetracker.accounts.services import user_create
from casetracker.commands import command_error

ROLES = [role.value for role in (*GROUP_ROLES, Role.ADMIN)]


class Command(BaseCommand):
    help = "Create a staff account with one role (admin: a superuser)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--facility", help="facility code (required for hospital_staff)")
        parser.add_argument("--email", default="")
        parser.add_argument("--language", default="en", choices=["en", "ar"])
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )

    def handle(self, *args, **options):
        facility = None
        if options["facility"]:
            try:
                facility = Facility.objects.get(code=options["facility"])
            except Facility.DoesNotExist:
                raise CommandError(
                    f"facility: no facility with code {options['facility']!r}"
                ) from None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("password: the two passwords differ")
        if not password:
            raise CommandError("password: must not be empty")
        try:
            user = user_create(
                username=options["username"],
                password=password,
                role=Role(options["role"]),
                facility=facility,
                email=options["email"],
                preferred_language=options["language"],
            )
        except ValidationError as exc:
            raise command_error(exc) from exc
        self.stdout.write(self.style.SUCCESS(f"Created {user.username} ({options['role']})."))
