"""The reseller portal: server-rendered pages in German and English for the reseller's whole
journey (register, sign in, offers, claims, account), over the application services the JSON
API uses. They work without JavaScript; one small same-origin script shows the upload's
progress."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from api.portal import account, accounts, claims
from api.portal.web import (
    PORTAL,
    STATIC,
    PortalProblem,
    SignInFirst,
    render_problem,
    to_sign_in,
)

_ASSETS = {"portal.css": "text/css; charset=utf-8", "portal.js": "text/javascript; charset=utf-8"}
assets = APIRouter(prefix=PORTAL, include_in_schema=False)


@assets.get("/static/{name}")
def asset(name: str) -> Response:
    """The portal's stylesheet and script, from the program itself (never a CDN)."""
    if name not in _ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        (STATIC / name).read_bytes(),
        media_type=_ASSETS[name],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def install(app: FastAPI) -> None:
    """The portal's pages and their two signals: a problem page, and off to sign in."""
    for router in (assets, accounts.router, claims.router, account.router):
        app.include_router(router)

    async def problem(request: Request, error: Exception) -> Response:
        assert isinstance(error, PortalProblem)
        return render_problem(error)

    async def sign_in(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInFirst)
        return to_sign_in(error)

    app.add_exception_handler(PortalProblem, problem)
    app.add_exception_handler(SignInFirst, sign_in)
