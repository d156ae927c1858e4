"""The simulated finance desk of `make run` and `make demo` (development only, R14, R16, D5):
it pays the claims due as a finance team does, through the operators' own services, so that
the program pays by itself on a developer's machine.

Each step, on each program day (`make demo`: every ten seconds) or every few seconds
(`make run`):

1. one demo finance operator prepares a payment run of the orders due (`PaymentRuns.prepare`)
   and a second one releases it (`PaymentRuns.release`): four eyes, two operator accounts of
   the database, each recorded on the run;
2. the simulated bank (`SimulatedBankChannel`) answers the released file in the outbox with
   `pain.002` and `camt.054` files in the inbox (and, a day later, the returns it was told to
   make);
3. the inbox is imported as the operators import it (`import_inbox`), and the payment
   activities waiting for the answers are completed (`complete_payments`).

A step with nothing to do does nothing: no order due, no file in the outbox, none in the inbox.
A run the desk prepared but did not release (the program stopped in between) is released by
the next step; a run an operator prepared is left to the operators. Each step that did
something logs one line: the run, its sums, who prepared and released it, what the import did.
No IBAN is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from anyio import to_thread
from sqlalchemy import select
from temporalio.client import Client

from cashback.bank.simulated_channel import SimulatedBankChannel
from cashback.bank_answers import (
    AfterCommit,
    BankAnswerImports,
    InboxFile,
    complete_payments,
    import_inbox,
)
from cashback.db import Database
from cashback.db.tables import PaymentRunStatus, User, UserRole
from cashback.domain.sepa import decimal_amount
from cashback.payment_runs import PaymentRuns, RunRefused, RunSummary
from cashback.refusals import Refused

log = logging.getLogger("cashback.finance_desk")


class DeskRefused(Refused):
    """The desk cannot work as configured (an account that is no operator, one operator twice)."""


def verified_operator(database: Database, email: str) -> str:
    """The operator account of `email`, as stored: an operator whose address is confirmed.
    Raises `DeskRefused` for an address that is no such account."""
    with database.reading() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.role is not UserRole.OPERATOR or user.email_confirmed_at is None:
        raise DeskRefused(
            "not_an_operator",
            f"{email} is no operator account: create it (python -m api.cli create-operator) "
            "or switch the finance desk off (CASHBACK_FINANCE_DESK=false)",
        )
    return user.email


@dataclass(frozen=True)
class DeskStep:
    """What one step did: the run released (if any), the bank's answers written, the files
    imported and the payment activities to complete."""

    run: RunSummary | None = None
    answered: tuple[str, ...] = ()
    imported: tuple[InboxFile, ...] = ()
    completions: tuple[AfterCommit, ...] = ()

    @property
    def did_something(self) -> bool:
        return self.run is not None or bool(self.answered) or bool(self.imported)

    def results(self) -> Counter[str]:
        """The import's entries by result (paid, rejected, returned_after_payment ...)."""
        return Counter(
            entry.result
            for file in self.imported
            if file.report is not None
            for entry in file.report.entries
        )

    def line(self) -> str:
        """The step as one log line: no IBAN, no name on an account."""
        if self.run is None:
            said = "no run due"
        else:
            run = self.run
            said = (
                f"run {run.run_id} ({run.message_id}): {run.number_of_transactions} transfers, "
                f"{decimal_amount(run.control_sum_minor_units, run.currency)} {run.currency} "
                f"for {run.execution_date.isoformat()}, prepared by {run.prepared_by}, "
                f"released by {run.released_by}"
            )
        results = self.results()
        counted = ", ".join(f"{result} {count}" for result, count in sorted(results.items()))
        refused = sum(1 for file in self.imported if file.refused is not None)
        files = "bank file" if len(self.imported) == 1 else "bank files"
        imported = f"{len(self.imported)} {files} imported" + (f" ({counted})" if counted else "")
        if refused:
            imported += f", {refused} refused (see bank-inbox/refused/)"
        return f"{said}; {imported}"


class SimulatedFinanceDesk:
    """Two demo finance operators and the simulated bank, paying through the services."""

    def __init__(
        self,
        database: Database,
        runs: PaymentRuns,
        imports: BankAnswerImports,
        channel: SimulatedBankChannel,
        inbox: Path,
        preparer: str,
        releaser: str,
    ) -> None:
        self.preparer = verified_operator(database, preparer)
        self.releaser = verified_operator(database, releaser)
        if self.preparer == self.releaser:
            raise DeskRefused(
                "four_eyes",
                "the finance desk needs two operators: one prepares a run, another releases it",
            )
        self._runs = runs
        self._imports = imports
        self._channel = channel
        self._inbox = inbox

    def step(self) -> DeskStep:
        """Prepare and release a run of the orders due, let the bank answer, import the inbox
        (blocking: database and files). The payment activities are completed by `work`."""
        run = self._run_due()
        answered = tuple(self._channel.answer_released_files())
        imported, completions = import_inbox(self._imports, self._inbox, self.preparer)
        return DeskStep(run, answered, tuple(imported), completions)

    def _run_due(self) -> RunSummary | None:
        waiting = self._own_waiting_run()
        if waiting is None:
            try:
                waiting = self._runs.prepare(self.preparer).run_id
            except RunRefused as refusal:
                if refusal.code == "nothing_due":
                    return None
                if refusal.code == "run_open":  # an operator's run: theirs to release
                    log.info("finance desk waits: %s", refusal.detail)
                    return None
                raise
        return self._runs.release(waiting, self.releaser)

    def _own_waiting_run(self) -> str | None:
        """A run this desk prepared and did not release, or released and could not hand to
        the bank channel: the program stopped, or the outbox failed, in between."""
        for run in self._runs.runs():
            if run.status is PaymentRunStatus.PREPARED and run.prepared_by == self.preparer:
                return run.run_id
            if (
                run.status is PaymentRunStatus.RELEASED
                and run.sent_at is None
                and run.released_by == self.releaser
            ):
                return run.run_id
        return None

    async def work_once(self, temporal: Client) -> DeskStep:
        """One step, then the waiting payment activities completed with the answers."""
        done = await to_thread.run_sync(self.step)
        await complete_payments(temporal, done.completions, self._imports)
        if done.did_something:
            log.info("finance desk: %s", done.line())
        return done

    async def work(self, temporal: Client, every_seconds: float) -> None:
        """A step every `every_seconds` until cancelled; a step that fails is logged (its
        refusal's sentence) and the next one tries again."""
        while True:
            try:
                await self.work_once(temporal)
            except Refused as refusal:
                log.warning("finance desk step not taken: %s: %s", refusal.code, refusal.detail)
            except Exception:
                log.exception("finance desk step failed; trying again in %s s", every_seconds)
            await asyncio.sleep(every_seconds)
