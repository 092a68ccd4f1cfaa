"""Where the web workers spend their time under one endpoint's load: py-spy, when it is
installed (`pip install py-spy`; it is not a dependency of the project), samples the gunicorn
workers; the frames of the application's own code are ranked by the share of samples they are
in (inclusive), the innermost of them in each sample (the line of our code that was being
served), and the frames that were running (self, any code)."""

import shutil
import subprocess
from collections import Counter
from pathlib import Path

OWN_CODE = ("casetracker/", "patients/", "batches/")


def available() -> str | None:
    venv = Path(__file__).resolve().parent.parent.parent / ".venv" / "bin" / "py-spy"
    return str(venv) if venv.exists() else shutil.which("py-spy")


def start(pid: int, output: Path, seconds: int) -> subprocess.Popen | None:
    binary = available()
    if binary is None:
        return None
    command = [binary, "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
    command += ["--rate", "100", "--duration", str(seconds), "--nonblocking", "-o", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def summary(raw: Path, top: int = 12) -> dict:
    """The most frequent frames: of the whole stack (any code), and of our own code."""
    own: Counter = Counter()
    deepest: Counter = Counter()
    running: Counter = Counter()
    total = 0
    if not raw.exists():
        return {"samples": 0}
    for line in raw.read_text().splitlines():
        stack, _space, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        # With --subprocesses the stack starts with the process (and thread) it was sampled in.
        frames = [
            _short(frame)
            for frame in stack.split(";")
            if " (" in frame and not frame.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        total += samples
        running[frames[-1]] += samples
        ours = [f for f in frames if _ours(f)]
        for frame in set(ours):
            own[frame] += samples
        if ours:
            deepest[ours[-1]] += samples

    def ranked(counter: Counter) -> list[dict]:
        return [
            {"frame": frame, "share": round(n / total * 100, 1)}
            for frame, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "own_code": ranked(own),
        "own_deepest": ranked(deepest),
        "self": ranked(running),
    }


def _ours(frame: str) -> bool:
    """A frame of the application's code, but not a middleware's pass-through (every request
    is inside all of them)."""
    name, _space, where = frame.partition(" ")
    return where.startswith(OWN_CODE) and not name.endswith("Middleware.__call__")


def _short(frame: str) -> str:
    """ "view (batches/views.py:12)" -> "view batches/views.py:12" (py-spy already gives
    paths from the project's or the packages' root)."""
    name, _paren, where = frame.partition(" (")
    return f"{name} {where.rstrip(')')}"
