"""Weighs the field pages on a running server, signed in as the demo accounts (`make weight`)."""

import json

from django.core.management.base import BaseCommand, CommandError

from casetracker import weight

from ...demo import ACCOUNTS


class Command(BaseCommand):
    help = "Bytes on the wire of each field page, cold and warm, against the budgets."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000/")
        parser.add_argument("--json", help="also write the figures to this file")

    def handle(self, *args, base_url, json: str | None = None, **options):
        passwords = {username: password for username, _r, _f, _l, password in ACCOUNTS}
        weights = weight.walk(base_url, passwords)
        self.stdout.write(weight.table(weights))
        if json:
            self._write(json, weights)
        over = [w.name for w in weights if not w.within_budget]
        if over:
            raise CommandError(f"over budget: {', '.join(over)}")

    @staticmethod
    def _write(path: str, weights) -> None:
        rows = [
            {
                "page": w.name,
                "url": w.url,
                "cold_bytes": w.cold,
                "warm_bytes": w.warm,
                "requests_cold": w.requests_cold,
                "requests_warm": w.requests_warm,
            }
            for w in weights
        ]
        with open(path, "w") as out:
            json.dump(rows, out, indent=2)
