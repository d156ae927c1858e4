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
    dashboard,
    health,
    invoice_links,
    metrics,
    offers,
    operators,
    organisations,
    payment_runs,
    portal,
    reports,
    standing_confirmation,
    webhooks,
)
from api.browser import BrowserGuard, CodecCors
from api.contract import install_contract, operation_id
from api.errors import install_error_handlers
from api.limits import BodyCaps, BodyLimit
from api.metrics import ApiMetrics, LatencyByRoute
from api.portal.web import PortalUploadCap
from api.services import Services
from cashback.config import Settings

PORTAL_CLAIMS = ("POST", "/portal/claims")


def portal_upload_cap(support: str = "") -> PortalUploadCap:
    """The claim form's cap: the API's claim cap, refused with a page naming `support`."""
    cap = claims.SUBMISSION_CAP
    return PortalUploadCap(cap.max_bytes, cap.error, cap.detail, support=support)


# The routes that take more than the default 64 KiB (files); every other body is capped there.
BODY_CAPS: BodyCaps = {
    ("POST", "/claims"): claims.SUBMISSION_CAP,
    ("POST", "/operator/licensing-records/import"): operators.IMPORT_CAP,
    ("POST", "/operator/bank-files"): payment_runs.BANK_FILE_CAP,
    ("POST", "/codec/decode"): codec.PAYLOADS_CAP,
    ("POST", "/codec/encode"): codec.PAYLOADS_CAP,
    PORTAL_CLAIMS: portal_upload_cap(),
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
        generate_unique_id_function=operation_id,
    )
    if services is not None:
        app.state.services = services
        settings = services.settings
    else:
        settings = Settings()
    origins = settings.codec_cors_origins
    # R17: the portal's refusal page names the support address too.
    caps = {**BODY_CAPS, PORTAL_CLAIMS: portal_upload_cap(settings.support_address)}
    # The last added runs first: CORS answers (refusals included) reach the Web UI readable.
    app.add_middleware(BodyLimit, caps=caps)
    app.add_middleware(BrowserGuard, trusted_origins=origins)
    # The Temporal Web UI calls the codec endpoint from its own origin (R13); nothing else.
    app.add_middleware(CodecCors, origins=origins)
    # Outermost: the latency includes every other layer's work (and its refusals).
    app.state.metrics = ApiMetrics()
    app.add_middleware(LatencyByRoute, metrics=app.state.metrics)
    install_error_handlers(app)
    routers = (
        health,
        metrics,
        accounts,
        standing_confirmation,
        offers,
        claims,
        webhooks,
        bank_details,
        operators,
        budgets,
        invoice_links,
        organisations,
        reports,
        payment_runs,
    )
    for module in (*routers, codec, codec_sign_in, dashboard):
        app.include_router(module.router)
    portal.install(app)
    app.webhooks.include_router(webhooks.webhooks)  # the events, in the document only
    install_contract(app)
    return app
