"""Lifecycle (issue 7): claims from submission to PAID, next to the baseline, in one run.

The claims take the path without a human step: the automatic verdict is conclusive (the
agreement is in the licensing records), so the claim is approved when its review window ends
(R9); the reseller confirmed its bank details for all claims (R10, the standing confirmation),
so no request is sent; the return window is 0 days (R15), so the payout is due at once. The
program's durations are shortened by `CASHBACK_POLICY__TIME_SCALE` (default 1e-7: the review
window's timer fires after its minimum of 1 s). Everything else is the product as `make run`
starts it (`bench.stack`): the worker process with the real activities (SQLite, local invoice
store, SMTP to the local mail server, the simulated bank), payloads encrypted.

A claim's happy path on this route has as many activities as the baseline workflow (13 and one
local activity: 6 timeline entries, 3 e-mails, invoice check, eligibility, standing
confirmation, payment); since issue 16 its 6 timeline entries are local activities, so the
server sees 7 activity tasks. Each row starts `--claims` claims (rows seeded as `POST /claims` would
store them) with `concurrency` in flight, waits for each to be PAID, and measures the baseline
workflow at the same concurrency on the same server just before. It prints the machine and a
markdown table; it asserts nothing.

    python -m bench.lifecycle [--claims 200] [--concurrency 10 50 100] [--time-scale 1e-7]
        [--worker-processes 1 2]   # rows with a second worker process on the task queue
        [--rounds 4]               # each row R x its concurrency claims (at least 10)
        [--plot docs/images/lifecycle-concurrency.svg]   # claims/s against concurrency
        [--database postgres]      # the program's database on PostgreSQL (a schema of its own)

Issue 16's plot (docs/performance.md) is

    python -m bench.lifecycle --concurrency 1 5 10 20 50 --rounds 4 \
        --plot docs/images/lifecycle-concurrency.svg
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench import baseline
from bench.load import closed_loop, percentile, table
from bench.plot import line_chart
from bench.seed import Program, add_claims, invoice_pdf, seed_program, store_invoice
from bench.stack import DatabaseBackend, Stack, cpu_seconds, database_url, machine, running_stack
from cashback.claims import ClaimInput, ClaimOutcome, claim_workflow_id
from cashback.db import BankDetails, Database
from cashback.db.standing_confirmations import StandingConfirmations
from cashback.domain.payout import HolderType
from cashback.domain.status import ClaimStatus
from cashback.wiring import bank_accounts, invoice_storage
from workflows.claim import ClaimWorkflow

MIN_CLAIMS = 10  # a row's claims with --rounds: at concurrency 1 a handful says nothing
IBAN = "DE89 3704 0044 0532 0130 00"


def confirm_bank_details_for_all_claims(
    database: Database, program: Program, accounts: Any
) -> None:
    """R10: every reseller gave valid company details and confirmed them for later claims."""
    standing = StandingConfirmations(database, accounts)
    for reseller in program.resellers:
        details = BankDetails(
            holder_name=reseller.company_name, holder_type=HolderType.COMPANY, iban=IBAN
        )
        standing.give(reseller.reseller_id, accounts.store(details))


async def run_claims(
    client: Client, task_queue: str, claims: list[ClaimInput], concurrency: int
) -> tuple[float, list[float], int]:
    """Start every claim (`concurrency` in flight) and wait until it ends: completed claims/s,
    the seconds each took from submission to PAID, and how many ended otherwise."""
    outcomes: list[ClaimOutcome] = []

    async def one(index: int) -> None:
        claim = claims[index]
        outcome = await client.execute_workflow(
            ClaimWorkflow.run, claim, id=claim_workflow_id(claim.claim_id), task_queue=task_queue
        )
        outcomes.append(outcome)

    run = await closed_loop(len(claims), concurrency, one)
    not_paid = len(run.failures) + sum(1 for o in outcomes if o.status is not ClaimStatus.PAID)
    return run.rate, run.latencies, not_paid


def workers_cpu(stack: Stack) -> float:
    """CPU seconds of every claim worker process so far."""
    return sum(cpu_seconds(process.pid) for process in stack.worker_processes())


async def main(
    claims: int,
    concurrencies: list[int],
    time_scale: float,
    resellers: int,
    worker_processes: list[int] | None = None,
    rounds: int | None = None,
    plot: Path | None = None,
    backend: DatabaseBackend = "sqlite",
) -> None:
    with database_url(backend) as url:
        await _measure(
            claims, concurrencies, time_scale, resellers, worker_processes, rounds, plot,
            url.render_as_string(hide_password=False),
        )  # fmt: skip


async def _measure(
    claims: int,
    concurrencies: list[int],
    time_scale: float,
    resellers: int,
    worker_processes: list[int] | None,
    rounds: int | None,
    plot: Path | None,
    program_database: str,
) -> None:
    the_machine = machine()
    print(f"machine: {the_machine}", flush=True)

    def claims_at(concurrency: int) -> int:
        return max(MIN_CLAIMS, rounds * concurrency) if rounds else claims

    env = {
        "CASHBACK_POLICY__RETURN_WINDOW_DAYS": "0",
        "CASHBACK_POLICY__TIME_SCALE": repr(time_scale),
        "CASHBACK_DATABASE_URL": program_database,
    }
    async with running_stack(api=False, env=env) as stack:
        settings = stack.settings
        database = stack.database()
        counts = worker_processes or [1]
        program = seed_program(
            database,
            resellers=resellers,
            agreements=sum(claims_at(c) for c in concurrencies) * len(counts),
        )
        confirm_bank_details_for_all_claims(database, program, bank_accounts(settings, database))
        invoice = store_invoice(invoice_storage(settings), invoice_pdf())
        client = await stack.client()
        plain = await Client.connect(stack.temporal_address)  # the baseline's own converter
        per_row = f"{rounds} x concurrency (at least {MIN_CLAIMS})" if rounds else str(claims)
        print(
            f"\nlifecycle: {per_row} claims per row from submission to PAID (time scale "
            f"{time_scale:g}, return window 0 days, bank details confirmed for all claims), "
            f"the program's database on {program_database.split(':')[0]}, the worker a process "
            "of its own; baseline: bench.baseline's workflow, its worker "
            "in this process, measured on the same server just before\n",
            flush=True,
        )
        rows = []
        rates: dict[str, list[float]] = {"baseline (13 activities)": []}
        first = 0
        for concurrency in concurrencies:
            claims = claims_at(concurrency)
            base_rate = await baseline.measure(plain, claims, concurrency)
            rates["baseline (13 activities)"].append(base_rate)
            for count in counts:
                stack.set_worker_processes(count)
                await asyncio.sleep(2)  # the new processes connect and poll
                inputs = add_claims(
                    database, program, range(first, first + claims), invoice, settings.policy
                )
                first += claims
                cpu_before = workers_cpu(stack)
                started = time.perf_counter()
                rate, latencies, not_paid = await run_claims(
                    client, settings.task_queue, inputs, concurrency
                )
                elapsed = time.perf_counter() - started
                name = "program (to PAID)" if len(counts) == 1 else f"program, {count} workers"
                rates.setdefault(name, []).append(rate)
                rows.append(
                    [
                        concurrency,
                        count,
                        claims,
                        round(elapsed, 1),
                        rate,
                        base_rate,
                        round(rate / base_rate, 2),
                        percentile(latencies, 50),
                        percentile(latencies, 99),
                        round((workers_cpu(stack) - cpu_before) * 1000 / claims, 1),
                        not_paid,
                    ]
                )
                print(
                    f"  concurrency {concurrency}, {count} worker process(es): {rate:.1f} claims/s",
                    flush=True,
                )
        print(
            table(
                [
                    "concurrency",
                    "worker processes",
                    "claims",
                    "seconds",
                    "claims/s",
                    "baseline/s",
                    "ratio",
                    "p50 s",
                    "p99 s",
                    "workers' CPU ms/claim",
                    "not paid",
                ],
                rows,
            ),
            flush=True,
        )
        if plot is not None:
            plot.parent.mkdir(parents=True, exist_ok=True)
            before, after = the_machine.load.split()[0], f"{os.getloadavg()[0]:.1f}"
            svg = line_chart(
                f"Claims to PAID per second against concurrency ({the_machine.date})",
                "claims (workflows) in flight",
                "completed per second",
                concurrencies,
                dict(reversed(rates.items())),
                note=f"{the_machine.cores} cores, load {before} → {after}",
            )
            await asyncio.to_thread(plot.write_text, svg)
            print(f"\nplot: {plot}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--claims", type=int, default=200, help="claims per row")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--time-scale", type=float, default=1e-7)
    parser.add_argument("--resellers", type=int, default=20)
    parser.add_argument(
        "--worker-processes",
        type=int,
        nargs="+",
        default=[1],
        help="claim worker processes on the task queue, one row each (e.g. 1 2)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"claims per row: ROUNDS x its concurrency (at least {MIN_CLAIMS}), not --claims",
    )
    parser.add_argument(
        "--plot", type=Path, help="write an SVG of claims/s against concurrency here"
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="the program's database: a SQLite file, or a schema of its own on "
        "CASHBACK_BENCH_POSTGRES_URL (default: the local server)",
    )
    options = parser.parse_args()
    asyncio.run(
        main(
            options.claims,
            options.concurrency,
            options.time_scale,
            options.resellers,
            options.worker_processes,
            options.rounds,
            options.plot,
            options.database,
        )
    )
