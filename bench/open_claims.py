"""Open claims benchmark (issue 7): what thousands of claims parked in their waits cost.

On the stack `make run` starts (`bench.stack`), claims are started without the API (claim rows
and one invoice stored in bulk, then `client.start_workflow`, 32 in flight) and parked in the
program's waits: most wait for the operators' decision (R9's review deadline timer), a share
is approved and waits for bank details (R10's notice timer), and a share of those gets valid
bank details and waits for its payout date (R15's timer). At each size (`--sizes`, the number
of open claims reached step by step) it measures:

- resident memory (RSS, from /proc) of the worker, the Temporal server and the API;
- visibility: `count_workflows` and the first page (100) of `list_workflows` by ClaimStatus;
- the API: a reseller's claim list (`GET /claims`, from the database) and the operators'
  review queue (`GET /operator/review-queue`, read from the database since the read model;
  it used to query the state of every claim under review), and the worker's RSS after that
  queue (the queries brought claims back into its cache).

The worker keeps at most `--max-cached-workflows` workflows in memory
(`CASHBACK_WORKER_MAX_CACHED_WORKFLOWS`); past that its RSS stops growing with the number of
open claims: evicted workflows are replayed from their history when they wake up or are
queried. Nothing is asserted.

    python -m bench.open_claims [--sizes 1000 2000 3000] [--max-cached-workflows 1000]
                                [--approve 0.2] [--bank-details 0.5] [--resellers 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import Client, WorkflowUpdateFailedError

from activities.invoices import InvoiceRef
from bench.intake import start_raw
from bench.load import closed_loop, mib, table
from bench.seed import (
    Program,
    add_claims,
    count_in_status,
    invoice_pdf,
    seed_program,
    store_invoice,
    wait_for_status,
)
from bench.stack import Stack, machine, run, running_stack
from cashback.claims import BankDetailsSubmission, ClaimInput, Decision, DecisionKind
from cashback.db import BankDetails
from cashback.decisions import DecisionKey
from cashback.domain.payout import HolderType
from cashback.domain.status import ClaimStatus
from cashback.wiring import bank_accounts, invoice_storage
from workflows.claim import ClaimWorkflow

START_CONCURRENCY = 32
UPDATE_CONCURRENCY = 16
PARK_TIMEOUT = 3600.0
REVIEW_QUEUE_TIMEOUT = 300.0
OPEN = (
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.AWAITING_BANK_DETAILS,
    ClaimStatus.SCHEDULED_FOR_PAYMENT,
)


@dataclass
class Sample:
    size: int
    parked: dict[ClaimStatus, int]
    park_seconds: float
    worker_mib: float
    server_mib: float
    api_mib: float
    count_ms: float
    list_ms: float
    reseller_list_ms: float
    reseller_claims: int
    review_queue_ms: float
    review_queue_items: int
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

    async def grow_to(self, size: int, invoice_ref: InvoiceRef) -> float:
        """Start claims until `size` are open, park them; the seconds it took."""
        stack, options = self.stack, self.options
        client = await stack.client()
        settings = stack.settings
        began = time.monotonic()
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
        return time.monotonic() - began

    async def _park(
        self,
        _status: ClaimStatus,
        statuses: tuple[ClaimStatus, ...],
        expected: int,
        what: str,
    ) -> None:
        await wait_for_status(
            self.stack.database(), statuses, expected, PARK_TIMEOUT, what=f"claims {what}"
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

    async def sample(self, size: int, park_seconds: float, http: httpx.AsyncClient) -> Sample:
        stack, repeat = self.stack, self.options.repeat
        client = await stack.client()
        database = stack.database()
        parked = {status: count_in_status(database, [status]) for status in OPEN}
        await asyncio.sleep(2)  # let the last workflow tasks settle before reading memory
        worker, server, api = stack.rss("worker"), stack.rss("temporal"), stack.rss("api")

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

        started = time.perf_counter()
        try:
            answer = await http.get(
                "/operator/review-queue",
                headers=self.program.operator_headers,
                timeout=REVIEW_QUEUE_TIMEOUT,
            )
            answer.raise_for_status()
            review_items = len(answer.json()["claims"])
            review_ms = (time.perf_counter() - started) * 1000
        except httpx.TimeoutException:
            review_items, review_ms = -1, float("inf")
        await asyncio.sleep(2)
        return Sample(
            size=size,
            parked=parked,
            park_seconds=park_seconds,
            worker_mib=mib(worker),
            server_mib=mib(server),
            api_mib=mib(api),
            count_ms=count_ms,
            list_ms=list_ms,
            reseller_list_ms=reseller_list_ms,
            reseller_claims=reseller_claims,
            review_queue_ms=review_ms,
            review_queue_items=review_items,
            worker_after_queue_mib=mib(stack.rss("worker")),
        )


def sample_table(samples: list[Sample]) -> str:
    rows = [
        [
            s.size,
            " / ".join(str(s.parked[status]) for status in OPEN),
            s.park_seconds,
            s.worker_mib,
            s.server_mib,
            s.api_mib,
            s.count_ms,
            s.list_ms,
            s.reseller_list_ms,
            s.review_queue_ms if s.review_queue_items >= 0 else f"> {REVIEW_QUEUE_TIMEOUT:.0f} s",
            s.review_queue_items,
            s.worker_after_queue_mib,
        ]
        for s in samples
    ]
    return table(
        ["open claims", "review / bank details / payout", "s to park", "worker MiB",
         "server MiB", "API MiB", "count ms", "list 100 ms", "GET /claims ms",
         "review queue ms", "queue items", "worker MiB after queue"],
        rows,
    )  # fmt: skip


async def main(options: argparse.Namespace) -> None:
    print(f"machine: {machine()}", flush=True)
    sizes = sorted(options.sizes)
    began = time.monotonic()
    async with running_stack(max_cached_workflows=options.max_cached_workflows) as stack:
        cache = stack.settings.worker_max_cached_workflows
        program = seed_program(stack.database(), resellers=options.resellers, agreements=sizes[-1])
        invoice_ref = store_invoice(invoice_storage(stack.settings), invoice_pdf(16 * 1024))
        run = OpenClaims(stack, program, options)
        print(
            f"\nopen claims: started with client.start_workflow ({START_CONCURRENCY} in flight), "
            f"{options.approve:.0%} approved, {options.bank_details:.0%} of those given bank "
            f"details; {options.resellers} resellers; worker max_cached_workflows = {cache}; "
            f"times are medians of {options.repeat} calls (the review queue: one call); "
            f"GET /claims is reseller 0's first page of 20\n",
            flush=True,
        )
        samples = []
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
            for size in sizes:
                park_seconds = await run.grow_to(size, invoice_ref)
                samples.append(await run.sample(size, park_seconds, http))
                print(f"  {size} open claims: measured", flush=True)
        print("\n" + sample_table(samples), flush=True)
        if len(samples) > 1:
            first, last = samples[0], samples[-1]
            growth = (last.worker_mib - first.worker_mib) / max(1, last.size - first.size) * 1000
            print(
                f"\nworker RSS growth from {first.size} to {last.size} open claims: "
                f"{growth:.1f} MiB per 1000 claims (cache bound: {cache} workflows)"
            )
    print(f"\nwhole run: {time.monotonic() - began:.0f} s")


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parse.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 3000])
    parse.add_argument("--max-cached-workflows", type=int, default=1000)
    parse.add_argument("--approve", type=float, default=0.2, help="share approved")
    parse.add_argument(
        "--bank-details", type=float, default=0.5, help="share of the approved given details"
    )
    parse.add_argument("--resellers", type=int, default=20)
    parse.add_argument("--repeat", type=int, default=5, help="calls per timed query")
    return parse


if __name__ == "__main__":
    run(main(parser().parse_args()))
