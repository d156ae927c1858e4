"""The HTTP API: a thin layer that checks early what the domain rules allow, talks to Temporal
(start, update) and reads projections from the database."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import (
    accounts,
    bank_details,
    budgets,
    claims,
    codec,
    codec_sign_in,
    health,
    invoice_links,
    offers,
    operators,
    organisations,
    standing_confirmation,
)
from api.browser import BrowserGuard, CodecCors
from api.errors import install_error_handlers
from api.limits import BodyCaps, BodyLimit
from api.services import Services
from cashback.config import Settings

# The routes that take more than the default 64 KiB (files); every other body is capped there.
BODY_CAPS: BodyCaps = {
    ("POST", "/claims"): claims.SUBMISSION_CAP,
    ("POST", "/operator/licensing-records/import"): operators.IMPORT_CAP,
    ("POST", "/codec/decode"): codec.PAYLOADS_CAP,
    ("POST", "/codec/encode"): codec.PAYLOADS_CAP,
}

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(services: Services | None, *, lifespan: Lifespan | None = None) -> FastAPI:
    """The app on `services`; or, for a server process, on the services `lifespan` builds."""
    # /docs and /redoc load Swagger UI and Redoc from the installed package, never from a CDN.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="Cashback",
        version="0.1.0",
        description="The reseller cash back program: accounts, offers, claims, bank details, "
        "and the operators' review.",
    )
    if services is not None:
        app.state.services = services
        origins = services.settings.codec_cors_origins
    else:
        origins = Settings().codec_cors_origins
    # The last added runs first: CORS answers (refusals included) reach the Web UI readable.
    app.add_middleware(BodyLimit, caps=BODY_CAPS)
    app.add_middleware(BrowserGuard, trusted_origins=origins)
    # The Temporal Web UI calls the codec endpoint from its own origin (R13); nothing else.
    app.add_middleware(CodecCors, origins=origins)
    install_error_handlers(app)
    routers = (
        health,
        accounts,
        standing_confirmation,
        offers,
        claims,
        bank_details,
        operators,
        budgets,
        invoice_links,
        organisations,
    )
    for module in (*routers, codec, codec_sign_in):
        app.include_router(module.router)
    return app
