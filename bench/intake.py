"""Intake benchmark (issue 7): `POST /claims` through the real API against raw workflow starts.

On the stack `make run` starts (`bench.stack`: Temporal dev server on a WAL SQLite file, the
claim worker, `uvicorn api.main:app`, the local mail server; invoices in the local store or in
S3 on moto's server with `--invoices s3`), for each concurrency C:

1. intake: N claims submitted with `POST /claims` (a PDF invoice of `--invoice-kib` KiB, C
   requests in flight): the API authenticates, parses the form, hashes and stores the invoice,
   writes the claim row and starts the claim's workflow;
2. raw: N `client.start_workflow` calls of the same ClaimWorkflow with the same input (claim rows
   and one invoice stored beforehand, untimed), C in flight: Temporal's own cost;

printing claims/s, p50/p95/p99 latency and the ratio intake/raw (target >= 0.8). The worker is
paused (SIGSTOP) while a phase is timed, so both phases measure the start path alone on this
2-core machine (`--worker running` leaves it on); between phases it takes every claim to its
review wait, so each phase starts on a quiet machine. The sustained intake rate is the best
end-to-end rate (claims per second from the first POST until every claim waits for review, API
and worker sharing the machine); then, open-loop at half that rate with the worker running,
POSTs arrive at a fixed rate while a reseller's claim list (`GET /claims`) and one claim
(`GET /claims/{id}`, from the database since the read model) are read at `--get-rate` each: their
p50/p95/p99 (target p99 <= 50 ms). Nothing is asserted.

    python -m bench.intake [--concurrency 1 4 16 32] [--claims 40] [--per-client 8]
                           [--invoice-kib 200] [--invoices local|s3] [--open-loop-seconds 30]
                           [--api-processes 2]   # uvicorn --workers 2 (issue 16)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from bench.load import Run, closed_loop, open_loop, table
from bench.seed import (
    Program,
    add_agreements,
    add_claims,
    invoice_pdf,
    post_claim,
    seed_program,
    store_invoice,
    wait_for_status,
)
from bench.stack import InvoiceBackend, Stack, cpu_seconds, machine, run, running_stack
from cashback.claims import ClaimInput, claim_workflow_id
from cashback.domain.status import ClaimStatus
from cashback.wiring import invoice_storage
from workflows.claim import ClaimWorkflow

RESELLERS = 10
PARKED = (ClaimStatus.UNDER_REVIEW,)
P99_TARGET_MS = 50.0
RATIO_TARGET = 0.8


@dataclass
class Level:
    concurrency: int
    claims: int
    intake: Run
    raw: Run
    api_cpu_ms: float  # API process CPU per submitted claim
    worker_cpu_ms: float  # worker process CPU per claim, taking it to its review wait
    drain_seconds: float  # after the intake phase, until the worker parked every claim

    @property
    def end_to_end(self) -> float:
        """Claims per second from the first POST until the last claim waits for review."""
        return self.intake.completed / (self.intake.elapsed + self.drain_seconds)

    @property
    def ratio(self) -> float:
        return self.intake.rate / self.raw.rate if self.raw.rate else math.nan


class Intake:
    """The claims of one run: agreement numbers are handed out once (D1)."""

    def __init__(
        self,
        stack: Stack,
        program: Program,
        http: httpx.AsyncClient,
        invoice: bytes,
        pause_worker: bool,
    ) -> None:
        self.pause_worker = pause_worker
        self.stack = stack
        self.program = program
        self.http = http
        self.invoice = invoice
        self.next_agreement = itertools.count(program.agreements)
        self.started = 0  # workflows started so far (both ways)
        self.claims_of: dict[str, list[str]] = {}  # reseller id -> its submitted claims

    def worker_off(self) -> contextlib.AbstractContextManager[None]:
        """The worker paused while a phase is timed (`--worker paused`), or left running."""
        return self.stack.worker_paused() if self.pause_worker else contextlib.nullcontext()

    def agreements(self, count: int) -> list[int]:
        indexes = [next(self.next_agreement) for _ in range(count)]
        add_agreements(self.stack.database(), self.program, indexes)
        return indexes

    async def submit(self, index: int) -> None:
        answer = await post_claim(self.http, self.program, index, self.invoice, f"bench-{index}")
        reseller = self.program.reseller_of(index)
        self.claims_of.setdefault(reseller.reseller_id, []).append(answer.json()["claim_id"])

    async def drain(self) -> float:
        """Wait until the worker took every started claim to its review wait; seconds."""
        return await wait_for_status(
            self.stack.database(), PARKED, self.started, within=900, what="parked claims"
        )


async def start_raw(client: Client, task_queue: str, claim: ClaimInput) -> None:
    """What the API's `_start_workflow` sends, without the API."""
    await client.start_workflow(
        ClaimWorkflow.run,
        claim,
        id=claim_workflow_id(claim.claim_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        static_summary=(
            f"{claim.reseller.company_name} · {claim.offer.name} · agreement "
            f"{claim.claimed.agreement_number} (claim {claim.claim_id})"
        ),
        rpc_timeout=timedelta(seconds=5),
    )


async def measure_level(run: Intake, concurrency: int, claims: int) -> Level:
    stack = run.stack
    settings = stack.settings
    client = await stack.client()
    shared = store_invoice(invoice_storage(settings), run.invoice)

    indexes = run.agreements(claims)
    cpu_before = stack.api_cpu_seconds()
    worker_before = cpu_seconds(stack.pid("worker"))
    with run.worker_off():
        intake = await closed_loop(claims, concurrency, lambda i: run.submit(indexes[i]))
    api_cpu_ms = (stack.api_cpu_seconds() - cpu_before) * 1000 / max(1, intake.completed)
    run.started += intake.completed
    drain_seconds = await run.drain()
    worker_cpu_ms = (
        (cpu_seconds(stack.pid("worker")) - worker_before) * 1000 / max(1, intake.completed)
    )

    inputs = add_claims(
        stack.database(), run.program, run.agreements(claims), shared, settings.policy
    )
    with run.worker_off():
        raw = await closed_loop(
            claims, concurrency, lambda i: start_raw(client, settings.task_queue, inputs[i])
        )
    run.started += raw.completed
    await run.drain()
    return Level(concurrency, claims, intake, raw, api_cpu_ms, worker_cpu_ms, drain_seconds)


async def measure_open_loop(run: Intake, rate: float, get_rate: float, seconds: float) -> str:
    """POSTs at `rate`, the reseller's list and one claim read at `get_rate` each, together."""
    program = run.program
    reader = program.resellers[0]
    own_claim = run.claims_of.get(reader.reseller_id, ["none"])[0]
    indexes = run.agreements(max(1, int(rate * seconds)))

    async def read_list(_: int) -> None:
        answer = await run.http.get("/claims", params={"limit": 20}, headers=reader.headers)
        answer.raise_for_status()

    async def read_one(_: int) -> None:
        answer = await run.http.get(f"/claims/{own_claim}", headers=reader.headers)
        answer.raise_for_status()

    posts, lists, reads = await asyncio.gather(
        open_loop(rate, seconds, lambda i: run.submit(indexes[i])),
        open_loop(get_rate, seconds, read_list),
        open_loop(get_rate, seconds, read_one),
    )
    run.started += posts.completed
    rows = [
        [name, f"{r:.1f}/s", done.completed, len(done.failures),
         done.ms(50), done.ms(95), done.ms(99),
         "met" if done.ms(99) <= P99_TARGET_MS else "missed"]
        for name, r, done in (
            ("POST /claims", rate, posts),
            ("GET /claims (the reseller's list)", get_rate, lists),
            ("GET /claims/{id} (the claim, from the database)", get_rate, reads),
        )
    ]  # fmt: skip
    failures = [f for r in (posts, lists, reads) for f in r.failures][:3]
    note = f"\nfirst failures: {failures}" if failures else ""
    return (
        table(
            [
                "request",
                "arrival rate",
                "requests",
                "failed",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                f"p99 <= {P99_TARGET_MS:.0f} ms",
            ],
            rows,
        )
        + note
    )


def level_table(levels: list[Level]) -> str:
    rows = [
        [
            level.concurrency,
            level.claims,
            level.intake.rate,
            level.intake.ms(50),
            level.intake.ms(95),
            level.intake.ms(99),
            level.raw.rate,
            level.raw.ms(50),
            level.raw.ms(95),
            level.raw.ms(99),
            f"{level.ratio:.2f}",
            "met" if level.ratio >= RATIO_TARGET else "missed",
            level.api_cpu_ms,
            level.worker_cpu_ms,
            level.end_to_end,
        ]
        for level in levels
    ]
    return table(
        ["concurrency", "claims", "intake/s", "p50 ms", "p95 ms", "p99 ms", "raw starts/s",
         "raw p50 ms", "raw p95 ms", "raw p99 ms", "intake/raw", f">= {RATIO_TARGET}",
         "API CPU ms/claim", "worker CPU ms/claim", "POST to review wait/s"],
        rows,
    )  # fmt: skip


async def main(options: argparse.Namespace) -> None:
    print(f"machine: {machine()}", flush=True)
    invoice = invoice_pdf(options.invoice_kib * 1024)
    backend: InvoiceBackend = options.invoices
    started = time.monotonic()
    async with running_stack(invoices=backend, api_processes=options.api_processes) as stack:
        program = seed_program(stack.database(), resellers=RESELLERS)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as http:
            run = Intake(stack, program, http, invoice, options.worker == "paused")
            print(
                f"\nintake: POST /claims with a {len(invoice) // 1024} KiB PDF, invoices in the "
                f"{backend} store, {RESELLERS} resellers, the API {options.api_processes} "
                "process(es) (uvicorn --workers); raw: client.start_workflow of the same "
                "ClaimWorkflow input on the same server; worker "
                + (
                    "paused (SIGSTOP) while a phase is timed, then it takes every claim to its "
                    "review wait"
                    if run.pause_worker
                    else "running all along; every claim reaches its review wait between phases"
                )
                + "\n",
                flush=True,
            )
            levels = []
            for concurrency in options.concurrency:
                claims = max(options.claims, concurrency * options.per_client)
                levels.append(await measure_level(run, concurrency, claims))
                print(f"  concurrency {concurrency}: done", flush=True)
            print("\n" + level_table(levels), flush=True)
            failures = [f for lv in levels for f in (*lv.intake.failures, *lv.raw.failures)]
            if failures:
                print(f"\n{len(failures)} failed requests, e.g. {failures[:3]}")

            # Sustained: what the whole program keeps up with, from the POST until the claim
            # waits for review (API and worker on these 2 cores), at the best concurrency.
            sustained = max(level.end_to_end for level in levels)
            rate = sustained / 2
            print(
                f"\nsustained intake (POST to review wait, best concurrency): {sustained:.1f} "
                f"claims/s; open loop for {options.open_loop_seconds:.0f} s at half of it "
                f"({rate:.1f} POST/s), the worker running, reads at {options.get_rate:.0f}/s "
                "each; latency counted from each request's scheduled instant\n",
                flush=True,
            )
            print(
                await measure_open_loop(run, rate, options.get_rate, options.open_loop_seconds),
                flush=True,
            )
    print(f"\nwhole run: {time.monotonic() - started:.0f} s")


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parse.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 32])
    parse.add_argument("--claims", type=int, default=40, help="claims per phase, at least")
    parse.add_argument(
        "--per-client", type=int, default=8, help="claims per phase: concurrency x this, at least"
    )
    parse.add_argument("--invoice-kib", type=int, default=200)
    parse.add_argument("--invoices", choices=["local", "s3"], default="local")
    parse.add_argument("--open-loop-seconds", type=float, default=30)
    parse.add_argument(
        "--worker",
        choices=["paused", "running"],
        default="paused",
        help="paused: the worker is stopped (SIGSTOP) while intake and raw starts are timed, so "
        "both measure the start path alone; running: it takes claims on meanwhile",
    )
    parse.add_argument("--get-rate", type=float, default=5, help="reads per second, each kind")
    parse.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="API processes (uvicorn --workers); its CPU per claim sums them",
    )
    return parse


if __name__ == "__main__":
    run(main(parser().parse_args()))
