"""Gunicorn started with casetracker/gunicorn.conf.py against the test database: the
configuration loads, the probes answer, the access log keeps queries and probes out."""

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import suppress

import pytest
from django.db import connection

from tests.integration.conftest import wait_for
from tests.integration.processes import BASE_DIR, free_port, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    """The test database, for another process."""
    if connection.vendor == "postgresql":
        return worker_database_url()
    return f"sqlite:///{connection.settings_dict['NAME']}"


def get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (127.0.0.1)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def answers(url: str) -> bool:
    with suppress(OSError):
        return get(url)[0] == 200
    return False


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "CELERY_"))}
    env.update(
        DATABASE_URL=database_url(),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
    )
    stdout, stderr = tmp_path / "access.log", tmp_path / "error.log"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "casetracker/gunicorn.conf.py"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server.poll() is None and answers(f"{base}/healthz"), what="gunicorn")
        yield base, server, stdout
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stderr.read_text(errors='replace')[-3000:]}") from None
    finally:
        # Its persistent database connections must be gone before the test database is.
        if server.poll() is None:
            server.terminate()
            with suppress(subprocess.TimeoutExpired):
                server.wait(40)
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def test_gunicorn_serves_the_probes_with_the_configuration(gunicorn):
    base, server, _ = gunicorn

    status, body = get(f"{base}/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body = get(f"{base}/readyz")
    ready = json.loads(body)
    assert status == 200, ready
    assert ready["checks"]["database"] == {"ok": True}
    assert ready["checks"]["migrations"] == {"ok": True}
    assert ready["checks"]["broker"] == {"ok": True, "mode": "eager"}

    server.terminate()  # graceful: exits 0
    assert server.wait(40) == 0


def test_gunicorn_access_log_has_no_query_string_and_no_probe(gunicorn):
    base, server, access_log = gunicorn
    for _ in range(3):
        get(f"{base}/healthz")
        get(f"{base}/readyz")
    status, _ = get(f"{base}/?name=SENTINEL-NAME-7731&national_id=999777311")
    assert status == 200
    # Answered before the application gives it a request id (the host is refused).
    assert get(f"{base}/?q=SENTINEL-2", Host="10.1.2.3")[0] == 400
    server.terminate()
    server.wait(40)

    lines = access_log.read_text().splitlines()
    [served, refused_line] = [line for line in lines if " GET / " in line]
    assert " GET / 200 " in served
    assert "request_id=" in served and "request_id=-" not in served
    assert refused_line.endswith("request_id=-") and " GET / 400 " in refused_line
    log = "\n".join(lines)
    assert "SENTINEL" not in log and "999777311" not in log
    assert "healthz" not in log and "readyz" not in log
    errors = (access_log.parent / "error.log").read_text()
    # A log call that failed would have printed its arguments: every header of the request.
    assert "--- Logging error ---" not in errors
    assert "SENTINEL" not in errors
