"""Concurrent clients over HTTP to this machine only: each a thread with its own connection,
kept alive when the server allows it, asking for one URL after another until the window ends;
the requests under way then are waited for, so no answer leaks into the next window."""

import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from itertools import count

LOOPBACK = ("127.0.0.1", "localhost")


@dataclass
class Window:
    """What one window of load gave: each answer's time, and the statuses."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def add(self, other: "Window") -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.errors += other.errors
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float | None:
        if not self.latencies:
            return None
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[
            round(share * 100) - 1
        ]

    def summary(self) -> dict:
        ms = {f"p{p}_ms": self.percentile(p / 100) for p in (50, 95, 99)}
        return {
            "requests": len(self.latencies),
            "ok": self.ok,
            "errors": self.errors + len(self.latencies) - self.ok,
            "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 2),
            **{k: round(v * 1000, 1) if v is not None else None for k, v in ms.items()},
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


class Client:
    def __init__(self, host: str, port: int, headers: dict[str, str]):
        if host not in LOOPBACK:
            raise ValueError(f"the benchmark loads this machine only, not {host}")
        self.host, self.port, self.headers = host, port, headers
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def post(self, path: str, body: dict) -> tuple[int, bytes]:
        return self.request("POST", path, json.dumps(body).encode())

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        # A GET is asked again once on a new connection if the kept-alive one was closed
        # meanwhile; a POST never (it may have been done).
        attempts = (1, 2) if method == "GET" else (2,)
        for attempt in attempts:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                body = response.read()
                if response.will_close:
                    self.close()
                return response.status, body
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def run_window(
    port: int, paths: list[str], headers: list[dict[str, str]], seconds: float
) -> Window:
    """One client per entry of `headers` (its credentials), each asking for the `paths` in
    turn from a different start, for `seconds`."""
    window = Window()
    lock = threading.Lock()
    turn = count()
    deadline = time.monotonic() + seconds

    def client(own: dict[str, str]) -> None:
        http_client = Client("127.0.0.1", port, {"Accept-Encoding": "gzip", **own})
        mine = Window()
        try:
            while time.monotonic() < deadline:
                path = paths[next(turn) % len(paths)]
                began = time.perf_counter()
                try:
                    status, _body = http_client.get(path)
                except OSError:
                    mine.errors += 1
                    continue
                mine.latencies.append(time.perf_counter() - began)
                mine.statuses[status] = mine.statuses.get(status, 0) + 1
        finally:
            http_client.close()
            with lock:
                window.add(mine)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(h,), daemon=True) for h in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    window.seconds = time.monotonic() - began
    return window
