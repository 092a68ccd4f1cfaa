"""One benchmark run against the seeded database: the servers started, every endpoint's queries
counted, the load in rounds (real and bare interleaved), the worst endpoints profiled, the
write timed and the pages weighed; the servers stopped at the end."""

import json
import tempfile
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client as TestClient

from batches.demo import ACCOUNTS, ADMIN
from casetracker import weight
from casetracker.accounts.sessions import issue_api_token

from . import imports, inprocess, profile, servers, writes
from .load import Client, Window, run_window
from .targets import targets

READERS = ("coordinator", "auditor")


class Session:
    def __init__(self, args, env: dict[str, str]):
        self.args, self.env = args, env
        self.processes = servers.Processes(env)
        self.receiver = None

    def say(self, message: str) -> None:
        print(f"bench: {message}", flush=True)

    def run(self) -> dict:
        args = self.args
        self.receiver = servers.start_receiver(args.port + 2)
        writes.subscribe_receiver(args.port + 2)
        command, described = servers.gunicorn_command(
            args.port, args.workers, args.worker_class, args.threads
        )
        self.gunicorn = self.processes.start("gunicorn", command)
        worker = [servers.python(), "-m", "celery", "-A", "casetracker", "worker"]
        self.processes.start("worker", [*worker, "--loglevel", "WARNING"])
        servers.wait_http(args.port, "/healthz")
        servers.wait_worker(self.env)
        self.say(f"serving: {described}")
        users = {u.username: u for u in get_user_model().objects.filter(username__in=READERS)}
        tokens = {name: issue_api_token(users[name]).key for name in READERS}
        clients = self._test_clients(users, tokens)
        chosen = [t for t in targets() if args.only.lower() in t.name.lower()]
        headers = self._headers(users, tokens)
        rows = []
        for target in chosen:
            self.say(f"counting the queries of {target.name}")
            rows.append(
                {
                    "name": target.name,
                    "kind": target.kind,
                    "sql": inprocess.count_queries(target, clients),
                }
            )
        connection.close()
        windows = self._load(chosen, headers)
        for row, target in zip(rows, chosen, strict=True):
            real, bare = windows[target.name]
            row["real"] = real.summary()
            row["bare"] = bare.summary() if target.bare else None
            row["ratio"] = round(real.rps / bare.rps, 3) if target.bare and bare.rps else None
        result = {
            "about": {
                "server": described,
                "worker": " ".join(worker[2:]),
                "clients": args.clients,
                "rounds": args.rounds,
                "window_s": args.window,
                "postgresql": f"{connection.pg_version // 10000}.{connection.pg_version % 10000}",
                "rows": self._rows(),
            },
            "endpoints": rows,
            "profiles": self._profiles(chosen, rows, headers),
        }
        result["writes"] = [
            writes.prepare_and_cancel(Client("127.0.0.1", args.port, self._auth(tokens)))
            for _ in range(1 if args.quick else 2)
        ]
        self.say("timing an import of cases")
        result["imports"] = imports.import_speed((100,) if args.quick else (1_000, 20_000))
        result["page_weights"] = self._weights()
        return result

    def stop(self) -> None:
        self.processes.stop()
        if self.receiver is not None:
            self.receiver.shutdown()

    # --- credentials ------------------------------------------------------------------------

    @staticmethod
    def _auth(tokens: dict[str, str], user: str = "coordinator") -> dict[str, str]:
        return {"Authorization": f"Token {tokens[user]}", "Accept-Language": "en"}

    @staticmethod
    def _test_clients(users, tokens) -> dict[str, TestClient]:
        clients = {}
        for name, user in users.items():
            client = TestClient(HTTP_AUTHORIZATION=f"Token {tokens[name]}")
            client.force_login(user)
            clients[name] = client
        return clients

    def _headers(self, users, tokens) -> dict[tuple[str, bool], list[dict[str, str]]]:
        """Per (user, signed in with a session): one set of headers per client. Each client of
        the pages has a session of its own, as each coordinator would."""
        headers = {}
        for name in READERS:
            headers[(name, False)] = [self._auth(tokens, name)] * self.args.clients
            sessions = []
            for _ in range(self.args.clients):
                client = TestClient()
                client.force_login(users[name])
                cookie = client.cookies["sessionid"].value
                sessions.append({"Cookie": f"sessionid={cookie}", "Accept-Language": "en"})
            headers[(name, True)] = sessions
        return headers

    # --- load -------------------------------------------------------------------------------

    def _load(self, chosen, headers) -> dict[str, tuple[Window, Window]]:
        args = self.args
        windows = {t.name: (Window(), Window()) for t in chosen}
        self.say("warming up the workers")
        for target in chosen:
            for paths in (target.real, target.bare):
                if paths:
                    run_window(args.port, paths, headers[(target.user, target.session)], 0.3)
        for number in range(1, args.rounds + 1):
            for target in chosen:
                self.processes.check()
                own = headers[(target.user, target.session)]
                real, bare = windows[target.name]
                real.add(run_window(args.port, target.real, own, args.window))
                if target.bare:
                    bare.add(run_window(args.port, target.bare, own, args.window))
                self.say(
                    f"round {number}/{args.rounds} {target.name}: {real.rps:.1f} req/s"
                    + (f", bare {bare.rps:.1f}" if target.bare else "")
                )
        return windows

    def _profiles(self, chosen, rows, headers) -> dict:
        if not self.args.profile or profile.available() is None:
            return {}

        # The endpoints furthest behind their bare view, and the slowest of all.
        paired = sorted((r for r in rows if r["ratio"] is not None), key=lambda r: r["ratio"])
        worst = paired[: self.args.profile]
        slowest = max(rows, key=lambda r: r["real"]["p50_ms"] or 0)
        if slowest not in worst:
            worst.append(slowest)
        by_name = {t.name: t for t in chosen}
        profiles = {}
        seconds = max(10, int(self.args.window * 2))
        for row in worst:
            target = by_name[row["name"]]
            self.say(f"profiling {target.name} for {seconds} s")
            raw = Path(tempfile.mkdtemp()) / "profile.txt"
            spy = profile.start(self.gunicorn.pid, raw, seconds)
            time.sleep(1)
            run_window(
                self.args.port, target.real, headers[(target.user, target.session)], seconds - 2
            )
            spy.wait(timeout=120)
            profiles[target.name] = profile.summary(raw)
        return profiles

    # --- the rest ---------------------------------------------------------------------------

    @staticmethod
    def _rows() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT counts FROM bench_seed ORDER BY seeded_at DESC LIMIT 1")
            row = cursor.fetchone()
        if not row:
            return {}
        # jsonb comes back as text from Django's cursor.
        return json.loads(row[0]) if isinstance(row[0], str) else row[0]

    def _weights(self) -> str:
        passwords = {name: password for name, _r, _f, _l, password in ACCOUNTS}
        passwords[ADMIN[0]] = ADMIN[1]
        try:
            weighed = weight.walk(f"http://127.0.0.1:{self.args.port}/", passwords)
        except Exception as exc:
            return f"not measured: {exc}"
        return weight.table(weighed)
