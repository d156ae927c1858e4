"""The claim workflow in the time-skipping environment with the real activities
(`cashback.wiring.build_activities`): the database (SQLite and PostgreSQL), invoices in S3
(moto's server), e-mail over SMTP (aiosmtpd) and the simulated bank's ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.payments import payout_idempotency_key
from activities.records import TimelineEvent
from cashback.config import Settings
from cashback.db import ClaimRepository, Database, PaymentRepository, SqlLicensingRecords
from cashback.db.notices import NoticeRepository
from cashback.db.tables import PaymentStatus
from cashback.domain.money import Money
from cashback.domain.names import normalise_name
from cashback.domain.payout import BankDetailsJudgement
from cashback.domain.status import ClaimStatus, NoticeKind
from cashback.invoices import S3InvoiceStorage
from tests.claim_waits import claim_outcome
from tests.integration.program import (
    LICENCES,
    OPERATOR,
    company_account,
    notices_of,
    running_program,
    secure_token,
    seed_claim,
)
from tests.mail.mailbox import Mailbox
from tests.mail.notices import SUPPORT
from worker import replayer

pytestmark = [pytest.mark.workflow, pytest.mark.s3, pytest.mark.smtp]

IBAN = "DE89 3704 0044 0532 0130 00"
AMOUNT = Money(minor_units=LICENCES * 1250, currency="EUR")


async def test_r7_r10_r13_r14_r17_d3_d5_d6_claim_is_paid_with_real_side_effects(
    env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    invoices: S3InvoiceStorage,
    mailbox: Mailbox,
) -> None:
    """Submission to PAID on the real servers: the invoice checked in S3 (R5), the preliminary
    and final confirmations (R7, R9; the latter says bank details will be requested, R10), a
    bank-details request with a one-time link (R10, R13), a valid company account (R11), one
    transfer (R14, D5) and the remittance advice naming the account paid to, masked only (R13),
    every e-mail in German with the support address (D6, R17), every status change on the
    database timeline with its actor (D3)."""
    claim = seed_claim(database, invoices)
    async with running_program(env, settings, database) as program:
        handle = await program.submit(claim)
        approved = await program.approve(handle)
        assert approved.status is ClaimStatus.AWAITING_BANK_DETAILS
        await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)

        request_key, request = notices_of(mailbox, claim.claim_id)[-1]
        assert request_key == "bank_details_request/1"
        token = secure_token(request)
        assert program.invitations.claim_for(token) == claim.claim_id  # R13: the link opens
        details = company_account(claim.reseller.company_name, IBAN)
        judgement = await program.enter_bank_details(handle, token, details)
        assert judgement is BankDetailsJudgement.VALID
        outcome = await claim_outcome(handle)
        await replayer().replay_workflow(await handle.fetch_history())

    assert outcome.status is ClaimStatus.PAID
    assert outcome.amount == AMOUNT
    assert program.invitations.claim_for(token) is None  # R13: one-time

    # D3: the timeline in the database, with who changed what.
    assert program.status_changes(claim.claim_id) == [
        (ClaimStatus.SUBMITTED, "reseller"),
        (ClaimStatus.UNDER_REVIEW, "system"),
        (ClaimStatus.AWAITING_BANK_DETAILS, OPERATOR),
        (ClaimStatus.SCHEDULED_FOR_PAYMENT, "system"),
        (ClaimStatus.PAID, "system"),
    ]
    received = [
        entry
        for entry in program.timeline(claim.claim_id)
        if entry.event is TimelineEvent.BANK_DETAILS_RECEIVED
    ]
    assert [(e.actor, e.reason) for e in received] == [("reseller", "valid")]

    with database.reading() as session:
        row = ClaimRepository(session).get(claim.claim_id)
        assert row is not None
        assert row.status is ClaimStatus.PAID
        assert (row.amount_minor_units, row.currency) == (AMOUNT.minor_units, AMOUNT.currency)
        payments = PaymentRepository(session).of_claim(claim.claim_id)
        sent = [(n.kind.value, n.number) for n in NoticeRepository(session).of(claim.claim_id)]
    # D5: one payment under the claim's key, answered by the bank with its reference (R14).
    assert [
        (p.idempotency_key, p.status, p.amount_minor_units, p.currency, p.bank_reference)
        for p in payments
    ] == [
        (
            payout_idempotency_key(claim.claim_id, 1),
            PaymentStatus.PAID,
            AMOUNT.minor_units,
            "EUR",
            outcome.payment_reference,
        )
    ]
    assert program.accounts.masked(payments[0].bank_details_ref) == "DE89 **** **** **** **30 00"
    assert program.bank.transfers(claim.claim_id) == [
        (payout_idempotency_key(claim.claim_id, 1), claim.claim_id, AMOUNT.minor_units, "EUR")
    ]

    mails = notices_of(mailbox, claim.claim_id)
    expected = [
        "preliminary_confirmation/1",
        "final_confirmation/1",
        "bank_details_request/1",
        "remittance_advice/1",
    ]
    assert [key for key, _ in mails] == expected
    assert [f"{kind}/{number}" for kind, number in sent] == expected  # one each, logged
    subjects = [str(mail.message["Subject"]) for _, mail in mails]
    assert subjects[0].startswith("Eingangsbestätigung")
    assert subjects[1].endswith("wurde angenommen")
    assert subjects[2].startswith("Bitte geben Sie Ihre Bankverbindung an")
    assert subjects[3].startswith("Zahlungsavis")
    for _, mail in mails:
        assert mail.rcpt_tos == [claim.reseller.email]
        assert mail.message["Content-Language"] == "de"
        assert mail.message["Reply-To"] == SUPPORT
        assert SUPPORT in mail.part("plain")
        assert SUPPORT in mail.part("html")
    remittance = mails[3][1].part("plain")
    assert "250,00 EUR" in remittance
    assert str(outcome.payment_reference) in remittance
    masked = "DE89 **** **** **** **30 00"
    final = mails[1][1].part("plain")
    assert "persönlichen Link" in final  # R10: no details known yet, so they will be requested
    assert masked not in final
    for part in ("plain", "html"):
        assert f"Konto (IBAN): {masked}" in mails[3][1].part(part).replace("<strong>", "")
    for _, mail in mails:
        for part in ("plain", "html"):
            assert IBAN.replace(" ", "") not in mail.part(part).replace(" ", "")


async def test_r3_r10_d3_claim_without_bank_details_is_cancelled_after_three_requests(
    env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    invoices: S3InvoiceStorage,
    mailbox: Mailbox,
) -> None:
    """R10: an approved claim whose reseller never answers gets three bank-details requests,
    five days apart, each with its own link (R13); after the third the claim is cancelled, the
    funds forfeited, nothing paid, and its licences released (R3). The timeline ends
    CANCELLED (D3)."""
    claim = seed_claim(database, invoices)
    customer_key = normalise_name(claim.claimed.customer_name)
    licensing = SqlLicensingRecords(database)
    async with running_program(env, settings, database) as program:
        handle = await program.submit(claim)
        await program.approve(handle)
        waiting = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)
        first_request = waiting.notices[-1]
        assert first_request.kind is NoticeKind.BANK_DETAILS_REQUEST
        assert licensing.held(claim.offer.offer_id, customer_key) == LICENCES

        await env.fast_forward(handle, timedelta(days=16))
        outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.CANCELLED
    assert outcome.forfeited
    mails = notices_of(mailbox, claim.claim_id)
    assert [key for key, _ in mails] == [
        "preliminary_confirmation/1",
        "final_confirmation/1",
        "bank_details_request/1",
        "bank_details_request/2",
        "bank_details_request/3",
        "cancellation/1",
    ]
    tokens = {secure_token(mail) for key, mail in mails if key.startswith("bank_details")}
    assert len(tokens) == 3
    assert program.invitations.outstanding(claim.claim_id) == 3
    cancellation = mails[-1][1]
    assert cancellation.message["Content-Language"] == "de"
    assert SUPPORT in cancellation.part("plain")

    cancelled = program.timeline(claim.claim_id)[-1]
    assert cancelled.to_status is ClaimStatus.CANCELLED
    # R10: 5 days after the third request, 15 after the first (the workflow's clock).
    assert cancelled.at - first_request.sent_at == pytest.approx(
        timedelta(days=15), abs=timedelta(seconds=90)
    )
    changes = program.status_changes(claim.claim_id)
    assert changes[-1] == (ClaimStatus.CANCELLED, "system")
    assert [status for status, _ in changes] == [
        ClaimStatus.SUBMITTED,
        ClaimStatus.UNDER_REVIEW,
        ClaimStatus.AWAITING_BANK_DETAILS,
        ClaimStatus.CANCELLED,
    ]
    with database.reading() as session:
        row = ClaimRepository(session).get(claim.claim_id)
        assert row is not None
        assert row.status is ClaimStatus.CANCELLED
        assert PaymentRepository(session).of_claim(claim.claim_id) == []
    assert program.bank.transfers(claim.claim_id) == []
    assert licensing.held(claim.offer.offer_id, customer_key) == 0
