"""Open claims benchmark (issue 7): what thousands of claims parked in their waits cost.

On the stack `make run` starts (`bench.stack`), claims are started without the API (claim rows
and one invoice stored in bulk, then `client.start_workflow`, 32 in flight) and parked in the
program's waits: most wait for the operators' decision (R9's review deadline timer), a share
is approved and waits for bank details (R10's notice timer), and a share of those gets valid
bank details and waits for its payout date (R15's timer). The defaults give issue 16's shape:
80 % under review, 10 % waiting for bank details, 10 % waiting for their payout day. At each
size (`--sizes`, the number of open claims reached step by step) it measures:

- the time to park the step's claims, its rate, and the CPU the worker and the Temporal
  server spent per claim parked (what limits the rate);
- resident memory (RSS, from /proc) of the worker, the Temporal server and the API;
- visibility: `count_workflows` by ClaimStatus (the three counts, and the time of one) and
  the first page (100) of `list_workflows`;
- the pages people read, all from the database (the read model): a reseller's claim list
  (`GET /claims`), the operators' review queue (`GET /operator/review-queue`, first page of
  50) and their list of claims waiting for bank details (`GET /operator/claims?status=`),
  and the worker's RSS after them (nothing should bring claims back into its cache now).

The worker keeps at most `--max-cached-workflows` workflows in memory
(`CASHBACK_WORKER_MAX_CACHED_WORKFLOWS`); past that its RSS stops growing with the number of
open claims: evicted workflows are replayed from their history when they wake up or are
queried. Nothing is asserted.

    python -m bench.open_claims [--sizes 1000 2000 3000] [--max-cached-workflows 1000]
                                [--approve 0.2] [--bank-details 0.5] [--resellers 20]
                                [--profile-worker worker-parking.svg --profile-seconds 20]

`--profile-worker` records a py-spy flame graph (SVG, threads holding the GIL) of the worker
while the first step parks its claims. `--trace-worker DIR` runs the worker as
`bench.traced_worker` (tracemalloc) and dumps its heap after each step. 100,000 open
claims, on a machine that can take hours:

    python -m bench.open_claims --sizes 1000 10000 50000 100000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowUpdateFailedError

from activities.invoices import InvoiceRef
from bench.intake import start_raw
from bench.load import closed_loop, mib, table
from bench.profile import PY_SPY
from bench.profile import record as py_spy_record
from bench.seed import (
    Program,
    add_claims,
    count_in_status,
    invoice_pdf,
    seed_program,
    store_invoice,
    wait_for_status,
)
from bench.stack import Stack, cpu_seconds, machine, run, running_stack
from cashback.claims import BankDetailsSubmission, ClaimInput, Decision, DecisionKind
from cashback.db import BankDetails
from cashback.decisions import DecisionKey
from cashback.domain.payout import HolderType
from cashback.domain.status import ClaimStatus
from cashback.wiring import bank_accounts, invoice_storage
from workflows.claim import ClaimWorkflow

START_CONCURRENCY = 32
UPDATE_CONCURRENCY = 16
PARK_TIMEOUT = 3600.0  # at least; a step of N claims may take N / 2 s (2 claims/s)
REVIEW_QUEUE_TIMEOUT = 300.0
OPEN = (
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.AWAITING_BANK_DETAILS,
    ClaimStatus.SCHEDULED_FOR_PAYMENT,
)


WORKER_RSS_TARGET_MIB = 500  # issue 16, part 4


@dataclass
class Parking:
    """One step's parking: its claims, seconds, and the CPU seconds the worker and the
    Temporal server spent meanwhile."""

    claims: int
    seconds: float
    worker_cpu: float
    server_cpu: float


@dataclass
class Sample:
    size: int
    parked: dict[ClaimStatus, int]
    visible: dict[ClaimStatus, int]
    parking: Parking
    worker_mib: float
    server_mib: float
    api_mib: float
    count_ms: float
    list_ms: float
    reseller_list_ms: float
    reseller_claims: int
    review_queue_ms: float
    review_queue_items: int
    operator_list_ms: float
    worker_after_queue_mib: float


async def timed(what: Callable[[], Awaitable[object]], repeat: int) -> float:
    """Median milliseconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await what()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class OpenClaims:
    def __init__(self, stack: Stack, program: Program, options: argparse.Namespace) -> None:
        self.stack = stack
        self.program = program
        self.options = options
        self.started = 0
        self.approved = 0
        self.with_details = 0
        self.references: dict[str, str] = {}  # reseller id -> its stored bank details
        self.timeout = PARK_TIMEOUT

    async def grow_to(self, size: int, invoice_ref: InvoiceRef) -> Parking:
        """Start claims until `size` are open, park them; the seconds and CPU it took."""
        stack = self.stack
        cpu = cpu_seconds(stack.pid("worker")), cpu_seconds(stack.pid("temporal"))
        began = time.monotonic()
        claims = size - self.started
        self.timeout = max(PARK_TIMEOUT, claims / 2)
        await self._grow_to(size, invoice_ref)
        return Parking(
            claims=claims,
            seconds=time.monotonic() - began,
            worker_cpu=cpu_seconds(stack.pid("worker")) - cpu[0],
            server_cpu=cpu_seconds(stack.pid("temporal")) - cpu[1],
        )

    async def _grow_to(self, size: int, invoice_ref: InvoiceRef) -> None:
        stack, options = self.stack, self.options
        client = await stack.client()
        settings = stack.settings
        indexes = range(self.started, size)
        inputs = add_claims(stack.database(), self.program, indexes, invoice_ref, settings.policy)
        run = await closed_loop(
            len(inputs),
            START_CONCURRENCY,
            lambda i: start_raw(client, settings.task_queue, inputs[i]),
        )
        if run.failures:
            raise RuntimeError(f"{len(run.failures)} starts failed, e.g. {run.failures[0]}")
        self.started = size
        await self._park(ClaimStatus.UNDER_REVIEW, OPEN, size, "under review (R9 wait)")

        to_approve = inputs[: round(len(inputs) * options.approve)]
        await self._each(to_approve, lambda c: self._approve(client, c))
        self.approved += len(to_approve)
        later = (ClaimStatus.AWAITING_BANK_DETAILS, ClaimStatus.SCHEDULED_FOR_PAYMENT)
        await self._park(ClaimStatus.AWAITING_BANK_DETAILS, later, self.approved, "approved")

        to_pay = to_approve[: round(len(to_approve) * options.bank_details)]
        await self._each(to_pay, lambda c: self._give_bank_details(client, c))
        self.with_details += len(to_pay)
        await self._park(
            ClaimStatus.SCHEDULED_FOR_PAYMENT,
            (ClaimStatus.SCHEDULED_FOR_PAYMENT,),
            self.with_details,
            "scheduled for payment (R15 wait)",
        )

    async def _park(
        self,
        _status: ClaimStatus,
        statuses: tuple[ClaimStatus, ...],
        expected: int,
        what: str,
    ) -> None:
        await wait_for_status(
            self.stack.database(), statuses, expected, self.timeout, what=f"claims {what}"
        )

    async def _each(
        self, claims: list[ClaimInput], action: Callable[[ClaimInput], Awaitable[None]]
    ) -> None:
        run = await closed_loop(len(claims), UPDATE_CONCURRENCY, lambda i: action(claims[i]))
        if run.failures:
            raise RuntimeError(f"{len(run.failures)} updates failed, e.g. {run.failures[0]}")

    async def _approve(self, client: Client, claim: ClaimInput) -> None:
        handle = client.get_workflow_handle_for(ClaimWorkflow.run, f"claim-{claim.claim_id}")
        approve = DecisionKey(self.stack.settings.decision_key_bytes).sign(
            Decision(kind=DecisionKind.APPROVE, operator="operator@bench.example"),
            claim_id=claim.claim_id,
            operator="operator@bench.example",
            issued_at=datetime.now(UTC),
        )  # D3: signed as the API signs it
        await handle.execute_update(
            ClaimWorkflow.decide, approve, rpc_timeout=timedelta(seconds=60)
        )

    async def _give_bank_details(self, client: Client, claim: ClaimInput) -> None:
        """R10-R13: valid company details, once the claim asks for them (it asks after its
        request e-mail went out; until then the update is refused, and sent again)."""
        reseller = claim.reseller
        reference = self.references.get(reseller.reseller_id)
        if reference is None:
            accounts = bank_accounts(self.stack.settings, self.stack.database())
            reference = await asyncio.to_thread(
                accounts.store,
                BankDetails(
                    holder_name=reseller.company_name,
                    holder_type=HolderType.COMPANY,
                    iban="DE89 3704 0044 0532 0130 00",
                    bic="COBADEFFXXX",
                ),
            )
            self.references[reseller.reseller_id] = reference
        handle = client.get_workflow_handle_for(ClaimWorkflow.run, f"claim-{claim.claim_id}")
        details = BankDetailsSubmission(
            reference=reference, holder_type=HolderType.COMPANY, holder_name=reseller.company_name
        )
        for _ in range(600):
            try:
                await handle.execute_update(
                    ClaimWorkflow.submit_bank_details, details, rpc_timeout=timedelta(seconds=60)
                )
                return
            except WorkflowUpdateFailedError:  # not asking yet: the request is on its way
                await asyncio.sleep(0.5)
        raise TimeoutError(f"claim {claim.claim_id} never asked for bank details")

    async def sample(self, size: int, parking: Parking, http: httpx.AsyncClient) -> Sample:
        stack, repeat = self.stack, self.options.repeat
        client = await stack.client()
        database = stack.database()
        parked = {status: count_in_status(database, [status]) for status in OPEN}
        await asyncio.sleep(2)  # let the last workflow tasks settle before reading memory
        worker, server, api = stack.rss("worker"), stack.rss("temporal"), stack.rss("api")

        visible = {
            status: (await client.count_workflows(f'ClaimStatus = "{status.value}"')).count
            for status in OPEN
        }
        query = 'ClaimStatus = "UNDER_REVIEW"'
        count_ms = await timed(lambda: client.count_workflows(query), repeat)

        async def first_page() -> None:
            async for _ in client.list_workflows(query, page_size=100, limit=100):
                pass

        list_ms = await timed(first_page, repeat)

        reseller = self.program.resellers[0]

        async def reseller_list() -> None:
            answer = await http.get("/claims", params={"limit": 20}, headers=reseller.headers)
            answer.raise_for_status()

        reseller_list_ms = await timed(reseller_list, repeat)
        reseller_claims = sum(1 for i in range(size) if self.program.reseller_of(i) == reseller)

        review_items = -1

        async def review_queue() -> None:
            nonlocal review_items
            answer = await http.get(
                "/operator/review-queue",
                headers=self.program.operator_headers,
                timeout=REVIEW_QUEUE_TIMEOUT,
            )
            answer.raise_for_status()
            review_items = len(answer.json()["claims"])

        try:
            review_ms = await timed(review_queue, repeat)
        except httpx.TimeoutException:
            review_items, review_ms = -1, float("inf")

        async def operator_list() -> None:
            answer = await http.get(
                "/operator/claims",
                params={"status": ClaimStatus.AWAITING_BANK_DETAILS.value},
                headers=self.program.operator_headers,
            )
            answer.raise_for_status()

        operator_list_ms = await timed(operator_list, repeat)
        await asyncio.sleep(2)
        return Sample(
            size=size,
            parked=parked,
            visible=visible,
            parking=parking,
            worker_mib=mib(worker),
            server_mib=mib(server),
            api_mib=mib(api),
            count_ms=count_ms,
            list_ms=list_ms,
            reseller_list_ms=reseller_list_ms,
            reseller_claims=reseller_claims,
            review_queue_ms=review_ms,
            review_queue_items=review_items,
            operator_list_ms=operator_list_ms,
            worker_after_queue_mib=mib(stack.rss("worker")),
        )


def sample_table(samples: list[Sample]) -> str:
    rows = [
        [
            s.size,
            " / ".join(str(s.parked[status]) for status in OPEN),
            " / ".join(str(s.visible[status]) for status in OPEN),
            s.parking.seconds,
            s.parking.claims / s.parking.seconds if s.parking.seconds else 0.0,
            s.parking.worker_cpu * 1000 / max(1, s.parking.claims),
            s.parking.server_cpu * 1000 / max(1, s.parking.claims),
            s.worker_mib,
            s.server_mib,
            s.api_mib,
            s.count_ms,
            s.list_ms,
            s.reseller_list_ms,
            s.review_queue_ms if s.review_queue_items >= 0 else f"> {REVIEW_QUEUE_TIMEOUT:.0f} s",
            s.operator_list_ms,
            s.worker_after_queue_mib,
        ]
        for s in samples
    ]
    return table(
        ["open claims", "database: review / bank details / payout", "visibility: the same",
         "s to park the step", "parked/s", "worker CPU ms/claim", "server CPU ms/claim",
         "worker MiB", "server MiB", "API MiB", "count ms", "list 100 ms", "GET /claims ms",
         "review queue ms", "operator list ms", "worker MiB after the pages"],
        rows,
    )  # fmt: skip


async def main(options: argparse.Namespace) -> None:
    print(f"machine: {machine()}", flush=True)
    sizes = sorted(options.sizes)
    began = time.monotonic()
    async with running_stack(
        max_cached_workflows=options.max_cached_workflows, heap_dir=options.trace_worker
    ) as stack:
        cache = stack.settings.worker_max_cached_workflows
        program = seed_program(stack.database(), resellers=options.resellers, agreements=sizes[-1])
        invoice_ref = store_invoice(invoice_storage(stack.settings), invoice_pdf(16 * 1024))
        run = OpenClaims(stack, program, options)
        review = 1 - options.approve
        details = options.approve * (1 - options.bank_details)
        print(
            f"\nopen claims: {review:.0%} under review / {details:.0%} waiting for bank details / "
            f"{options.approve - details:.0%} waiting for their payout day; "
            f"started with client.start_workflow ({START_CONCURRENCY} in flight), "
            f"{options.approve:.0%} approved, {options.bank_details:.0%} of those given bank "
            f"details; {options.resellers} resellers; worker max_cached_workflows = {cache}; "
            f"times (the pages too) are medians of {options.repeat} calls; "
            f"GET /claims is reseller 0's first page of 20\n",
            flush=True,
        )
        samples = []
        spy: subprocess.Popen[bytes] | None = None
        if options.profile_worker:
            if not PY_SPY.exists():
                raise SystemExit(f"py-spy is not installed: {PY_SPY}")
            options.profile_worker.parent.mkdir(parents=True, exist_ok=True)
            spy = py_spy_record(
                stack.pid("worker"), options.profile_seconds, options.profile_worker, 100, "cpu",
                "flamegraph",
            )  # fmt: skip
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
            for size in sizes:
                parking = await run.grow_to(size, invoice_ref)
                if spy is not None:
                    _, errors = await asyncio.to_thread(spy.communicate)
                    print(
                        f"  worker flame graph while parking: {options.profile_worker}"
                        + (f" (py-spy failed: {errors.decode()})" if spy.returncode else ""),
                        flush=True,
                    )
                    spy = None
                samples.append(await run.sample(size, parking, http))
                print(
                    f"  {size} open claims: {parking.claims} parked in {parking.seconds:.0f} s; "
                    f"worker {samples[-1].worker_mib:.0f} MiB ({machine().load} load)",
                    flush=True,
                )
                if options.trace_worker is not None:
                    heap = await stack.dump_worker_heap()
                    print(f"  worker heap: {heap_line(heap)}", flush=True)
                if size != sizes[-1]:  # the table so far: a long run stopped early keeps it
                    print(sample_table(samples), flush=True)
        print("\n" + sample_table(samples), flush=True)
        if len(samples) > 1:
            first, last = samples[0], samples[-1]
            growth = (last.worker_mib - first.worker_mib) / max(1, last.size - first.size) * 1000
            print(
                f"\nworker RSS growth from {first.size} to {last.size} open claims: "
                f"{growth:.1f} MiB per 1000 claims (cache bound: {cache} workflows)"
            )
        worst = max(max(s.worker_mib, s.worker_after_queue_mib) for s in samples)
        verdict = "met" if worst <= WORKER_RSS_TARGET_MIB else "missed"
        print(f"worker RSS at most {worst:.0f} MiB: <= {WORKER_RSS_TARGET_MIB} MiB {verdict}")
        total = sum(s.parking.claims for s in samples)
        seconds = sum(s.parking.seconds for s in samples)
        print(
            f"parked {total} claims in {seconds:.0f} s ({total / seconds:.1f}/s); at that rate "
            f"100,000 take {100_000 / (total / seconds) / 3600:.1f} h"
        )
    print(f"\nwhole run: {time.monotonic() - began:.0f} s")


def heap_line(heap: dict[str, Any]) -> str:
    """One line of the traced worker's figures (`bench.traced_worker`)."""
    malloc = heap.get("malloc") or {}
    return (
        f"RSS {mib(heap['rss_bytes']):.1f} MiB, traced by tracemalloc "
        f"{mib(heap['traced_bytes']):.1f} MiB, malloc in use "
        f"{mib(malloc.get('in_use_bytes', 0)):.1f} MiB / free in its arenas "
        f"{mib(malloc.get('free_in_arenas_bytes', 0)):.1f} MiB / mmapped "
        f"{mib(malloc.get('mmapped_bytes', 0)):.1f} MiB, {heap['gc_objects']} objects"
        + (
            f"; RSS after malloc_trim(0) {mib(heap['rss_after_malloc_trim_bytes']):.1f} MiB"
            if "rss_after_malloc_trim_bytes" in heap
            else ""
        )
    )


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parse.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 3000])
    parse.add_argument(
        "--max-cached-workflows", type=int, help="the worker's cache (default: the product's)"
    )
    parse.add_argument("--approve", type=float, default=0.2, help="share approved")
    parse.add_argument(
        "--bank-details", type=float, default=0.5, help="share of the approved given details"
    )
    parse.add_argument("--resellers", type=int, default=20)
    parse.add_argument("--repeat", type=int, default=5, help="calls per timed query")
    parse.add_argument(
        "--profile-worker", type=Path, metavar="SVG",
        help="a py-spy flame graph of the worker while the first step parks, written here",
    )  # fmt: skip
    parse.add_argument("--profile-seconds", type=float, default=20)
    parse.add_argument(
        "--trace-worker", type=Path, metavar="DIR",
        help="run the worker under tracemalloc (bench.traced_worker) and dump its heap here "
        "after each step (slows the worker: its CPU figures then mean nothing)",
    )  # fmt: skip
    return parse


if __name__ == "__main__":
    run(main(parser().parse_args()))
