"""Request bodies are capped on every route before a route reads them: 64 KiB for JSON and forms,
larger caps for the few routes that take files (a claim with its invoice, the operators' CSV
import, the codec's payloads). A body over its cap is answered 413 in the one error format
however it arrives: a Content-Length over the cap is refused before a byte is read; a body
without one (chunked), or longer than its Content-Length says, is counted as it arrives and
refused the moment it passes the cap. Nothing beyond the cap is ever read or buffered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.browser import app_path

DEFAULT_MAX_BODY_BYTES = 64 * 1024  # JSON and forms: far above any valid request
MULTIPART_ALLOWANCE = 64 * 1024  # a form's text fields and framing beside its file


@dataclass(frozen=True)
class BodyCap:
    """The largest body a route takes, and how a larger one is refused."""

    max_bytes: int
    error: str = "request_too_large"
    detail: str = ""

    def refusal(self) -> Response:
        detail = self.detail or (
            f"the request body may be at most {self.max_bytes // 1024} KiB; send less"
        )
        # Closing the connection spares the server the rest of a body it will never read.
        return JSONResponse(
            {"error": self.error, "detail": detail},
            status_code=413,
            headers={"Connection": "close"},
        )


DEFAULT_CAP = BodyCap(DEFAULT_MAX_BODY_BYTES)

# (method, path) -> the route's own cap; every other route has DEFAULT_CAP.
BodyCaps = Mapping[tuple[str, str], BodyCap]


class BodyTooLarge(Exception):
    """Raised into the app when it reads past the cap (it stops reading there)."""


class BodyLimit:
    """ASGI middleware: each request's body within its route's cap, or 413."""

    def __init__(self, app: ASGIApp, *, caps: BodyCaps, default: BodyCap = DEFAULT_CAP) -> None:
        self.app = app
        self.caps = caps
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.caps.get((scope["method"], app_path(scope)), self.default)
        declared = Headers(scope=scope).get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap.max_bytes:
            await cap.refusal()(scope, receive, send)  # refused unread
            return

        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def answered(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to the broken read gives way to the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, answered)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await cap.refusal()(scope, receive, send)
