"""`make bench` (scripts/bench): seed, serve as production does, load, measure, write the results.

The database and the broker are the benchmark's own: BENCH_DATABASE_URL (default: the local
PostgreSQL's `casetracker_bench`) and BENCH_REDIS_URL (default: the local Redis, database 2);
DATABASE_URL and REDIS_URL are not used, so a developer's own database is never touched (and
the seed refuses a database it did not make). Servers listen on 127.0.0.1 only, from BENCH_PORT
(default 8101: the application; +2: the stand-in SMS provider and webhook receiver)."""

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from . import servers
from .report import RESULTS

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/casetracker_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/2"


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=float(os.environ.get("SCALE") or 1.0))
    parser.add_argument(
        "--quick",
        action="store_true",
        default=bool(os.environ.get("QUICK")),
        help="one short round per endpoint, one write, no profile (a shake-out)",
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--window", type=float, help="seconds of load per endpoint and round")
    parser.add_argument("--workers", type=int, default=4)
    # As casetracker/gunicorn.conf.py serves production: threads, not sync workers.
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=4, help="per process (gthread)")
    parser.add_argument("--profile", type=int, help="profile the N endpoints furthest behind")
    parser.add_argument("--only", default="", help="only the endpoints whose name has this")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT") or 8101))
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where the Markdown and JSON are written"
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.window = args.window or (1.0 if args.quick else 5.0)
    args.profile = args.profile if args.profile is not None else (0 if args.quick else 3)
    return args


def environment(args) -> dict[str, str]:
    env = dict(os.environ)
    env |= {
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        "BENCH_BARE_VIEWS": "true",
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "casetracker.settings",
        # Delivered to the stand-in on this machine; emails kept in the worker's memory.
        "SMS_PROVIDER_URL": f"http://127.0.0.1:{args.port + 2}/sms",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "CELERY_QUEUE": "bench",
        "PYTHONUNBUFFERED": "1",
    }
    return env


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def manage(env: dict[str, str], *arguments: str) -> float:
    began = time.monotonic()
    command = [servers.python(), "manage.py", *arguments]
    subprocess.run(command, cwd=servers.BASE_DIR, env=env, check=True)  # noqa: S603
    return time.monotonic() - began


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def git(*arguments: str) -> str:
    done = subprocess.run(  # noqa: S603
        ["git", *arguments],  # noqa: S607 (git from the PATH, as a developer runs it)
        cwd=servers.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    args = options(sys.argv[1:] if argv is None else argv)
    env = environment(args)
    os.environ.update(env)
    ensure_database(env["DATABASE_URL"])
    manage(env, "migrate", "--noinput", "-v", "0")
    say(f"seeding at scale {args.scale} (a seed of this scale is reused)")
    seed_s = manage(env, "bench_seed", "--scale", str(args.scale), "--reuse")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    verify_s = None if args.quick else manage(env, "verify_audit_log")

    import django

    django.setup()
    from .session import Session

    session = Session(args, env)
    try:
        result = session.run()
    finally:
        session.stop()
    result["about"] |= {
        "date": datetime.now().astimezone().date().isoformat(),
        "commit": git("rev-parse", "--short", "HEAD")
        + ("-dirty" if git("status", "--porcelain") else ""),
        "cores": os.cpu_count(),
        "scale": args.scale,
        "quick": args.quick,
        "seed_or_reuse_s": round(seed_s, 1),
        "verify_audit_log_s": round(verify_s, 1) if verify_s is not None else None,
    }
    from .report import write

    json_path, md_path = write(result, args.results)
    say(f"results in {md_path} and {json_path.name}")
    return 0
