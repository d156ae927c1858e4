"""A webhook receiver on loopback for tests: it keeps every request it gets (headers, body),
can be taken down (connections refused) and brought back on the same port, and can answer a
status of the test's choosing (a redirect, say)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verified_with(self, secret: str) -> dict[str, Any]:
        """The body, once the receiver's copy of the secret verified its signature."""
        verified: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return verified


@dataclass
class Receiver:
    port: int = 0
    status: int = 204
    location: str = ""
    drop: int = 0  # the first `drop` requests are read and then left unanswered (cut off)
    hold: int = 0  # the first `hold` requests are read and answered only once `release` is set
    release: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    cut_off = receiver.drop > 0
                    receiver.drop -= 1 if cut_off else 0
                    held = receiver.hold > 0
                    receiver.hold -= 1 if held else 0
                if held:
                    receiver.release.wait(timeout=60)
                if cut_off:  # as if the answer were lost: the sender cannot know it arrived
                    self.close_connection = True
                    return
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)
