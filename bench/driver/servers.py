"""The processes under test, as production runs them: gunicorn with the repository's
configuration (casetracker/gunicorn.conf.py), a Celery worker reading every queue, and a stand-in
SMS provider and webhook receiver on this machine that accept every message."""

import http.client
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
GUNICORN_CONFIG = BASE_DIR / "casetracker" / "gunicorn.conf.py"
LOGS = BASE_DIR / "var" / "bench"


def python() -> str:
    venv = BASE_DIR / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else "python3"


def gunicorn_command(
    port: int, workers: int, worker_class: str, threads: int
) -> tuple[list[str], str]:
    """The command, and how it is configured (for the results). The configuration file's
    values are kept but for the bind address, the processes and threads (gunicorn turns a sync
    worker with threads into a gthread one), and the restart after so many requests (it would
    land in the middle of the measurements)."""
    flags = ["--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    flags += ["--worker-class", worker_class, "--threads", str(threads), "--max-requests", "0"]
    if GUNICORN_CONFIG.exists():
        command = [python(), "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), *flags]
        described = f"gunicorn -c casetracker/gunicorn.conf.py {' '.join(flags[2:])}"
    else:
        command = [python(), "-m", "gunicorn", "casetracker.wsgi:application", *flags]
        described = f"gunicorn {' '.join(flags[2:])} (no casetracker/gunicorn.conf.py)"
    return command, described


class Processes:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.running: dict[str, subprocess.Popen] = {}
        LOGS.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(LOGS / f"{name}.log", "w")  # noqa: SIM115 (kept open while it runs)
        process = subprocess.Popen(  # noqa: S603 (our own commands)
            command,
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running[name] = process
        return process

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.running.clear()

    def check(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited ({process.returncode}): see var/bench/{name}.log"
                )


def wait_http(port: int, path: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port} after {seconds} s")


def wait_worker(env: dict[str, str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    command = [python(), "-m", "celery", "-A", "casetracker", "inspect", "ping", "-t", "2"]
    while time.monotonic() < deadline:
        done = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, check=False)  # noqa: S603
        if done.returncode == 0:
            return
        time.sleep(1)
    raise RuntimeError("the Celery worker did not answer a ping: see var/bench/worker.log")


class _Accept(BaseHTTPRequestHandler):
    """An SMS provider and a webhook receiver that accept everything at once."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"id": uuid.uuid4().hex}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_receiver(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
