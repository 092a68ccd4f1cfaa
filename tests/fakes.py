"""Local stand-ins for what lies outside this machine: an SMS provider's HTTP API and a partner's
webhook receiver. Both listen on 127.0.0.1 and speak real HTTP."""

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server:
    def __init__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, *extra = outer.handle(dict(self.headers.items()), body)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    for name, value in (extra[0] if extra else {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller is gone (a test killed the worker): nothing to answer

            def log_message(self, *args):
                pass

        return Handler

    def handle(self, headers: dict, body: bytes) -> tuple[int, dict]:
        raise NotImplementedError


class FakeSmsProvider(_Server):
    """Delivers one message per idempotency key, as real providers do; answers the statuses
    queued in `fail_with` first. With `hold` set, a request is recorded as delivered and the
    answer waits until `release` is set (a worker can be killed meanwhile)."""

    TOKEN = "test-sms-token"

    def __init__(self):
        super().__init__()
        self.requests: list[dict] = []  # every request: headers and JSON body
        self.messages: list[dict] = []  # what reached phones: one per idempotency key
        self.fail_with: deque[int] = deque()
        self.hold = threading.Event()
        self.arrived = threading.Event()
        self.release = threading.Event()

    def handle(self, headers, body):
        payload = json.loads(body)
        with self.lock:
            self.requests.append({"headers": headers, "json": payload})
            if headers.get("Authorization") != f"Bearer {self.TOKEN}":
                return 401, {"error": "bad token"}
            if self.fail_with:
                # Real providers quote the number they could not reach.
                return self.fail_with.popleft(), {"error": f"cannot deliver to {payload['to']}"}
            key = headers.get("Idempotency-Key", "")
            known = [m for m in self.messages if m["key"] == key]
            if not known:
                self.messages.append({"key": key, "to": payload["to"], "text": payload["text"]})
            message_id = f"sms-{[m['key'] for m in self.messages].index(key) + 1}"
        if self.hold.is_set():
            self.arrived.set()
            self.release.wait(60)
        return 200, {"id": message_id}


class WebhookReceiver(_Server):
    """A partner's endpoint checking the documented scheme on its own (no project code):
    HMAC-SHA256 of "<timestamp>.<body>" with the shared secret, a timestamp within `tolerance`
    seconds, and each delivery id accepted once."""

    def __init__(self, secret: str, tolerance: int = 300):
        super().__init__()
        self.secret = secret.encode()
        self.tolerance = tolerance
        self.accepted: list[dict] = []
        self.refused: list[str] = []
        self.raw: list[tuple[dict, bytes]] = []  # every request as received, to replay

    def handle(self, headers, body):
        with self.lock:
            self.raw.append((headers, body))
            reason = self._problem(headers, body)
            if reason:
                self.refused.append(reason)
                return 401, {"error": reason}
            self.accepted.append({"headers": headers, "json": json.loads(body)})
            return 200, {"ok": True}

    def _problem(self, headers, body) -> str:
        timestamp = headers.get("X-Casetracker-Timestamp", "")
        if not timestamp.isdigit():
            return "no timestamp"
        if abs(time.time() - int(timestamp)) > self.tolerance:
            return "stale timestamp"
        expected = (
            "v1="
            + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, headers.get("X-Casetracker-Signature", "")):
            return "bad signature"
        delivery = headers.get("X-Casetracker-Delivery", "")
        if any(a["headers"].get("X-Casetracker-Delivery") == delivery for a in self.accepted):
            return "replayed delivery"
        return ""


class Redirector(_Server):
    """An endpoint that moved: answers every POST with a redirect, and records the requests
    that reach it (a client following the redirect would come back with a GET)."""

    def __init__(self, status: int = 302):
        super().__init__()
        self.status = status
        self.requests: list[dict] = []

    def handle(self, headers, body):
        with self.lock:
            self.requests.append({"headers": headers, "body": body})
        return self.status, {"moved": True}, {"Location": self.url + "elsewhere"}
