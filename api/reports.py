"""The program's reports for operators (issue 13), as JSON and as CSV: thin routes over
`cashback.reports`, which reads the database's read model (never a workflow).

GET /operator/reports             every report, JSON
GET /operator/reports/{name}      one report, JSON
GET /operator/reports/{name}.csv  one report, CSV
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import OperatorUser, ServicesDep
from api.errors import ApiError, error_responses
from cashback.db.reports import ReportSelection
from cashback.reports import (
    REPORTS,
    Cell,
    DayOutOfRange,
    ReportTable,
    UnknownOffer,
    UnknownReport,
    build_reports,
)

router = APIRouter(tags=["reports"])

AsOf = Annotated[
    date | None,
    Query(
        description="the day the report is as of (open breaches, ages); today (UTC) if not given"
    ),
]
OfferId = Annotated[str | None, Query(max_length=64, description="one offer's claims only")]


class ReportRead(BaseModel):
    name: str = Field(description=f"one of: {', '.join(REPORTS)}")
    title: str
    as_of: date
    columns: list[str]
    rows: list[dict[str, Cell]]

    @classmethod
    def of(cls, table: ReportTable) -> ReportRead:
        return cls(
            name=table.name,
            title=table.title,
            as_of=table.as_of,
            columns=list(table.columns),
            rows=table.rows,
        )


class ReportsRead(BaseModel):
    as_of: date
    offer_id: str | None
    reports: list[ReportRead]


def tables(
    services: ServicesDep, names: list[str] | None, offer_id: str | None, as_of: date | None
) -> list[ReportTable]:
    """The reports, with the service's refusals as the API's errors."""
    day = as_of or datetime.now(UTC).date()
    try:
        return build_reports(services.database, names, ReportSelection(offer_id=offer_id), day)
    except UnknownReport as unknown:
        raise ApiError(404, "not_found", str(unknown)) from unknown
    except UnknownOffer as unknown:
        raise ApiError(404, "not_found", f"offer {unknown.offer_id} was not found") from unknown
    except DayOutOfRange as out_of_range:
        raise ApiError(422, "invalid_day", str(out_of_range)) from out_of_range


@router.get("/operator/reports", responses=error_responses(401, 403, 404, 422))
def all_reports(
    user: OperatorUser, services: ServicesDep, as_of: AsOf = None, offer_id: OfferId = None
) -> ReportsRead:
    """Every report (R9, R14 SLA and breaches, funnel, days per stage, waiting, D7 budget use)."""
    found = tables(services, None, offer_id, as_of)
    return ReportsRead(
        as_of=found[0].as_of, offer_id=offer_id, reports=[ReportRead.of(t) for t in found]
    )


def _csv(table: ReportTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_cell(row[column]) for column in table.columns])
    return buffer.getvalue()


def csv_response(table: ReportTable) -> Response:
    return Response(
        _csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table.name}-{table.as_of}.csv"'},
    )


def _cell(value: Cell) -> str:
    """A CSV cell; text is never read as a formula by a spreadsheet (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    return str(value)


@router.get(
    "/operator/reports/{name}.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "the report as CSV"},
        **error_responses(401, 403, 404, 422),
    },
)
def report_csv(
    name: str,
    user: OperatorUser,
    services: ServicesDep,
    as_of: AsOf = None,
    offer_id: OfferId = None,
) -> Response:
    """One report as CSV (UTF-8), its columns in the JSON's order."""
    (table,) = tables(services, [name], offer_id, as_of)
    return csv_response(table)


@router.get("/operator/reports/{name}", responses=error_responses(401, 403, 404, 422))
def report(
    name: str,
    user: OperatorUser,
    services: ServicesDep,
    as_of: AsOf = None,
    offer_id: OfferId = None,
) -> ReportRead:
    """One report as JSON."""
    (table,) = tables(services, [name], offer_id, as_of)
    return ReportRead.of(table)
