"""The bank's answers to payment runs, imported (R14, R16, D5), as an application service.

An operator uploads a `pain.002` status report or a `camt.054` notification (or the bank
channel drops it into the inbox folder). Each entry is matched to the transfer of a released run
by its EndToEndId and applied once:

- accepted, settled or booked: the payment is paid (R14);
- rejected or returned for the bank details (AC01, AC04, AC06, BE01...): the payment is
  rejected and the claim's workflow asks for new details (R16's notices);
- refused for a transient reason (AB05, TECH, AM05...): the order goes back to the queue and
  is sent again in the next run;
- an ambiguous reason (MS03, FRAD, an unknown code): the payment waits for the operators, who
  enter their decision with `POST /operator/claims/{id}/payment-result`; the claim is told
  (`payment_escalated`), records it on its timeline and mails the operators;
- a camt.054 return of a transfer that was paid: the claim is told (`payment_returned`) and,
  while it watches for returns (the policy's `returns_watched_for`), goes back to
  PAYMENT_FAILED and R16's notices (`reopened`); a claim no longer watching stays PAID and the
  return is listed for the operators (`returned_after_payment`, with the reason).

The database is written first, in one transaction with the file's record, so the same file
twice (one after the other or at the same moment) is applied once. Then the waiting payment
activities are completed; one that cannot be reached (its attempt timed out meanwhile) finds
the recorded answer when Temporal retries it (`RecordedGateway`), never a second transfer.
Returns and escalations are signalled to their claims after the commit too; each is recorded
once (an escalated transfer no longer waits for an answer from a file), so it is signalled once.

A file is refused as a whole, with nothing applied, when it is hostile or wrong: too large,
with a DTD or entities, of another namespace, with control figures that do not add up, an
EndToEndId that no released run holds, or the same EndToEndId twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.payments import PaymentOutcome, PaymentResult
from cashback.bank.answers import PAIN_002, RETURNED, AnswerEntry, BankAnswerFile, parse
from cashback.bank.run_files import sha256_hex
from cashback.claims import PaymentEscalation, PaymentReturn, claim_workflow_id
from cashback.db import Database
from cashback.db.payment_runs import PaymentRunRepository
from cashback.db.statements import insert_unless_present
from cashback.db.tables import (
    BankFile,
    Payment,
    PaymentRunEntry,
    PaymentStatus,
    RunEntryOutcome,
)
from cashback.domain.sepa import AnswerKind, answer_kind, reason_text
from cashback.payment_runs import Refusal, RunRefused

log = logging.getLogger(__name__)

REOPENED = "reopened"
RETURNED_AFTER_PAYMENT = "returned_after_payment"
RETURN_AFTER_THE_WATCH = (
    "the claim no longer watches for returns (it was paid before the return watch, or its "
    "watch is over): it stays PAID; contact the reseller for new bank details"
)
RETURN_NOT_DELIVERED = (
    "the claim could not be told (Temporal did not answer): it stays PAID; contact the "
    "reseller for new bank details"
)


class EntryReport(BaseModel):
    end_to_end_id: str
    claim_id: str
    # paid, rejected, returned, retried, escalated, pending, already_applied; for a transfer
    # returned after it was paid: reopened (the claim is back in R16) or returned_after_payment
    # (the claim stays PAID: the operators act, `detail` says why)
    result: str
    reason_code: str | None = None
    detail: str | None = None


class BankFileImportReport(BaseModel):
    """What an import did: every entry of the file, and whether the file was known already."""

    kind: str
    message_id: str
    sha256: str
    duplicate: bool = False
    entries: list[EntryReport] = []


@dataclass(frozen=True)
class Completion:
    """A waiting payment activity to complete with the bank's answer."""

    claim_id: str
    task_token: bytes = field(repr=False)
    result: PaymentResult


@dataclass(frozen=True)
class ReturnAfterPaid:
    """A paid transfer the bank returned, to signal to its claim (R16). `entry` is the line of
    the file's report, corrected when the claim cannot take the return back."""

    claim_id: str
    file_sha256: str
    returned: PaymentReturn
    entry: EntryReport = field(repr=False)


@dataclass(frozen=True)
class Escalated:
    """A payout the bank answered ambiguously, to signal to its claim (R14, issue 14): the
    claim records it and mails the operators, who enter the result."""

    claim_id: str
    escalation: PaymentEscalation


# What an import leaves to do once its transaction committed.
AfterCommit = Completion | ReturnAfterPaid | Escalated


@dataclass(frozen=True)
class Imported:
    report: BankFileImportReport
    completions: tuple[AfterCommit, ...] = ()


class ImportedFile(BaseModel):
    """A bank file on record: who imported it when, and what it did."""

    kind: str
    message_id: str
    sha256: str
    imported_by: str
    imported_at: datetime
    entries: list[EntryReport] = []


class BankAnswerImports:
    def __init__(self, database: Database, max_bytes: int, currency: str = "EUR") -> None:
        self._database = database
        self.max_bytes = max_bytes
        self._currency = currency

    def imported_files(self, limit: int = 100) -> list[ImportedFile]:
        """The bank files imported, newest first."""
        with self._database.reading() as session:
            rows = session.scalars(
                select(BankFile).order_by(BankFile.imported_at.desc()).limit(limit)
            )
            return [
                ImportedFile(
                    kind=row.kind,
                    message_id=row.message_id,
                    sha256=row.sha256,
                    imported_by=row.imported_by,
                    imported_at=row.imported_at,
                    entries=BankFileImportReport.model_validate(row.report).entries,
                )
                for row in rows
            ]

    def import_file(self, content: bytes, operator: str) -> Imported:
        """Apply the file once. Raises `RunRefused` (too_large, invalid) with nothing applied."""
        try:
            answer = parse(content, self.max_bytes, self._currency)
        except ValueError as error:
            code = getattr(error, "code", "invalid_bank_file")
            kind = Refusal.TOO_LARGE if getattr(error, "too_large", False) else Refusal.INVALID
            raise RunRefused(kind, code, getattr(error, "detail", str(error))) from None
        digest = sha256_hex(content)
        with self._database.transaction() as session:
            inserted = insert_unless_present(
                session,
                BankFile,
                {
                    "sha256": digest,
                    "kind": answer.kind,
                    "message_id": answer.message_id[:35],
                    "imported_by": operator,
                    "imported_at": datetime.now(UTC),
                    "report": {},
                },
                keys=("sha256",),
            )
            runs = PaymentRunRepository(session)
            stored = runs.bank_file(digest)
            assert stored is not None
            if not inserted:  # the same bytes were imported before (or at this very moment)
                report = BankFileImportReport.model_validate(stored.report)
                return Imported(report.model_copy(update={"duplicate": True}))
            entries = self._entries(answer, runs)
            report = BankFileImportReport(
                kind=answer.kind, message_id=answer.message_id, sha256=digest
            )
            completions: list[AfterCommit] = []
            for entry, run_entry in entries:
                payment = session.get(Payment, run_entry.payment_id, with_for_update=True)
                assert payment is not None
                result, completion = self._apply(entry, run_entry, payment, stored.id, answer)
                report.entries.append(result)
                if completion is not None:
                    completions.append(completion)
                elif result.result == REOPENED:
                    completions.append(_return_of(entry, payment, digest, result))
            stored.report = report.model_dump(mode="json")
        return Imported(report, tuple(completions))

    def _entries(
        self, answer: BankAnswerFile, runs: PaymentRunRepository
    ) -> list[tuple[AnswerEntry, PaymentRunEntry]]:
        """The file's entries with the transfers they answer; refused unless each names one
        transfer of a released run, once, for its amount, and the run's figures match."""
        entries = list(answer.entries)
        if answer.kind == PAIN_002:
            run = runs.by_message_id(answer.original_message_id or "")
            if run is None or run.released_at is None:
                raise RunRefused(
                    Refusal.INVALID,
                    "unknown_run",
                    f"OrgnlMsgId {answer.original_message_id!r} is no released payment run",
                )
            if answer.original_count is not None and (
                answer.original_count != run.number_of_transactions
            ):
                raise RunRefused(
                    Refusal.INVALID,
                    "wrong_control_sum",
                    f"the report counts {answer.original_count} transactions; run {run.id} has "
                    f"{run.number_of_transactions}",
                )
            if answer.original_control_sum is not None and (
                answer.original_control_sum != run.control_sum_minor_units
            ):
                raise RunRefused(
                    Refusal.INVALID,
                    "wrong_control_sum",
                    f"the report's control sum is {answer.original_control_sum} minor units; "
                    f"run {run.id} sent {run.control_sum_minor_units}",
                )
            if not entries and answer.group_status is not None:  # the whole run at once
                entries = [
                    AnswerEntry(e.end_to_end_id, answer.group_status, answer.group_reason)
                    for e in runs.entries(run.id)
                ]
        if not entries:
            raise RunRefused(Refusal.INVALID, "no_entries", "the file answers no transfer")
        seen: set[str] = set()
        matched = []
        for entry in entries:
            if entry.end_to_end_id in seen:
                raise RunRefused(
                    Refusal.INVALID,
                    "duplicate_entry",
                    f"EndToEndId {entry.end_to_end_id!r} is answered twice in the file",
                )
            seen.add(entry.end_to_end_id)
            run_entry = runs.released_entry(entry.end_to_end_id)
            if run_entry is None:
                raise RunRefused(
                    Refusal.INVALID,
                    "unknown_end_to_end_id",
                    f"EndToEndId {entry.end_to_end_id!r} is in no released payment run",
                )
            if (
                entry.amount_minor_units is not None
                and entry.amount_minor_units != run_entry.amount_minor_units
            ):
                raise RunRefused(
                    Refusal.INVALID,
                    "wrong_amount",
                    f"EndToEndId {entry.end_to_end_id!r}: the file says "
                    f"{entry.amount_minor_units} minor units, the run sent "
                    f"{run_entry.amount_minor_units}",
                )
            matched.append((entry, run_entry))
        return matched

    def returns_not_taken_back(self, returns: list[ReturnAfterPaid], detail: str) -> None:
        """The claims of `returns` could not take them back (they no longer watch for returns,
        or could not be reached): their lines in the files' reports say so, with `detail`. The
        payments stay returned and listed for the operators."""
        for returned in returns:
            returned.entry.result = RETURNED_AFTER_PAYMENT
            returned.entry.detail = detail
        with self._database.transaction() as session:
            runs = PaymentRunRepository(session)
            for digest in {r.file_sha256 for r in returns}:
                stored = runs.bank_file(digest)
                if stored is None:
                    continue
                report = BankFileImportReport.model_validate(stored.report)
                ids = {r.entry.end_to_end_id for r in returns if r.file_sha256 == digest}
                for line in report.entries:
                    if line.end_to_end_id in ids and line.result == REOPENED:
                        line.result, line.detail = RETURNED_AFTER_PAYMENT, detail
                stored.report = report.model_dump(mode="json")

    def _returned_after_payment(
        self, entry: AnswerEntry, run_entry: PaymentRunEntry, payment: Payment, file_id: int
    ) -> EntryReport:
        """The bank booked the transfer and the money came back later (an account closed:
        AC04). The payment and the run say returned; the claim is signalled (`reopened`) and,
        if it still watches for returns, goes back to R16. One that no longer watches stays
        PAID, and the operators find the payment in `GET /operator/payments/returned`."""
        now = datetime.now(UTC)
        run_entry.outcome = RunEntryOutcome.RETURNED
        run_entry.reason_code = entry.reason
        run_entry.answered_at = now
        run_entry.bank_file_id = file_id
        payment.status = PaymentStatus.RETURNED
        payment.return_code = entry.reason
        payment.answered_at = now
        log.warning(
            "the payment of claim %s came back after it was paid (%s)",
            payment.claim_id,
            entry.reason or "no reason",
        )
        return EntryReport(
            end_to_end_id=entry.end_to_end_id,
            claim_id=payment.claim_id,
            result=REOPENED,
            reason_code=entry.reason,
        )

    def _apply(
        self,
        entry: AnswerEntry,
        run_entry: PaymentRunEntry,
        payment: Payment,
        file_id: int,
        answer: BankAnswerFile,
    ) -> tuple[EntryReport, Completion | Escalated | None]:
        kind = answer_kind(entry.status, entry.reason)
        report: dict[str, Any] = {
            "end_to_end_id": entry.end_to_end_id,
            "claim_id": payment.claim_id,
            "reason_code": entry.reason,
        }
        waiting = (
            payment.status is PaymentStatus.PENDING
            and run_entry.outcome is RunEntryOutcome.SENT
            and payment.run_id == run_entry.run_id
        )
        if (
            entry.status == RETURNED
            and payment.status is PaymentStatus.PAID
            and run_entry.outcome is RunEntryOutcome.ACCEPTED
        ):
            return self._returned_after_payment(entry, run_entry, payment, file_id), None
        if kind is AnswerKind.PENDING or not waiting:
            said = "pending" if kind is AnswerKind.PENDING and waiting else "already_applied"
            return EntryReport(**report, result=said), None
        now = datetime.now(UTC)
        run_entry.answered_at = now
        run_entry.bank_file_id = file_id
        run_entry.reason_code = entry.reason
        if kind is AnswerKind.TRANSIENT:
            run_entry.outcome = RunEntryOutcome.RETRIED
            payment.run_id = None  # queued again: the next run sends it
            return EntryReport(**report, result="retried"), None
        if kind is AnswerKind.AMBIGUOUS:
            run_entry.outcome = RunEntryOutcome.ESCALATED
            payment.escalation_code = (entry.reason or entry.status)[:8]
            log.warning(
                "payment of claim %s escalated to the operators: %s %s",
                payment.claim_id,
                entry.status,
                entry.reason or "",
            )
            escalation = PaymentEscalation(
                idempotency_key=payment.idempotency_key,
                status=entry.status[:8],
                reason_code=entry.reason[:8] if entry.reason else None,
            )
            escalated = Escalated(payment.claim_id, escalation)
            return EntryReport(**report, result="escalated"), escalated
        if kind is AnswerKind.PAID:
            run_entry.outcome = RunEntryOutcome.ACCEPTED
            reference = entry.bank_reference or f"{answer.message_id}/{entry.end_to_end_id}"
            result = PaymentResult(outcome=PaymentOutcome.PAID, bank_reference=reference[:128])
            payment.status = PaymentStatus.PAID
            payment.bank_reference = result.bank_reference
            name = "paid"
        else:
            returned = entry.status == RETURNED
            run_entry.outcome = RunEntryOutcome.RETURNED if returned else RunEntryOutcome.REJECTED
            result = PaymentResult(
                outcome=PaymentOutcome.REJECTED,
                return_code=entry.reason,
                detail=reason_text(entry.reason),
            )
            payment.status = PaymentStatus.REJECTED
            payment.return_code = entry.reason
            name = "returned" if returned else "rejected"
        payment.answered_at = now
        completion = (
            Completion(payment.claim_id, payment.task_token, result)
            if payment.task_token is not None
            else None
        )
        return EntryReport(**report, result=name), completion


async def complete_payments(
    temporal: Client,
    completions: tuple[AfterCommit, ...],
    imports: BankAnswerImports | None = None,
) -> int:
    """Complete the payment activities that wait for these answers and signal the returns and
    the escalations to their claims; how many were reached. A payment not waiting now (its
    attempt timed out) reads the recorded answer on its retry. A return whose claim has ended
    (its watch for returns is over) or cannot be reached is recorded so in the files' reports
    (given `imports`). An escalation that cannot be signalled is logged: the payment is listed
    for the operators (`GET /operator/payments/escalated`) all the same."""
    reached = 0
    ended: list[ReturnAfterPaid] = []
    unreachable: list[ReturnAfterPaid] = []
    for completion in completions:
        if isinstance(completion, Escalated):
            try:
                await temporal.get_workflow_handle(claim_workflow_id(completion.claim_id)).signal(
                    "payment_escalated", completion.escalation
                )
                reached += 1
            except RPCError as error:
                log.warning(
                    "the escalation of claim %s's payment did not reach the claim (%s); it is "
                    "listed for the operators",
                    completion.claim_id,
                    error.status.name,
                )
            continue
        if isinstance(completion, ReturnAfterPaid):
            try:
                await temporal.get_workflow_handle(claim_workflow_id(completion.claim_id)).signal(
                    "payment_returned", completion.returned
                )
                reached += 1
            except RPCError as error:
                (ended if error.status is RPCStatusCode.NOT_FOUND else unreachable).append(
                    completion
                )
                log.warning(
                    "the return of claim %s's payment did not reach the claim (%s); it is "
                    "listed for the operators",
                    completion.claim_id,
                    error.status.name,
                )
            continue
        handle = temporal.get_async_activity_handle(task_token=completion.task_token)
        try:
            await handle.complete(completion.result)
            reached += 1
        except RPCError:
            log.info(
                "the payment of claim %s was not waiting; its next attempt reads the answer",
                completion.claim_id,
            )
    if imports is not None and ended:
        imports.returns_not_taken_back(ended, RETURN_AFTER_THE_WATCH)
    if imports is not None and unreachable:
        imports.returns_not_taken_back(unreachable, RETURN_NOT_DELIVERED)
    return reached


def _return_of(
    entry: AnswerEntry, payment: Payment, digest: str, report: EntryReport
) -> ReturnAfterPaid:
    reference = entry.bank_reference[:128] if entry.bank_reference else None
    return ReturnAfterPaid(
        claim_id=payment.claim_id,
        file_sha256=digest,
        returned=PaymentReturn(
            idempotency_key=payment.idempotency_key,
            return_code=(entry.reason or "NARR")[:8],
            bank_reference=reference,
        ),
        entry=report,
    )


class InboxFile(BaseModel):
    name: str
    report: BankFileImportReport | None = None
    refused: str | None = None  # the code and sentence of a refused file


def import_inbox(
    imports: BankAnswerImports, inbox: Path, operator: str
) -> tuple[list[InboxFile], tuple[AfterCommit, ...]]:
    """Import every file the bank channel dropped into `inbox` (oldest name first); each goes
    to `imported/` or, refused, to `refused/` beside a `.reason` file."""
    results: list[InboxFile] = []
    completions: list[AfterCommit] = []
    if not inbox.is_dir():
        return results, ()
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.stat().st_size > imports.max_bytes:
            content = b"\0" * (imports.max_bytes + 1)  # refused for its size, never read
        else:
            content = path.read_bytes()
        try:
            imported = imports.import_file(content, operator)
        except RunRefused as refusal:
            target = inbox / "refused"
            target.mkdir(exist_ok=True)
            path.replace(target / path.name)
            (target / f"{path.name}.reason").write_text(f"{refusal.code}: {refusal.detail}\n")
            results.append(InboxFile(name=path.name, refused=f"{refusal.code}: {refusal.detail}"))
            continue
        target = inbox / "imported"
        target.mkdir(exist_ok=True)
        path.replace(target / path.name)
        results.append(InboxFile(name=path.name, report=imported.report))
        completions.extend(imported.completions)
    return results, tuple(completions)
