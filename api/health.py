"""Liveness and readiness: /healthz answers while the process runs; /readyz checks that the
database and Temporal answer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str = "ok"
    temporal: str = "ok"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(services: ServicesDep) -> Health | JSONResponse:
    def database_answers() -> None:
        with services.database.reading() as session:
            session.execute(text("SELECT 1"))

    health = Health(status="ok")
    try:
        await run_in_threadpool(database_answers)
    except Exception:  # any failure means not ready
        health.database = "unreachable"
    try:
        await asyncio.wait_for(services.temporal.service_client.check_health(), timeout=3)
    except Exception:
        health.temporal = "unreachable"
    if health.database != "ok" or health.temporal != "ok":
        health.status = "unavailable"
        return JSONResponse(health.model_dump(), status_code=503)
    return health
