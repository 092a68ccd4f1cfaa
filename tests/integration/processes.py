"""Processes the fault tests start, stop and kill: a private redis-server and Celery workers in
subprocesses. Every helper cleans up in `finally`, so a failing test leaves nothing running."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

import redis
from django.db import connection
from kombu import pools

from casetracker.notifications.queues import queue_names

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _end(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL to the process group it leads (it was started in a session of its
    own, so the group holds only it and its children, e.g. an embedded beat)."""
    if process.poll() is None:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)


class PrivateRedis:
    """A redis-server of one test, on a free port, without persistence. Stopping it is a real
    broker outage that other test runs sharing the machine's Redis never see, and what a fault
    leaves behind in it (unacked messages, queues no worker reads) is gone when it stops.

    A worker with a short visibility timeout must use one of these, never the shared Redis:
    kombu restores *every* queue's unacked messages of its database, so it would hand other
    runs' pending retries to their workers a second time."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def _answers(self) -> bool:
        # A bare PING: redis-py's client retries refused connections with a backoff.
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        """Start (again, after `stop`) on the same port."""
        assert self.binary, "redis-server is not on PATH"
        assert self.process is None or self.process.poll() is not None, "already running"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own command line)
                [
                    self.binary,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(self.workdir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

        def up() -> bool:
            if self.process.poll() is not None:
                raise RedisDidNotStart(self.log_path.read_text(errors="replace")[-2000:])
            return self._answers()

        try:
            _wait(up, 10, f"redis-server on port {self.port}")
        except AssertionError:
            _end(self.process, timeout=5)
            raise

    def stop(self) -> None:
        if self.process is not None:
            _end(self.process, timeout=5)
        assert not self._answers(), f"something else answers on port {self.port}"


class RedisDidNotStart(AssertionError):
    pass


@contextmanager
def private_redis(workdir: Path) -> Iterator[PrivateRedis]:
    for attempt in range(3):
        server = PrivateRedis(workdir)
        try:
            server.start()
            break
        except RedisDidNotStart:
            # Another process took the free port before redis-server bound it: take another.
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def producer_on(app, broker_url: str) -> Iterator[None]:
    """Publish this process's tasks (`delay`, the outbox's on-commit hook) to `broker_url`.

    The app caches its connection and producer pools, and kombu keeps them in a registry keyed
    by broker URL for the whole process. The app's pools are set aside and restored untouched
    (other tests keep using them); the private broker's pools are closed and dropped from the
    registry, so a later broker on the same port never gets a closed pool."""
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app._pool = app.amqp._producer_pool = None
    app.conf.broker_url = broker_url
    try:
        yield
    finally:
        try:
            if app._pool is not None:
                app._pool.force_close_all()
            key = app.connection_for_write()
            for registry in (pools.producers, pools.connections):
                with suppress(KeyError):
                    del registry[key]
        finally:
            app.conf.broker_url, app._pool, app.amqp._producer_pool = saved


def worker_database_url() -> str:
    """The URL of the database this test run uses (the test database, not the configured one),
    for a worker in another process: rows committed by a transactional test are visible to it."""
    db = connection.settings_dict
    assert db["ENGINE"] == "django.db.backends.postgresql", "a worker subprocess needs PostgreSQL"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{quote(db['NAME'], safe='')}"


class WorkerProcess:
    """`celery worker` (solo pool) in a subprocess of its own session: unlike the in-process
    test worker it can be SIGKILLed mid-task, and it reads its settings from the environment
    exactly as a deployed worker does (its system checks run at start)."""

    def __init__(
        self,
        *,
        redis_url: str,
        queue: str,
        workdir: Path,
        beat: bool = False,
        env: Mapping[str, str] | None = None,
        name: str = "worker",
    ):
        self.queue = queue
        self.log_path = workdir / f"{name}.log"
        self.command = [sys.executable, "-m", "celery", "-A", "casetracker", "worker"]
        self.command += ["-P", "solo", "-Q", ",".join(queue_names(queue))]
        self.command += ["-n", f"{name}-{os.getpid()}@%h", "--loglevel", "WARNING"]
        if beat:
            self.command += ["-B", "-s", str(workdir / f"{name}-beat-schedule")]
        mail_dir = workdir / "mail"
        mail_dir.mkdir(exist_ok=True)
        # Celery reads these before its settings: they would override the broker given here.
        overrides = {"CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL", "CELERY_BROKER_READ_URL"}
        self.env = {key: value for key, value in os.environ.items() if key not in overrides}
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "casetracker.settings",
                "DATABASE_URL": worker_database_url(),
                "REDIS_URL": redis_url,
                "CELERY_QUEUE": queue,
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
                "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "EMAIL_FILE_PATH": str(mail_dir),
                **(env or {}),
            }
        )
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "WorkerProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own command line)
                self.command,
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker process itself, as the OOM killer or a lost machine would."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM: finish the task at hand), then SIGKILL whatever is left."""
        if self.process is not None:
            _end(self.process, timeout=15)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""


@contextmanager
def worker_process(**options) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(**options).start()
    try:
        yield worker
    finally:
        worker.stop()
