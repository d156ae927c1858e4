"""The API process: `uvicorn api.main:app` (settings from CASHBACK_*). It connects to Temporal
and opens the database at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.app import create_app
from api.services import Services
from cashback.config import Settings
from cashback.logs import configure_logging
from cashback.temporal import connect
from cashback.wiring import data_converter


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = Settings()
    configure_logging(settings.log_format)
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, data_converter(settings)
    )
    services = Services.build(settings, client)
    app.state.services = services
    try:
        yield
    finally:
        services.database.dispose()


app = create_app(None, lifespan=lifespan)
