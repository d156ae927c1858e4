"""The program as real processes, for the fault tests (issue 6): the Temporal dev server started
as `make run` starts it (`cashback.run.start_temporal`: a SQLite file with WAL pragmas, the
claim search attributes), claim workers as processes of their own (`python worker.py`, or the
barrier worker of tests/faults/barrier_worker.py), and what they work on: the migrated SQLite
database, the local mail server keeping .eml files, the simulated bank's ledger, and claims
seeded as the API leaves them (the rows, the invoice, the licensing record).

A test plays the operator and the reseller with the workflow's own messages (`decide`,
`submit_bank_details`); the bank details are stored encrypted with `BankAccounts`, as the secure
page does. Every process started here is stopped on teardown, and killed if it does not stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from activities.records import TimelineEntry
from bench.stack import free_port
from cashback.claims import (
    BankDetailsSubmission,
    ClaimInput,
    ClaimOutcome,
    ClaimState,
    Decision,
    DecisionKind,
    claim_workflow_id,
)
from cashback.config import Settings
from cashback.db import BankDetails, Database, LicensingRepository, SqlTimeline, upgrade_to_head
from cashback.db.snapshots import claim_input_of
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus, NoticeKind
from cashback.invoices import LocalInvoiceStorage
from cashback.local_mail import start_local_mail
from cashback.mail.smtp import NOTICE_HEADER
from cashback.run import start_temporal, wait_for_temporal
from cashback.wiring import bank_accounts, open_database
from tests.db.seed import add_offer, add_reseller, new_claim
from tests.decisions import signed
from tests.integration.program import invoice_ref, licensing_record_of
from workflows.claim import ClaimWorkflow

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
COMPANY = "Acme Software GmbH"  # the reseller of every seeded claim (tests.db.seed)
IBAN = "DE89 3704 0044 0532 0130 00"
LICENCES = 20  # on every seeded agreement, all eligible under the seeded offer: 20 x 12.50 EUR
SALE_DATE = date(2026, 3, 2)  # inside the seeded offer's sale window
OPERATOR = "olga.operator"
QUERY_TIMEOUT = timedelta(seconds=10)

T = TypeVar("T")
M = TypeVar("M")
R = TypeVar("R")


class ServerExited(RuntimeError):
    """The dev server's process ended before it answered (a port another process took)."""


class DevServer:
    """`temporal server start-dev` on a file database, as `make run` starts it; it can be
    killed (SIGKILL) and started again on the same file and port."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The Web UI (a port of its own) and its codec endpoint (no API runs) are unused here.
        self.process = start_temporal(self.settings, HOST, self.port, free_port(), free_port())

    async def client(self, seconds: float = 90) -> Client:
        """A client of the program (encrypted payloads), once the server answers; a server
        that exited meanwhile fails at once, saying so (its log is temporal.log)."""
        waiting = asyncio.ensure_future(wait_for_temporal(self.settings, seconds))
        while not waiting.done():
            if self.process is not None and self.process.poll() is not None:
                waiting.cancel()
                raise ServerExited(
                    f"the Temporal dev server on port {self.port} exited with "
                    f"{self.process.returncode}; see {self.settings.data_dir / 'temporal.log'}"
                )
            await asyncio.sleep(0.2)
        return waiting.result()

    def kill(self) -> None:
        """SIGKILL: no shutdown, whatever was in flight is lost to the server's process."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def worker_environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker process: these settings as CASHBACK_* variables (as
    `cashback.run.start_worker` passes them), none inherited from the test's environment."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CASHBACK_")}
    return inherited | {
        "CASHBACK_DATA_DIR": str(settings.data_dir),
        "CASHBACK_TEMPORAL_ADDRESS": settings.temporal_address,
        "CASHBACK_TASK_QUEUE": settings.task_queue,
        "CASHBACK_SMTP_HOST": settings.smtp_host,
        "CASHBACK_SMTP_PORT": str(settings.smtp_port),
        "CASHBACK_PUBLIC_BASE_URL": settings.public_base_url,
        "CASHBACK_DEMO_DATA": "false",
        "CASHBACK_POLICY": settings.policy.model_dump_json(),
        "CASHBACK_DECISION_KEY": settings.decision_key.get_secret_value(),  # D3: as the tests sign
        **(extra or {}),
    }


class WorkerProcess:
    """A claim worker in a process (and process group) of its own, logging to data_dir."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        command: Sequence[str],
        extra: dict[str, str],
        *,
        doomed: bool = False,
    ) -> None:
        self.name = name
        self.doomed = doomed  # killed, never stopped: a barrier worker would not stop
        log = (settings.data_dir / f"{name}.log").open("ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, *command],
                cwd=ROOT,
                env=worker_environment(settings, extra),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill reaches every thread and child
            )
        finally:
            log.close()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker's process group: activities in flight never complete."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (the worker shuts down), SIGKILL if it has not stopped after 20 s."""
        if not self.alive:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass(frozen=True)
class Seeded:
    """A claim as the API leaves it on submission, and the workflow's input."""

    claim: ClaimInput

    @property
    def claim_id(self) -> str:
        return self.claim.claim_id


@dataclass
class FaultProgram:
    """The program on real processes: dev server, workers, database, mail, bank ledger."""

    settings: Settings
    server: DevServer
    database: Database
    mail: Controller
    client: Client
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    # ---- processes ------------------------------------------------------------------------

    def start_worker(self, name: str = "worker", task_queue: str | None = None) -> WorkerProcess:
        """`python worker.py`: the program's worker, as `make run` and production run it."""
        settings = self._on(task_queue)
        return self._started(WorkerProcess(settings, name, ["worker.py"], {}))

    def start_barrier_worker(
        self,
        barrier: Path,
        threads: int,
        name: str,
        task_queue: str | None = None,
        notice: NoticeKind | None = None,
    ) -> WorkerProcess:
        """`python -m tests.faults.barrier_worker`: blocks every payment after the bank's
        answer (or with `notice`, every notice of that kind after it was sent), once it has
        left a marker `<barrier>/<claim_id>`."""
        barrier.mkdir(parents=True, exist_ok=True)
        extra = {"FAULT_BARRIER_DIR": str(barrier), "FAULT_BARRIER_THREADS": str(threads)}
        if notice is not None:
            extra["FAULT_BARRIER_NOTICE"] = notice.value
        command = ["-m", "tests.faults.barrier_worker"]
        worker = WorkerProcess(self._on(task_queue), name, command, extra, doomed=True)
        return self._started(worker)

    def _on(self, task_queue: str | None) -> Settings:
        if task_queue is None:
            return self.settings
        return self.settings.model_copy(update={"task_queue": task_queue})

    def _started(self, worker: WorkerProcess) -> WorkerProcess:
        self.workers.append(worker)
        return worker

    # ---- claims ---------------------------------------------------------------------------

    def seed(
        self, count: int, policy: ProgramPolicy, *, known_agreement: bool = True
    ) -> list[Seeded]:
        """`count` submitted claims of one reseller under one offer (R5, R6: the invoice stored,
        the terms accepted), each for its own customer and agreement. With `known_agreement`
        the licensing records hold the agreement (the automatic verdict is conclusive, R8);
        without, the verdict is inconclusive and the review deadline escalates (R9)."""
        batch = uuid.uuid4().hex[:8]
        invoices = LocalInvoiceStorage(self.data_dir / "invoices")
        now = datetime.now(UTC)
        seeded: list[Seeded] = []
        with self.database.transaction() as session:
            reseller = add_reseller(session, f"reseller-{batch}")
            offer = add_offer(session, f"offer-{batch}", max_licences=LICENCES)
            session.flush()
            for number in range(count):
                claim_id = f"{batch}-{number:05d}"
                stored = invoices.put(
                    f"claims/{claim_id}/invoice.pdf",
                    b"%PDF-1.7 invoice of claim " + claim_id.encode(),
                    "application/pdf",
                )
                claim = new_claim(claim_id, offer_id=offer.id)
                claim.reseller_id = reseller.id
                claim.customer_name = f"Customer {claim_id}"  # R3 counts per customer
                claim.invoice_object_key = stored.object_key
                claim.invoice_sha256 = stored.sha256
                claim.terms_accepted_at = claim.created_at = claim.updated_at = now
                session.add(claim)
                if known_agreement:
                    LicensingRepository(session).add_agreement(
                        licensing_record_of(claim, COMPANY, reseller.vat_id), imported_at=now
                    )
                seeded.append(
                    Seeded(claim_input_of(reseller, offer, claim, invoice_ref(stored), policy))
                )
        return seeded

    async def submit(
        self,
        claims: Iterable[Seeded],
        task_queue: str | None = None,
        task_timeout: timedelta | None = None,
    ) -> list[WorkflowHandle[Any, ClaimOutcome]]:
        """Start one claim workflow per claim, as the API does after storing it (`task_timeout`:
        the workflow task's, shorter than the server's 10 s default, for a test that waits for a
        killed worker's task to time out)."""

        async def start(seeded: Seeded) -> WorkflowHandle[Any, ClaimOutcome]:
            return await self.client.start_workflow(
                ClaimWorkflow.run,
                seeded.claim,
                id=claim_workflow_id(seeded.claim_id),
                task_queue=task_queue or self.settings.task_queue,
                task_timeout=task_timeout,
            )

        return await gather_limited([start(seeded) for seeded in claims])

    def handle(self, claim_id: str) -> WorkflowHandle[Any, ClaimOutcome]:
        return self.client.get_workflow_handle_for(ClaimWorkflow.run, claim_workflow_id(claim_id))

    async def state(self, claim_id: str) -> ClaimState:
        state: ClaimState = await self.handle(claim_id).query(
            ClaimWorkflow.state, rpc_timeout=QUERY_TIMEOUT
        )
        return state

    async def wait_for(
        self,
        claim_id: str,
        status: ClaimStatus,
        *,
        escalated: bool = False,
        seconds: float = 120,
    ) -> ClaimState:
        """Poll the `state` query until the claim has `status` and waits (on a timer or a
        message), escalated if asked; a query that fails (no worker, no server) is retried."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        last = "no answer"
        while loop.time() < deadline:
            try:
                state = await self.state(claim_id)
            except RPCError as error:
                last = f"query failed: {error}"
            else:
                if (
                    state.status is status
                    and state.waiting_for
                    and (state.escalated or not escalated)
                ):
                    return state
                last = f"{state.status.value}, waiting for {state.waiting_for!r}"
            await asyncio.sleep(0.5)
        raise AssertionError(f"claim {claim_id} never reached {status.value}: {last}")

    async def as_they_reach(
        self,
        claim_ids: Sequence[str],
        status: ClaimStatus,
        act: Callable[[str], Coroutine[Any, Any, T]],
        seconds: float = 180,
    ) -> list[T]:
        """`act(claim_id)` for each claim as soon as Temporal's visibility shows it in `status`
        (the ClaimStatus search attribute): one list call for all the claims twice a second,
        instead of asking each claim (a query or an update is a workflow task on the worker)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        waiting = {claim_workflow_id(claim): claim for claim in claim_ids}
        acting: dict[str, asyncio.Task[T]] = {}
        query = f'ExecutionStatus = "Running" AND ClaimStatus = "{status.value}"'
        try:
            while waiting:
                if loop.time() > deadline:
                    raise AssertionError(f"{len(waiting)} claims never reached {status.value}")
                with contextlib.suppress(RPCError):
                    async for found in self.client.list_workflows(query):
                        if (claim := waiting.pop(found.id, None)) is not None:
                            acting[claim] = asyncio.create_task(act(claim))
                if waiting:
                    await asyncio.sleep(0.5)
            return [await acting[claim] for claim in claim_ids]
        finally:
            for task in acting.values():
                task.cancel()

    async def approve(self, claim_id: str) -> None:
        """The operator approves the claim once it is under review (R8, R9)."""
        approve = Decision(kind=DecisionKind.APPROVE, operator=OPERATOR)
        await self._update(claim_id, ClaimWorkflow.decide, signed(approve, claim_id))

    async def reject(self, claim_id: str, *, escalated: bool = False) -> None:
        """The operator rejects the claim under review (R8), or once it was escalated (R9)."""
        if escalated:
            await self.wait_for(claim_id, ClaimStatus.UNDER_REVIEW, escalated=True)
        decision = Decision(kind=DecisionKind.REJECT, operator=OPERATOR, reasons=("not eligible",))
        await self._update(claim_id, ClaimWorkflow.decide, signed(decision, claim_id))

    async def give_bank_details(
        self, claim_id: str, holder_type: HolderType = HolderType.COMPANY
    ) -> BankDetailsJudgement:
        """What the secure page does (R10-R13): store the details encrypted, hand the workflow
        their reference and the facts it judges, once it asks for them."""
        details = BankDetails(holder_name=COMPANY, holder_type=holder_type, iban=IBAN)
        reference = bank_accounts(self.settings, self.database).store(details)
        submission = BankDetailsSubmission(
            reference=reference, holder_type=holder_type, holder_name=COMPANY
        )
        judgement: BankDetailsJudgement = await self._update(
            claim_id, ClaimWorkflow.submit_bank_details, submission
        )
        return judgement

    async def _update(
        self,
        claim_id: str,
        update: UpdateMethodMultiParam[[ClaimWorkflow, M], R],
        message: M,
        seconds: float = 120,
    ) -> R:
        """Send the update as soon as the claim takes it: one refused by the workflow's
        validator (not yet under review, no bank details asked for yet) or not answered (no
        server) is sent again every half second, under the same update id (Temporal applies an
        update id once)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        update_id = f"{type(message).__name__}-{uuid.uuid4().hex}"
        while True:
            try:
                result: R = await self.handle(claim_id).execute_update(
                    update,
                    message,
                    id=update_id,
                )
                return result
            except (
                WorkflowUpdateFailedError,
                WorkflowUpdateRPCTimeoutOrCancelledError,
                RPCError,
            ) as error:
                if loop.time() > deadline:
                    raise AssertionError(f"claim {claim_id} refused {message!r}") from error
            await asyncio.sleep(0.5)

    async def outcomes(
        self, claim_ids: Sequence[str], seconds: float
    ) -> dict[str, ClaimOutcome | None]:
        """How each claim ended; None for one that did not end within `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def outcome(claim_id: str) -> ClaimOutcome | None:
            while (remaining := deadline - loop.time()) > 0:
                try:
                    return await asyncio.wait_for(self.handle(claim_id).result(), remaining)
                except TimeoutError:
                    return None
                except RPCError:  # the server is not back yet: ask again
                    await asyncio.sleep(0.5)
            return None

        results = await gather_limited([outcome(claim_id) for claim_id in claim_ids])
        return dict(zip(claim_ids, results, strict=True))

    # ---- what the program left behind -------------------------------------------------------

    def timeline(self, claim_id: str) -> list[TimelineEntry]:
        return SqlTimeline(self.database).of(claim_id)

    def ledger(self) -> list[tuple[str, str, str, str | None]]:
        """Every transfer booked by the simulated bank: (claim id, idempotency key, outcome,
        bank reference)."""
        path = self.data_dir / "simulated-bank.sqlite3"
        if not path.exists():
            return []
        with closing(sqlite3.connect(path, timeout=30)) as db:
            rows = db.execute(
                "SELECT claim_id, idempotency_key, outcome, bank_reference FROM transfers"
            )
            return [(str(a), str(b), str(c), d) for a, b, c, d in rows]

    def payments(self) -> list[tuple[str, str, str, str | None]]:
        """The program's payments table: (claim id, idempotency key, status, bank reference)."""
        with closing(sqlite3.connect(self.data_dir / "cashback.sqlite3", timeout=30)) as db:
            rows = db.execute(
                "SELECT claim_id, idempotency_key, status, bank_reference FROM payments"
            )
            return [(str(a), str(b), str(c), d) for a, b, c, d in rows]

    def mails_per_notice(self) -> Counter[str]:
        """How many e-mails the mail server received per notice key (claim/kind/number)."""
        parser = BytesHeaderParser()
        counts: Counter[str] = Counter()
        for path in (self.data_dir / "mail").glob("*.eml"):
            counts[str(parser.parsebytes(path.read_bytes()).get(NOTICE_HEADER, ""))] += 1
        return counts


async def gather_limited(awaitables: Sequence[Awaitable[T]], limit: int = 50) -> list[T]:
    """`asyncio.gather`, at most `limit` at a time (a 2-core machine serves the other side)."""
    semaphore = asyncio.Semaphore(limit)

    async def one(awaitable: Awaitable[T]) -> T:
        async with semaphore:
            return await awaitable

    return list(await asyncio.gather(*(one(awaitable) for awaitable in awaitables)))


async def poll_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def fault_program(data_dir: Path, policy: ProgramPolicy) -> AsyncIterator[FaultProgram]:
    """The dev server (file database), the migrated SQLite database and the local mail server,
    on free ports and in `data_dir`; workers are started by the test. Everything started is
    stopped when the block ends, whatever happened in it."""
    settings = Settings(
        data_dir=data_dir,
        database_url="",  # SQLite in data_dir, whatever the environment says
        task_queue=f"claims-faults-{uuid.uuid4().hex[:8]}",
        smtp_host=HOST,
        smtp_port=free_port(),
        public_base_url=f"http://{HOST}:{free_port()}",
        demo_data=False,
        policy=policy,
    )
    database = open_database(settings)  # creates data_dir
    mail: Controller | None = None
    program: FaultProgram | None = None
    server: DevServer | None = None
    try:
        upgrade_to_head(settings.resolved_database_url)
        mail = start_local_mail(data_dir / "mail", settings.smtp_host, settings.smtp_port)
        for attempt in range(1, 4):  # free ports are free when chosen, not always when bound
            port = free_port()
            settings = settings.model_copy(update={"temporal_address": f"{HOST}:{port}"})
            server = DevServer(settings, port)
            server.start()
            try:
                client = await server.client()
                break
            except ServerExited:
                server.stop()
                if attempt == 3:
                    raise
        assert server is not None
        program = FaultProgram(settings, server, database, mail, client)
        yield program
    finally:
        if program is not None:
            for worker in program.workers:
                worker.kill() if worker.doomed else worker.stop()
        database.dispose()
        if mail is not None:
            mail.stop()
        if server is not None:
            server.stop()
