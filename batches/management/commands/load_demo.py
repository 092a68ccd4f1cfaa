from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from batches.demo import load_demo
from casetracker.audit.context import Channel, audit_context


class Command(BaseCommand):
    help = "Load the demo scenario (once) and print the demo accounts."

    def handle(self, *args, **options):
        # The demo's notifications go to the inboxes; its emails are not printed one by one.
        with (
            audit_context(channel=Channel.COMMAND),
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
        ):
            result = load_demo()
        if result.created:
            self.stdout.write(self.style.SUCCESS("Demo scenario loaded."))
        else:
            self.stdout.write("Demo scenario already loaded.")
        self.stdout.write(
            "\nDemo accounts (for this demo only; the admin and API sign-in use them):"
        )
        for username, role, password in result.accounts:
            self.stdout.write(f"  {username:<16} {role:<15} {password}")
        self.stdout.write("\nOpen http://127.0.0.1:8000/ (admin: /admin/, API docs: /api/docs/)\n")
