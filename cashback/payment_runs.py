"""Payment runs as a finance team runs them (R14, R16, D5), as application services.

- `prepare`: the payment orders due (queued by the claims' payment activities, which wait) are
  collected into one SEPA credit transfer file, `pain.001.001.09`, for the program's debtor
  account, requested for the next TARGET2 business day; the file and the list of its claims
  are stored. One open run per debtor account, so a claim is in at most one open run.
- `release`: a second operator, never the one who prepared the run, releases it (four eyes);
  only then does the file go to the bank channel (the outbox folder). A released file never
  changes: it is read back against the SHA-256 recorded when it was built.
- `discard`: a prepared run that should not go out gives its orders back to the queue.

Every refusal is a `RunRefused` with a stable code, a sentence for a person, and what kind of
refusal it is (`conflict`, `forbidden`, `not_found`, ...), which the API turns into a status.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cashback.bank.pain001 import (
    SCHEMA_VERSION,
    DebtorAccount,
    InvalidPaymentFile,
    Transfer,
    build,
)
from cashback.bank.run_files import RunFileError, RunFiles, write_once
from cashback.db import BankAccounts, Database, mask_iban
from cashback.db.payment_runs import PaymentRunRepository
from cashback.db.tables import (
    Payment,
    PaymentRun,
    PaymentRunEntry,
    PaymentRunStatus,
    PaymentStatus,
    RunEntryOutcome,
)
from cashback.domain.sepa import execution_date
from cashback.refusals import Refused

SEPA_CURRENCY = "EUR"
CLAIMS_COLUMNS = ("claim_id", "end_to_end_id", "amount_minor_units", "currency", "masked_iban")


class Refusal(StrEnum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"


class RunRefused(Refused):
    """The action was not taken: why (`kind`), a stable code and a sentence for a person."""

    def __init__(self, kind: Refusal, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.kind = kind


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    message_id: str
    status: PaymentRunStatus
    debtor_iban_masked: str
    currency: str
    execution_date: date
    number_of_transactions: int
    control_sum_minor_units: int
    file_sha256: str
    prepared_by: str
    prepared_at: datetime
    released_by: str | None
    released_at: datetime | None
    sent_at: datetime | None


def summary(run: PaymentRun) -> RunSummary:
    return RunSummary(
        run_id=run.id,
        message_id=run.message_id,
        status=run.status,
        debtor_iban_masked=mask_iban(run.debtor_iban),
        currency=run.currency,
        execution_date=run.execution_date,
        number_of_transactions=run.number_of_transactions,
        control_sum_minor_units=run.control_sum_minor_units,
        file_sha256=run.file_sha256,
        prepared_by=run.prepared_by,
        prepared_at=run.prepared_at,
        released_by=run.released_by,
        released_at=run.released_at,
        sent_at=run.sent_at,
    )


RECONCILED = ("accepted", "rejected", "returned", "retried", "open")


@dataclass(frozen=True)
class ReconciledTransfer:
    claim_id: str
    end_to_end_id: str
    amount_minor_units: int
    state: str  # one of RECONCILED
    reason_code: str | None


@dataclass(frozen=True)
class Reconciliation:
    """A run's transfers by what became of them; the amounts add up to the control sum."""

    run: RunSummary
    sent: tuple[int, int]  # (count, minor units): what the file holds
    totals: dict[str, tuple[int, int]]
    transfers: tuple[ReconciledTransfer, ...]


@dataclass(frozen=True)
class EscalatedPayment:
    claim_id: str
    end_to_end_id: str | None
    amount_minor_units: int
    currency: str
    reason_code: str
    run_id: str | None


def _state(entry: PaymentRunEntry, payment: Payment | None) -> str:
    """R14, R16: what became of one transfer of a run. An escalated one counts as the
    operators decided it, and as open until they do."""
    if entry.outcome is RunEntryOutcome.ESCALATED and payment is not None:
        if payment.status is PaymentStatus.PAID:
            return "accepted"
        if payment.status is PaymentStatus.REJECTED:
            return "rejected"
        return "open"
    return {
        RunEntryOutcome.ACCEPTED: "accepted",
        RunEntryOutcome.REJECTED: "rejected",
        RunEntryOutcome.RETURNED: "returned",
        RunEntryOutcome.RETRIED: "retried",
    }.get(entry.outcome, "open")


class PaymentRuns:
    """The operators' payment runs on the program's database, file store and bank channel."""

    def __init__(
        self,
        database: Database,
        accounts: BankAccounts,
        files: RunFiles,
        outbox: Path,
        debtor: DebtorAccount,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._database = database
        self._accounts = accounts
        self._files = files
        self._outbox = outbox
        self._debtor = debtor
        self._today = today

    @property
    def outbox(self) -> Path:
        return self._outbox

    def prepare(self, operator: str) -> RunSummary:
        """R14, D5: a run of every order due, for the next TARGET2 business day. Refused
        (conflict) while another run of the debtor account waits for release, or when no order
        is due."""
        run_id = f"run_{secrets.token_hex(8)}"
        try:
            with self._database.transaction() as session:
                runs = PaymentRunRepository(session)
                waiting = runs.open_run(self._debtor.iban)
                if waiting is not None:
                    raise RunRefused(
                        Refusal.CONFLICT,
                        "run_open",
                        f"run {waiting.id} of this debtor account waits for release; release or "
                        "discard it first",
                    )
                due = runs.due_orders(SEPA_CURRENCY)
                if not due:
                    raise RunRefused(
                        Refusal.CONFLICT, "nothing_due", "no payment order is due for a run"
                    )
                transfers: list[Transfer] = []
                claims = io.StringIO()
                listing = csv.writer(claims, lineterminator="\n")
                listing.writerow(CLAIMS_COLUMNS)
                for payment in due:
                    assert payment.end_to_end_id is not None  # set when queued
                    payee = self._accounts.reveal(payment.bank_details_ref)
                    transfers.append(
                        Transfer(
                            end_to_end_id=payment.end_to_end_id,
                            amount_minor_units=payment.amount_minor_units,
                            creditor_name=payee.holder_name,
                            creditor_iban=payee.iban,
                            creditor_bic=payee.bic,
                            remittance_information=f"Cash back, claim {payment.claim_id}",
                        )
                    )
                    listing.writerow(
                        (
                            payment.claim_id,
                            payment.end_to_end_id,
                            payment.amount_minor_units,
                            payment.currency,
                            mask_iban(payee.iban),
                        )
                    )
                execute_on = execution_date(self._today())
                try:
                    built = build(self._debtor, execute_on, SEPA_CURRENCY, transfers)
                except InvalidPaymentFile as error:
                    raise RunRefused(
                        Refusal.CONFLICT,
                        "payment_file_invalid",
                        f"the run's file does not validate against {SCHEMA_VERSION} ({error}); "
                        "no run was prepared",
                    ) from None
                file_key = f"{run_id}/pain.001.xml"
                claims_key = f"{run_id}/claims.csv"
                file_sha256 = self._files.put(file_key, built.content)
                claims_sha256 = self._files.put(claims_key, claims.getvalue().encode())
                run = PaymentRun(
                    id=run_id,
                    message_id=built.message_id,
                    debtor_iban=self._debtor.iban,
                    open_account=self._debtor.iban,
                    status=PaymentRunStatus.PREPARED,
                    currency=SEPA_CURRENCY,
                    execution_date=execute_on,
                    number_of_transactions=built.number_of_transactions,
                    control_sum_minor_units=built.control_sum_minor_units,
                    file_key=file_key,
                    file_sha256=file_sha256,
                    claims_key=claims_key,
                    claims_sha256=claims_sha256,
                    prepared_by=operator,
                    prepared_at=datetime.now(UTC),
                )
                session.add(run)
                session.flush()
                for payment in due:
                    assert payment.end_to_end_id is not None
                    payment.run_id = run_id
                    session.add(
                        PaymentRunEntry(
                            run_id=run_id,
                            payment_id=payment.id,
                            claim_id=payment.claim_id,
                            end_to_end_id=payment.end_to_end_id,
                            amount_minor_units=payment.amount_minor_units,
                            outcome=RunEntryOutcome.SENT,
                        )
                    )
                session.flush()
                return summary(run)
        except IntegrityError:  # another operator's run of this account got there first
            raise RunRefused(
                Refusal.CONFLICT,
                "run_open",
                "another run of this debtor account was prepared at the same moment",
            ) from None

    def release(self, run_id: str, operator: str) -> RunSummary:
        """Four eyes: a second operator releases the prepared run, and its unchanged file goes
        to the bank channel. The preparer's release is refused (forbidden); a run released
        already or discarded is refused (conflict)."""
        with self._database.transaction() as session:
            run = self._run(session, run_id, for_update=True)
            if run.status is PaymentRunStatus.RELEASED and run.sent_at is not None:
                raise RunRefused(
                    Refusal.CONFLICT,
                    "run_released",
                    f"run {run_id} was released by {run.released_by} and sent already",
                )
            if run.status is PaymentRunStatus.DISCARDED:
                raise RunRefused(Refusal.CONFLICT, "run_discarded", f"run {run_id} was discarded")
            if run.status is PaymentRunStatus.PREPARED:
                if run.prepared_by.casefold() == operator.casefold():
                    raise RunRefused(
                        Refusal.FORBIDDEN,
                        "four_eyes",
                        f"run {run_id} was prepared by you; a second operator must release it",
                    )
                self._checked_file(run)
                run.status = PaymentRunStatus.RELEASED
                run.released_by = operator
                run.released_at = datetime.now(UTC)
                run.open_account = None
        # Released: the file goes out. A channel that failed is tried again by releasing again.
        content = self._checked_file(run)
        try:
            write_once(self._outbox / f"{run.message_id}.xml", content)
        except (OSError, RunFileError) as error:
            raise RunRefused(
                Refusal.UNAVAILABLE,
                "bank_channel_unavailable",
                f"run {run_id} is released but its file could not be handed to the bank "
                f"channel ({error}); release it again to retry",
            ) from None
        with self._database.transaction() as session:
            run = self._run(session, run_id, for_update=True)
            run.sent_at = run.sent_at or datetime.now(UTC)
            return summary(run)

    def discard(self, run_id: str, operator: str) -> RunSummary:
        """A prepared run that will not be released: its orders go back to the queue."""
        with self._database.transaction() as session:
            run = self._run(session, run_id, for_update=True)
            if run.status is not PaymentRunStatus.PREPARED:
                raise RunRefused(
                    Refusal.CONFLICT,
                    "run_not_prepared",
                    f"run {run_id} is {run.status.value}; only a prepared run can be discarded",
                )
            runs = PaymentRunRepository(session)
            for entry in runs.entries(run_id):
                session.delete(entry)
            for payment in session.scalars(select(Payment).where(Payment.run_id == run_id)):
                payment.run_id = None
            run.status = PaymentRunStatus.DISCARDED
            run.open_account = None
            return summary(run)

    def reconciliation(self, run_id: str) -> Reconciliation:
        """R14: per run, the transfers sent, accepted, rejected, returned, sent again (retried)
        and still open, counted and summed in minor units; the states add up to the file."""
        with self._database.reading() as session:
            run = self._run(session, run_id)
            transfers = []
            for entry in PaymentRunRepository(session).entries(run_id):
                payment = session.get(Payment, entry.payment_id)
                transfers.append(
                    ReconciledTransfer(
                        claim_id=entry.claim_id,
                        end_to_end_id=entry.end_to_end_id,
                        amount_minor_units=entry.amount_minor_units,
                        state=_state(entry, payment),
                        reason_code=entry.reason_code
                        or (payment.escalation_code if payment else None),
                    )
                )
            totals = {
                state: (
                    sum(1 for t in transfers if t.state == state),
                    sum(t.amount_minor_units for t in transfers if t.state == state),
                )
                for state in RECONCILED
            }
            return Reconciliation(
                run=summary(run),
                sent=(len(transfers), sum(t.amount_minor_units for t in transfers)),
                totals=totals,
                transfers=tuple(transfers),
            )

    def escalated(self) -> list[EscalatedPayment]:
        """Payments whose answer the operators must decide (an ambiguous reason code)."""
        with self._database.reading() as session:
            return [
                EscalatedPayment(
                    claim_id=p.claim_id,
                    end_to_end_id=p.end_to_end_id,
                    amount_minor_units=p.amount_minor_units,
                    currency=p.currency,
                    reason_code=p.escalation_code or "",
                    run_id=p.run_id,
                )
                for p in PaymentRunRepository(session).escalated()
            ]

    def returned_after_payment(self) -> list[EscalatedPayment]:
        """Payments the bank booked and later returned (camt.054) whose claims stay PAID (they
        no longer watched for returns, R16): the operators contact the reseller."""
        with self._database.reading() as session:
            return [
                EscalatedPayment(
                    claim_id=p.claim_id,
                    end_to_end_id=p.end_to_end_id,
                    amount_minor_units=p.amount_minor_units,
                    currency=p.currency,
                    reason_code=p.return_code or "",
                    run_id=p.run_id,
                )
                for p in PaymentRunRepository(session).returned_after_payment()
            ]

    def runs(self) -> list[RunSummary]:
        with self._database.reading() as session:
            return [summary(run) for run in PaymentRunRepository(session).runs()]

    def run(self, run_id: str) -> RunSummary:
        with self._database.reading() as session:
            return summary(self._run(session, run_id))

    def file(self, run_id: str) -> tuple[str, bytes]:
        """The run's `pain.001` file: its name and bytes, checked against the recorded hash."""
        with self._database.reading() as session:
            run = self._run(session, run_id)
        return f"{run.message_id}.xml", self._checked_file(run)

    def claims_csv(self, run_id: str) -> bytes:
        with self._database.reading() as session:
            run = self._run(session, run_id)
        try:
            return self._files.get(run.claims_key, run.claims_sha256)
        except RunFileError as error:
            raise RunRefused(Refusal.UNAVAILABLE, "run_file_unreadable", str(error)) from None

    def _checked_file(self, run: PaymentRun) -> bytes:
        try:
            return self._files.get(run.file_key, run.file_sha256)
        except RunFileError as error:
            raise RunRefused(Refusal.CONFLICT, "run_file_changed", str(error)) from None

    @staticmethod
    def _run(session: Session, run_id: str, *, for_update: bool = False) -> PaymentRun:
        run = PaymentRunRepository(session).get(run_id, for_update=for_update)
        if run is None:
            raise RunRefused(Refusal.NOT_FOUND, "not_found", f"payment run {run_id} was not found")
        return run
