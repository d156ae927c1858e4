"""Temporal for the claim workflow, in the core: the client connection (pydantic models), the
workflow's sandbox, the claim worker with its activities, and the replayer. The entry points
(`worker.py`, the API, `make run`, the benchmarks) import it; it imports none of them."""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import CodeType, ModuleType
from typing import Any, ClassVar

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox import _runner as sandbox_runner

import workflows.claim
import workflows.webhooks
from activities.bank_details import BankDetailsActivities
from activities.budgets import BudgetActivities
from activities.calendar import CalendarActivities
from activities.eligibility import EligibilityActivities
from activities.invoices import InvoiceActivities
from activities.mail import MailActivities
from activities.payee import PayeeActivities
from activities.payments import PaymentActivities
from activities.records import RecordsActivities
from activities.webhooks import WebhookActivities
from cashback.decisions import DecisionKey, trust_on
from workflows.claim import ClaimWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow

TASK_QUEUE = "claims"

# Modules the sandbox takes from the worker's own imports instead of importing them afresh for
# every workflow run: the pure rules and models the workflows use (cashback.domain, the claim's
# pydantic models, the activities' contracts and models, search attributes, the decision
# keys), and what those models load lazily (e-mail validation). All are deterministic and keep
# no state the workflow changes. Listed here, not only in each workflow's
# `imports_passed_through()` block, so that a lazy import or one outside the block is passed
# through too. The workflow modules themselves stay sandboxed: their re-import per run (about
# 15 ms of CPU, docs/performance.md) is what guards their globals and their calls.
PURE_MODULES = (
    "activities",
    "cashback.claims",
    "cashback.decisions",
    "cashback.domain",
    "cashback.search_attributes",
    "email_validator",
    "idna",
)


@dataclass(frozen=True)
class ClaimActivities:
    """Every activity the claim workflow calls, each class with its dependencies injected."""

    records: RecordsActivities
    mail: MailActivities
    invoices: InvoiceActivities
    eligibility: EligibilityActivities
    payments: PaymentActivities
    bank_details: BankDetailsActivities
    budgets: BudgetActivities
    payee: PayeeActivities
    calendar: CalendarActivities = field(default_factory=CalendarActivities)

    def functions(self) -> Sequence[Callable[..., Any]]:
        return [
            self.calendar.review_deadline,
            self.records.append_timeline,
            self.mail.send_notice,
            self.invoices.check_invoice,
            self.eligibility.check_claim,
            self.eligibility.release_licences,
            self.eligibility.hold_approved_licences,
            self.payments.pay,
            self.bank_details.standing_confirmation,
            self.budgets.commit,
            self.budgets.consume,
            self.budgets.release,
            self.budgets.reopen,
            self.payee.verify,
        ]


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox the claim workflow runs in, here and in replay tests."""
    compile_sandbox_code_once()
    share_workflow_code()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PURE_MODULES)
    )


@functools.lru_cache(maxsize=128)
def _compiled(code: str) -> Any:
    return compile(code, "<temporal sandbox>", "exec")


def compile_sandbox_code_once() -> bool:
    """Let the sandbox compile each of its code strings once instead of at every call.

    temporalio 1.35's sandbox enters a workflow by `exec` of a short code string, at every
    activation and twice for every payload sequence the worker encodes or decodes (to find
    its serialization and storage context); `exec` of a string compiles it anew each time. Those
    strings are a handful of constants (one per workflow class for the import), so compiling
    each once and handing the SDK's own `_run_code` the code object instead does the same thing
    (`exec` takes either): a claim's replay costs about a fifth less CPU (docs/performance.md,
    issue 16). The SDK's method is private: the wrapper is applied only where it has the shape
    this was measured on (`tests/workflows/test_worker_tuning.py` fails when an upgrade changes
    it), and the change is proposed to temporalio. Answers whether it is in place."""
    instance = getattr(sandbox_runner, "_Instance", None)
    run_code = getattr(instance, "_run_code", None)
    if instance is None or run_code is None:
        return False
    if getattr(run_code, "compiles_once", False):
        return True
    if list(inspect.signature(run_code).parameters) != ["self", "code", "extra_globals"]:
        return False  # not the method this was made for: leave the SDK as it is

    @functools.wraps(run_code)
    def run_compiled(self: Any, code: Any, **extra_globals: Any) -> None:
        run_code(self, _compiled(code) if isinstance(code, str) else code, **extra_globals)

    run_compiled.compiles_once = True  # type: ignore[attr-defined]
    instance._run_code = run_compiled
    return True


def replayer() -> Replayer:
    """Replays claim histories against the current workflow code (determinism checks)."""
    return Replayer(
        workflows=[ClaimWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )


async def connect(
    target: str,
    namespace: str = "default",
    data_converter: DataConverter = pydantic_data_converter,
    runtime: Runtime | None = None,
) -> Client:
    """A client that speaks the pydantic models of the claim workflow (encrypted in every
    process of the program: `cashback.wiring.data_converter`); on `runtime` if given (the
    worker's, exporting the SDK's metrics)."""
    return await Client.connect(
        target, namespace=namespace, data_converter=data_converter, runtime=runtime
    )


def metrics_runtime(bind_address: str) -> Runtime:
    """A Temporal runtime whose telemetry serves the SDK's own metrics (workflow and activity
    task latencies, schedule-to-start, polls, sticky cache, failures) in Prometheus' format at
    `http://<bind_address>/metrics`. One per process: the address is bound once."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


class _SharedCodeLoader(importlib.machinery.SourceFileLoader):
    """Loads a workflow module's code object once per process (and again only when its source
    changes): the sandbox's imports of the module then execute the same immutable code object
    in a fresh module each, as they would the one they unmarshalled themselves."""

    _code: ClassVar[dict[tuple[str, int], CodeType]] = {}

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        key = (path, os.stat(path).st_mtime_ns)
        code = self._code.get(key)
        if code is None:
            loaded = super().get_code(fullname)
            assert loaded is not None  # a source file always has code
            code = self._code[key] = loaded
        return code


class _WorkflowCodeFinder(importlib.abc.MetaPathFinder):
    """Finds the workflow modules (by name, at their files) with `_SharedCodeLoader`."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, file, loader=_SharedCodeLoader(fullname, file)
        )


def share_workflow_code() -> None:
    """Let the sandbox import the workflow modules without unmarshalling (or, where Python may
    not write bytecode, compiling) them every time. It imports `workflows/claim.py` afresh for
    every workflow it loads: each new claim, and each claim evicted from the cache that wakes
    up. The module is still executed afresh each time, into a module of the sandbox's own,
    so its globals stay per run; only the code object, which cannot change, is shared. Each
    cached claim then holds no code of its own (about 128 KiB each, docs/performance.md)."""
    if any(isinstance(finder, _WorkflowCodeFinder) for finder in sys.meta_path):
        return
    files = {
        module.__name__: module.__file__
        for module in (workflows.claim, workflows.webhooks)
        if module.__file__
    }
    sys.meta_path.insert(0, _WorkflowCodeFinder(files))


def claim_worker(
    client: Client,
    activities: ClaimActivities,
    *,
    decision_key: bytes,
    task_queue: str = TASK_QUEUE,
    max_activity_threads: int = 16,
    max_cached_workflows: int = 500,
    workflow_task_pollers: int = 5,
    activity_task_pollers: int = 5,
) -> Worker:
    """A worker for claims. Database, S3, SMTP and bank calls block, so the activities are
    synchronous and run on a thread pool, never on the event loop. The `decide` validator
    verifies operators' decisions with `decision_key` (CASHBACK_DECISION_KEY). The tuning
    (`CASHBACK_WORKER_*`, docs/performance.md "The worker's settings")."""
    share_workflow_code()
    trust_on(task_queue, DecisionKey(decision_key))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ClaimWorkflow],
        workflow_runner=workflow_runner(),
        activities=activities.functions(),
        activity_executor=ThreadPoolExecutor(max_workers=max_activity_threads),
        # No more activity tasks taken than threads to run them: a task taken beyond them
        # would wait in the pool's queue, its timeout running, while another worker process
        # on the task queue could have run it (the SDK's default takes 100).
        max_concurrent_activities=max_activity_threads,
        max_concurrent_workflow_task_polls=workflow_task_pollers,
        max_concurrent_activity_task_polls=activity_task_pollers,
        # Workflows kept in memory between their tasks; an evicted one is replayed from its
        # history when it wakes up. Bounds the worker's memory (docs/performance.md).
        max_cached_workflows=max_cached_workflows,
    )


def webhook_worker(
    client: Client,
    activities: WebhookActivities,
    *,
    task_queue: str,
    max_activity_threads: int = 8,
) -> Worker:
    """A worker for the webhook delivery workflows (issue 17), on a task queue of their own
    (`Settings.webhook_task_queue`); the POSTs block, so the activities run on a thread pool."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[WebhookDeliveryWorkflow],
        workflow_runner=workflow_runner(),
        activities=[activities.next_delivery, activities.deliver, activities.give_up],
        activity_executor=ThreadPoolExecutor(max_workers=max_activity_threads),
    )
