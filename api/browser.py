"""Browsers (R13): the operator's session cookie opens the codec endpoints (or, set by the
dashboard's sign-in with its own path, the dashboard's read-only pages) and nothing else, CORS
is answered for the codec only (the Temporal Web UI calls it from its own origin), and a
state-changing request a browser sends from another site with the cookie, or to sign in into a
cookie, is refused before it reaches a route.

Who sent a request is judged as browsers tell it: `Sec-Fetch-Site` when present (`same-origin`
and `none`, a typed address, pass), else `Origin` against the request's own host; an origin
listed in the codec's CORS origins always passes. A request with neither header is not from a
browser acting for a signed-in person (a browser sends them on every state-changing request), so
it passes: its sender holds the credential itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "cashback_session"
CODEC_PREFIX = "/codec"
# They sign in into the cookie: guarded against login CSRF.
SIGN_IN_PATHS = frozenset(
    {"/auth/session", CODEC_PREFIX + "/sign-in", "/operator/dashboard/sign-in"}
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def app_path(scope: Scope) -> str:
    """The request's path within the app (without the root path a proxy mounts it under)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of `url`, lower case (how browsers send `Origin`)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def cookie_path(public_base_url: str) -> str:
    """The session cookie's path: the codec endpoints under the API's public address."""
    return urlsplit(public_base_url).path.rstrip("/") + CODEC_PREFIX


def clear_session_cookie(response: Response, public_base_url: str, path: str | None = None) -> None:
    """Clear the browser's session cookie, set for `path` (by default the API's own)."""
    response.delete_cookie(
        SESSION_COOKIE,
        path=path or cookie_path(public_base_url),
        httponly=True,
        samesite="strict",
        secure=public_base_url.startswith("https://"),
    )


def sent_by_this_site(headers: Headers, trusted_origins: frozenset[str]) -> bool:
    """Whether a browser sent the request from the API's own origin or a trusted one (or no
    browser sent it at all)."""
    origin = headers.get("origin")
    if origin is not None and origin.lower() in trusted_origins:
        return True
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() in ("same-origin", "none")
    if origin is None:
        return True  # no browser's request: it carries its sender's own credential
    host = headers.get("host", "")
    return host != "" and urlsplit(origin).netloc.lower() == host.lower()


def carries_session_cookie(headers: Headers) -> bool:
    return SESSION_COOKIE in cookie_parser(headers.get("cookie", ""))


class BrowserGuard:
    """Refuses (403 `cross_site_request`) a state-changing request from another site that
    carries the session cookie, or that signs in into one (login CSRF), on every route."""

    def __init__(self, app: ASGIApp, *, trusted_origins: Iterable[str]) -> None:
        self.app = app
        self.trusted_origins = frozenset(origin_of(origin) for origin in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            guarded = app_path(scope) in SIGN_IN_PATHS or carries_session_cookie(headers)
            if guarded and not sent_by_this_site(headers, self.trusted_origins):
                refused = JSONResponse(
                    {
                        "error": "cross_site_request",
                        "detail": "a browser sent this request from another site with the "
                        "session cookie (or to sign in); use a bearer token, or call from the "
                        "API's own pages or the Temporal Web UI",
                    },
                    status_code=403,
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CodecCors:
    """CORS for the codec endpoints only: the Temporal Web UI's origins may call them with the
    operator's credentials; every other path answers no CORS at all."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = app_path(scope)
        if scope["type"] == "http" and (
            path == CODEC_PREFIX or path.startswith(CODEC_PREFIX + "/")
        ):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
