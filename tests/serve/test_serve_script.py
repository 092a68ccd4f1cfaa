"""scripts/serve (`make serve`): refuses to run as production without PostgreSQL and Redis, and
keeps its processes together: one gone, all stopped; a signal, all stopped gracefully."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.conftest import wait_for
from tests.integration.processes import BASE_DIR

SERVE = BASE_DIR / "scripts" / "serve"


def serve_env(**env) -> dict[str, str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CI")
    }
    environment.update(env)
    return environment


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "DATABASE_URL and REDIS_URL not set"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/9"}, "DATABASE_URL not set"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1/x"}, "REDIS_URL not set"),
        (
            {"DATABASE_URL": "sqlite:///x.sqlite3", "REDIS_URL": "redis://127.0.0.1:6379/9"},
            "DATABASE_URL must point at PostgreSQL",
        ),
    ],
)
def test_serve_refuses_to_start_without_postgres_and_redis(env, named):
    answer = subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, str(SERVE)],
        env=serve_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 2
    assert named in answer.stderr
    # Refused before anything ran: no migration (it prints its operations), no server.
    assert answer.stdout == ""
    assert "started" not in answer.stderr


# Stand-ins for gunicorn, the worker and beat: each writes its pid, exits 0 on SIGTERM as they
# do, and otherwise runs until told (a file appears) to exit with a given status.
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    here = Path(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
    (here / f"{sys.argv[2]}.pid").write_text(str(os.getpid()))
    while not (here / f"{sys.argv[2]}.exit").exists():
        time.sleep(0.05)
    sys.exit(int((here / f"{sys.argv[2]}.exit").read_text()))
    """
)
SUPERVISOR = textwrap.dedent(
    """
    import runpy, sys
    supervise = runpy.run_path(sys.argv[1])["supervise"]
    child = [sys.executable, "-c", sys.argv[3], sys.argv[2]]
    sys.exit(supervise({name: [*child, name] for name in ("web", "worker", "beat")}))
    """
)


@pytest.fixture(autouse=True)
def no_child_left(tmp_path):
    """Whatever happens in a test, no stand-in outlives it."""
    yield
    for path in tmp_path.glob("*.pid"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(path.read_text()), signal.SIGKILL)


def start_supervisor(tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 (our own command line)
        [sys.executable, "-c", SUPERVISOR, str(SERVE), str(tmp_path), CHILD],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def child_pids(tmp_path: Path) -> dict[str, int]:
    wait_for(lambda: len(list(tmp_path.glob("*.pid"))) == 3, what="three processes started")
    return {path.stem: int(path.read_text()) for path in tmp_path.glob("*.pid")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone but for its exit status.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def finish(supervisor: subprocess.Popen) -> tuple[int, str]:
    try:
        _, stderr = supervisor.communicate(timeout=60)
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
    return supervisor.returncode, stderr


def test_serve_one_process_exiting_stops_the_others_and_fails(tmp_path):
    supervisor = start_supervisor(tmp_path)
    pids = child_pids(tmp_path)

    (tmp_path / "worker.exit").write_text("3")

    status, stderr = finish(supervisor)
    assert status == 1
    assert "worker exited with status 3: stopping the others" in stderr
    assert not any(alive(pid) for pid in pids.values())


def test_serve_process_exiting_cleanly_still_stops_everything_and_fails(tmp_path):
    supervisor = start_supervisor(tmp_path)
    pids = child_pids(tmp_path)

    (tmp_path / "beat.exit").write_text("0")

    status, stderr = finish(supervisor)
    assert status == 1  # a server that stops by itself is a failure all the same
    assert "beat exited with status 0" in stderr
    assert not any(alive(pid) for pid in pids.values())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_signal_stops_every_process_gracefully(tmp_path, signum):
    supervisor = start_supervisor(tmp_path)
    pids = child_pids(tmp_path)

    supervisor.send_signal(signum)

    status, stderr = finish(supervisor)
    assert status == 0, stderr
    assert f"{signal.Signals(signum).name}: stopping" in stderr
    assert not any(alive(pid) for pid in pids.values())


def test_serve_children_do_not_outlive_a_killed_supervisor(tmp_path):
    supervisor = start_supervisor(tmp_path)
    pids = child_pids(tmp_path)

    supervisor.kill()  # SIGKILL: no chance to stop anything itself
    supervisor.wait(10)

    wait_for(lambda: not any(alive(pid) for pid in pids.values()), what="the children to end")
