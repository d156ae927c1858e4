"""Read model benchmark (issue 11): the pages people read, from the database alone.

`--claims` claims (default 100,000; `--under-review` of them under review, the rest spread over
every other status) with their read model, three timeline entries and a notice each are written
in bulk to a fresh database: SQLite (a file) and/or PostgreSQL (a schema of its own on
`CASHBACK_BENCH_POSTGRES_URL`, default the local server). The API runs in this process with
**no Temporal server and no worker at all** (its client is never used on these paths), and
each page is requested `--requests` times one after the other; the table gives p50 and p99:

- the reseller's claim page (`GET /claims/{id}`, a random claim of one reseller);
- the review queue's first page and a deep page (a cursor 90 % into the queue);
- the operator list with filters (offer, status, reseller country) and the CSV export of a
  filtered selection (the escalated claims under review).

    python -m bench.read_model [--claims 100000] [--under-review 10000] [--requests 200]
                               [--databases sqlite postgres]

Nothing is asserted: the figures are printed (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import URL
from temporalio.client import Client

from activities.records import TimelineEvent
from api.app import create_app
from api.services import Services
from bench.load import percentile, table
from bench.seed import OFFER_ID, Program, seed_program
from bench.stack import database_url, machine
from cashback.config import Settings
from cashback.db import Database, upgrade_to_head
from cashback.db.tables import Claim, NoticeSent, TimelineRow
from cashback.domain.eligibility import Verdict
from cashback.domain.status import ClaimStatus, NoticeKind

BATCH = 5000
OTHER_STATUSES = [status for status in ClaimStatus if status is not ClaimStatus.UNDER_REVIEW]


def _claims(program: Program, count: int, under_review: int) -> Iterator[list[dict[str, Any]]]:
    """Rows of `claims` in batches: the first `under_review` under review (a tenth escalated,
    verdicts mixed), the rest spread over every other status."""
    now = datetime.now(UTC)
    today = now.date()
    rng = random.Random(7)
    batch: list[dict[str, Any]] = []
    for index in range(count):
        reseller = program.reseller_of(index)
        claim_id = f"c_{index:08d}"
        reviewing = index < under_review
        status = ClaimStatus.UNDER_REVIEW if reviewing else OTHER_STATUSES[index % 7]
        received = now - timedelta(minutes=count - index)
        batch.append(
            {
                "id": claim_id,
                "workflow_id": f"claim-{claim_id}",
                "idempotency_key": f"{reseller.reseller_id} bench-{claim_id}",
                "reseller_id": reseller.reseller_id,
                "offer_id": program.offer_id,
                "agreement_number": f"OL-R-{index:08d}",
                "customer_name": program.customer(index),
                "reseller_name_on_agreement": reseller.company_name,
                "terms_accepted_version": program.terms_version,
                "terms_accepted_at": received,
                "invoice_object_key": f"invoices/bench/{claim_id}.pdf",
                "invoice_sha256": "0" * 64,
                "status": status,
                "amount_minor_units": None if reviewing else 25_000,
                "currency": None if reviewing else "EUR",
                "created_at": received,
                "updated_at": received,
                "projected_sequence": 3,
                "review_deadline": today + timedelta(days=rng.randint(0, 20)),
                "verdict": (Verdict.ELIGIBLE, Verdict.INCONCLUSIVE, Verdict.INELIGIBLE)[index % 3],
                "verdict_reasons": [],
                "eligible_licences": 20,
                "escalated": reviewing and index % 10 == 0,
                "outcome_reasons": [],
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(database: Database, claims: int, under_review: int) -> tuple[Program, str]:
    """The program, its claims and their timelines and notices; a token of one reseller."""
    program = seed_program(database, resellers=50)
    for rows in _claims(program, claims, under_review):
        with database.transaction() as session:
            session.execute(insert(Claim), rows)
            session.execute(
                insert(TimelineRow),
                [
                    {
                        "claim_id": row["id"],
                        "sequence": sequence,
                        "at": row["created_at"],
                        "actor": "system",
                        "event": TimelineEvent.STATUS_CHANGED,
                        "from_status": None,
                        "to_status": row["status"],
                        "reason": "bench",
                    }
                    for row in rows
                    for sequence in (1, 2, 3)
                ],
            )
            session.execute(
                insert(NoticeSent),
                [
                    {
                        "idempotency_key": f"{row['id']}/preliminary_confirmation/1",
                        "claim_id": row["id"],
                        "kind": NoticeKind.PRELIMINARY_CONFIRMATION,
                        "number": 1,
                        "message_id": f"<{row['id']}@bench>",
                        "sent_at": row["created_at"],
                        "respond_by": None,
                    }
                    for row in rows
                ],
            )
    with database.transaction() as session:
        session.execute(text("ANALYZE"))  # statistics, as a database in use has them
    return program, program.resellers[0].token


def _cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


async def measure(url: URL, claims: int, under_review: int, requests: int) -> list[list[object]]:
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="bench-read-model-")),
        database_url=url.render_as_string(hide_password=False),
    )
    database = Database.from_url(url)
    upgrade_to_head(database.engine)
    started = time.monotonic()
    program, reseller_token = seed(database, claims, under_review)
    seeded = time.monotonic() - started
    # No Temporal at all: every path measured here reads the database only.
    services = Services.build(settings, cast(Client, None), database)
    app = create_app(services)
    operator = program.operator_headers
    reseller = {"Authorization": f"Bearer {reseller_token}"}
    own = [index for index in range(claims) if program.reseller_of(index) == program.resellers[0]]
    deep_index = int(under_review * 0.9)
    with database.reading() as session:
        deep = session.execute(
            text(
                "SELECT review_deadline, id FROM claims WHERE status = 'UNDER_REVIEW' "
                "ORDER BY review_deadline, id LIMIT 1 OFFSET :n"
            ),
            {"n": deep_index},
        ).one()
    deep_cursor = _cursor(str(deep[0]), deep[1])
    rng = random.Random(11)
    pages: dict[str, Callable[[], str]] = {
        "claim page (reseller)": lambda: f"/claims/c_{rng.choice(own):08d}",
        "review queue, first page": lambda: "/operator/review-queue?limit=50",
        "review queue, deep page": lambda: f"/operator/review-queue?limit=50&cursor={deep_cursor}",
        "all claims, filtered": lambda: (
            f"/operator/claims?limit=50&offer_id={OFFER_ID}&status=PAID&country=DE"
        ),
        "CSV export, escalated": lambda: "/operator/claims.csv?escalated=true",
    }
    rows: list[list[object]] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
    ) as http:
        for name, path in pages.items():
            headers = reseller if name.startswith("claim page") else operator
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await http.get(path(), headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
            rows.append(
                [url.get_backend_name(), name, claims, round(percentile(times, 50), 1),
                 round(percentile(times, 99), 1)]
            )  # fmt: skip
    rows.append([url.get_backend_name(), f"(seeding took {seeded:.0f} s)", claims, "", ""])
    database.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--under-review", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    options = parser.parse_args()
    print(f"machine: {machine()}")
    rows: list[list[object]] = []
    for backend in options.databases:
        with database_url(backend) as url:
            rows += asyncio.run(
                measure(url, options.claims, options.under_review, options.requests)
            )
    print(table(["database", "page", "claims", "p50 ms", "p99 ms"], rows))


if __name__ == "__main__":
    main()
