"""`GET /metrics` in Prometheus' text format (issue 13): the program's figures from the database
(`cashback.metrics`) and the API's latency per route.

The latency is labelled by the route's template (`/bank-details/{token}`), never by the raw
path, which carries secrets (bank-details tokens, confirmation tokens); a request no route
matched is labelled `unmatched`. Each app has its own registry (tests build many apps).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import ServicesDep
from cashback.db.session import Database
from cashback.metrics import ProgramCollector

router = APIRouter(include_in_schema=False)

UNMATCHED = "unmatched"
# Seconds; the API's answers range from a cached page (ms) to a submission with its upload.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The app's registry: the latency histogram, and the program's figures once the app has
    its services."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "cashback_http_request_duration_seconds",
            "Time to answer an API request, by method, route template and status",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._program: ProgramCollector | None = None

    def watch_program(self, database: Database, today: Callable[[], date] | None = None) -> None:
        """Register the program's figures (once) for the database of the app's services;
        breaches as of `today()` (the UTC date if not given)."""
        if self._program is None:
            self._program = ProgramCollector(database, today)
            self.registry.register(self._program)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class LatencyByRoute:
    """Times every HTTP request until its answer has been sent."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.latency.labels(scope["method"], _route(scope), str(status)).observe(
                time.perf_counter() - started
            )


@router.get("/metrics")
def metrics(request: Request, services: ServicesDep) -> Response:
    """The program's figures and the API's latency, for Prometheus."""
    registry: ApiMetrics = request.app.state.metrics
    registry.watch_program(services.database)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
