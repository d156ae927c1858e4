"""Database faults (tests/faults/database_faults.py) against the real activities, a whole claim
and the HTTP API, on SQLite and PostgreSQL.

What it proves:

- Every activity of `worker.ClaimActivities.functions()` that writes to the database is
  idempotent under each fault at each of its write transactions: (a) the COMMIT fails, (b) the
  COMMIT happens but the caller gets an error, (c) the database is unreachable for a while
  (PostgreSQL behind a TCP proxy that is cut; SQLite locked by another connection). The
  activity is called with the fault, then again as Temporal's retry would call it (always,
  even when the first call succeeded: a worker may die before reporting): the database holds
  the effect of exactly one call. D3: one timeline entry per sequence, the claim's status
  projected; R3: one licence reservation, the licences held once; R7, R10, R13: one notice
  row, one e-mail and one bank-details invitation per notice, its link working; D5, R14: one
  payment row per idempotency key and one transfer at the bank. Activities that only read are
  shown to write nothing.
- A whole claim (R7 to R14) on a worker whose database commits fail at random (seeded) ends
  PAID with a timeline free of duplicates (D3), one e-mail per notice and one payment (D5).
- The API answers 503 `database_unavailable` with Retry-After while PostgreSQL is unreachable,
  /readyz says not ready, and both recover without a restart once it is back. A POST /claims
  during the outage leaves neither an invoice nor a row behind; its retry with the same
  Idempotency-Key succeeds (D2, R5); a COMMIT whose answer was lost is ridden out.

Figures (faults injected, retries, duplicates, 503 answers, seconds to recover) are printed:
`pytest -s -m faults tests/faults/test_database_faults.py`. The whole-claim run takes its seed
and fault rate from CASHBACK_FAULTS_SEED (default 10) and CASHBACK_FAULTS_RATE (default
0.3); CASHBACK_FAULTS_CLAIMS (default 1) runs that many claims one after the other, on
PostgreSQL, and on SQLite too with CASHBACK_FAULTS_CLAIM_BACKENDS=sqlite,postgres.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from temporalio.client import WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.budgets import BudgetRequest
from activities.calendar import ReviewDeadlineRequest
from activities.eligibility import ApprovedLicences, ClaimVerdict, EligibilityRequest
from activities.mail import NoticeFacts, NoticeReceipt, NoticeRequest
from activities.payee import PayeeCheck
from activities.payments import PaymentOrder, PaymentResult, payout_idempotency_key
from activities.records import TimelineEntry, TimelineEvent
from api.app import create_app
from api.services import Services
from bench.stack import free_port
from cashback.bank.simulated import SimulatedBank
from cashback.claims import ClaimInput, ClaimState, Decision, DecisionKind, claim_workflow_id
from cashback.config import Settings
from cashback.db import (
    ClaimRepository,
    Database,
    SqlLicensingRecords,
    make_engine,
    upgrade_to_head,
)
from cashback.db.budgets import BudgetRepository, SqlBudgets
from cashback.db.invitations import BankDetailsInvitations
from cashback.db.notices import NoticeRepository, SqlNoticeLog
from cashback.db.tables import (
    BankDetailsInvitation,
    BudgetCommitment,
    Claim,
    LicenceReservation,
    PayeeVerificationRow,
    Payment,
    PaymentStatus,
    TimelineRow,
)
from cashback.domain.budgets import CommitmentState
from cashback.domain.money import Money
from cashback.domain.names import normalise_name
from cashback.domain.status import ClaimStatus, NoticeKind
from cashback.invoices import LocalInvoiceStorage
from cashback.mail import MailRenderer, SmtpOutbox
from cashback.wiring import (
    bank_accounts,
    bank_details_link,
    build_activities,
    invoice_storage,
    payment_gateway,
)
from tests.api.claims_helpers import stored_invoices, submit, terminate_all
from tests.api.harness import Api
from tests.claim_waits import claim_outcome, claim_state_until
from tests.db.conftest import BACKENDS, schema_of_its_own
from tests.decisions import signed
from tests.faults.database_faults import (
    DatabaseProxy,
    Fault,
    FaultInjector,
    Outage,
    ProxyOutage,
    SqliteLockOutage,
)
from tests.integration.program import (
    LICENCES,
    OPERATOR,
    RealProgram,
    company_account,
    notices_of,
    secure_token,
    seed_claim,
)
from tests.mail.mailbox import Mailbox, SmtpServer
from worker import ClaimActivities, claim_worker
from workflows.claim import ClaimWorkflow

pytestmark = [pytest.mark.faults, pytest.mark.smtp]

OUTAGE_SECONDS = 0.6  # how long an injected outage (c) lasts
SQLITE_BUSY_MS = 250  # the faulty SQLite engine's busy timeout: a held lock fails fast
IBAN = "DE89 3704 0044 0532 0130 00"
SALE_DATE = date(2026, 3, 2)


# ---- the databases: direct, and faulty (PostgreSQL behind the proxy) --------------------------


@pytest.fixture(scope="module")
def pg_schema(postgres_url: URL) -> Iterator[URL]:
    """A PostgreSQL schema of this module, at the head migration (reached directly)."""
    with schema_of_its_own(postgres_url, migrated=True) as url:
        yield url


@pytest.fixture(scope="module")
def pg_proxy(postgres_url: URL) -> Iterator[DatabaseProxy]:
    """A TCP proxy in front of the PostgreSQL server, which the tests cut and restore."""
    with DatabaseProxy(postgres_url.host or "127.0.0.1", postgres_url.port or 5432) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database file of this module, at the head migration."""
    path = tmp_path_factory.mktemp("faults-sqlite") / "cashback.sqlite3"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@dataclass
class Rig:
    """One backend with a fault injector: `faulty` is what the activities use (PostgreSQL
    through the proxy); `clean` reaches the same data directly, for seeding and checking."""

    backend: str
    settings: Settings
    clean: Database
    faulty: Database
    injector: FaultInjector
    proxy: DatabaseProxy | None

    @functools.cached_property
    def activities(self) -> ClaimActivities:
        """The real activities (`cashback.wiring`) on the faulty database, built once."""
        return build_activities(self.settings, self.faulty)


def _rig(
    backend: str,
    request: pytest.FixtureRequest,
    data_dir: Path,
    smtp: SmtpServer,
    *,
    busy_ms: int = SQLITE_BUSY_MS,
    outage_seconds: float | None = OUTAGE_SECONDS,
) -> Rig:
    outage: Outage
    proxy: DatabaseProxy | None = None
    if backend == "sqlite":
        path: Path = request.getfixturevalue("sqlite_file")
        url = make_url(f"sqlite:///{path}")
        clean = Database.from_url(url)
        faulty = Database(make_engine(url, sqlite_busy_timeout_ms=busy_ms))
        outage = SqliteLockOutage(path)
    else:
        url = request.getfixturevalue("pg_schema")
        proxy = request.getfixturevalue("pg_proxy")
        proxy.restore()
        clean = Database.from_url(url)
        faulty = Database.from_url(proxy.url(url))
        outage = ProxyOutage(proxy)
    settings = Settings(
        data_dir=data_dir,
        database_url=url.render_as_string(hide_password=False),
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        public_base_url="https://cashback.example",
    )
    injector = FaultInjector(faulty, outage, outage_seconds=outage_seconds)
    return Rig(backend, settings, clean, faulty, injector, proxy)


@pytest.fixture(scope="module", params=BACKENDS)
def module_rig(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: SmtpServer,
) -> Iterator[Rig]:
    made = _rig(request.param, request, tmp_path_factory.mktemp("rig"), smtp_server)
    try:
        yield made
    finally:
        made.injector.uninstall()
        made.faulty.dispose()
        made.clean.dispose()


@pytest.fixture
def rig(module_rig: Rig) -> Rig:
    """The module's rig for one backend, with no fault planned and the database reachable.
    Every test works on claims, offers and customers of its own."""
    module_rig.injector.clear()
    module_rig.injector.end_outage()
    return module_rig


# ---- seeding ----------------------------------------------------------------------------------


def _local_invoices(settings: Settings) -> LocalInvoiceStorage:
    store = invoice_storage(settings)
    assert isinstance(store, LocalInvoiceStorage)
    return store


def _count(database: Database, query: Any) -> int:
    with database.reading() as session:
        return int(session.scalar(query) or 0)


# ---- one scenario per activity: its input, and the effect it leaves ---------------------------


@dataclass
class Prepared:
    call: Callable[[], Any]  # the activity with its input, as a worker would run it
    effect: Callable[[], dict[str, Any]]  # what the database (and mail, bank) hold now
    expected: dict[str, Any]  # the effect of exactly one successful call
    request: Any = None  # the activity's input


def _timeline(rig: Rig, mailbox: Mailbox) -> Prepared:
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    entry = TimelineEntry(
        claim_id=claim.claim_id,
        sequence=2,
        at=datetime.now(UTC),
        actor="system",
        event=TimelineEvent.STATUS_CHANGED,
        from_status=ClaimStatus.SUBMITTED,
        to_status=ClaimStatus.UNDER_REVIEW,
        reason="R8: review started",
    )
    activities = rig.activities

    def effect() -> dict[str, Any]:
        with rig.clean.reading() as session:
            rows = session.scalars(
                select(TimelineRow.sequence).where(TimelineRow.claim_id == claim.claim_id)
            ).all()
            row = ClaimRepository(session).get(claim.claim_id)
            assert row is not None
            return {"timeline entries": len(rows), "sequences": sorted(rows), "status": row.status}

    return Prepared(
        call=lambda: activities.records.append_timeline(entry),
        effect=effect,
        expected={
            "timeline entries": 1,
            "sequences": [2],
            "status": ClaimStatus.UNDER_REVIEW,
        },
    )


def _eligibility_request(claim: ClaimInput) -> EligibilityRequest:
    return EligibilityRequest(
        claim_id=claim.claim_id,
        offer_id=claim.offer.offer_id,
        claimed=claim.claimed,
        criteria=claim.offer.criteria,
        limits=claim.offer.limits,
    )


def _reservations(rig: Rig, claim: ClaimInput) -> dict[str, Any]:
    customer = normalise_name(claim.claimed.customer_name)
    return {
        "reservations": _count(
            rig.clean,
            select(func.count())
            .select_from(LicenceReservation)
            .where(LicenceReservation.claim_id == claim.claim_id),
        ),
        "licences held": SqlLicensingRecords(rig.clean).held(claim.offer.offer_id, customer),
    }


def _check_claim(rig: Rig, mailbox: Mailbox) -> Prepared:
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    request = _eligibility_request(claim)
    activities = rig.activities
    return Prepared(
        call=lambda: activities.eligibility.check_claim(request),
        effect=lambda: _reservations(rig, claim),
        expected={"reservations": 1, "licences held": LICENCES},
    )


def _release(rig: Rig, mailbox: Mailbox) -> Prepared:
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    SqlLicensingRecords(rig.clean).reserve_licences(
        claim.claim_id,
        claim.offer.offer_id,
        normalise_name(claim.claimed.customer_name),
        lambda held: LICENCES,
    )
    activities = rig.activities
    return Prepared(
        call=lambda: activities.eligibility.release_licences(claim.claim_id),
        effect=lambda: _reservations(rig, claim),
        expected={"reservations": 0, "licences held": 0},
    )


def _hold_approved(rig: Rig, mailbox: Mailbox) -> Prepared:
    """R3: an operator approves 8 of the agreement's licences: 8 are held, once."""
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    approval = ApprovedLicences(
        claim_id=claim.claim_id,
        offer_id=claim.offer.offer_id,
        claimed=claim.claimed,
        limits=claim.offer.limits,
        licences=8,
    )
    activities = rig.activities
    return Prepared(
        call=lambda: activities.eligibility.hold_approved_licences(approval),
        effect=lambda: _reservations(rig, claim),
        expected={"reservations": 1, "licences held": 8},
    )


def _commitment_of(rig: Rig, claim: ClaimInput) -> dict[str, Any]:
    with rig.clean.reading() as session:
        repository = BudgetRepository(session)
        use = repository.use(repository.lock_offer(claim.offer.offer_id))
        rows = session.scalars(
            select(BudgetCommitment.state).where(BudgetCommitment.claim_id == claim.claim_id)
        ).all()
    return {
        "commitments": [state.value for state in rows],
        "committed": use.committed,
        "paid": use.paid,
        "released": use.released,
    }


def _budgeted_claim(rig: Rig, *, committed: bool) -> ClaimInput:
    """A claim whose offer has a budget of 1,000.00 EUR; its 250.00 EUR committed if asked."""
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    with rig.clean.transaction() as session:
        BudgetRepository(session).change_budget(claim.offer.offer_id, OPERATOR, to=100_000)
    if committed:
        SqlBudgets(rig.clean).commit(claim.claim_id, claim.offer.offer_id, BUDGETED)
    return claim


BUDGETED = Money(minor_units=LICENCES * 1250, currency="EUR")


def _commit_budget(rig: Rig, mailbox: Mailbox) -> Prepared:
    """D7: an approval commits its 250.00 EUR against the offer's budget, once."""
    claim = _budgeted_claim(rig, committed=False)
    request = BudgetRequest(claim_id=claim.claim_id, offer_id=claim.offer.offer_id, amount=BUDGETED)
    activities = rig.activities
    return Prepared(
        call=lambda: activities.budgets.commit(request),
        effect=lambda: _commitment_of(rig, claim),
        expected={"commitments": ["committed"], "committed": 25_000, "paid": 0, "released": 0},
    )


def _consume_budget(rig: Rig, mailbox: Mailbox) -> Prepared:
    """D7: the payout consumes the commitment, once."""
    claim = _budgeted_claim(rig, committed=True)
    activities = rig.activities
    return Prepared(
        call=lambda: activities.budgets.consume(claim.claim_id),
        effect=lambda: _commitment_of(rig, claim),
        expected={"commitments": ["paid"], "committed": 0, "paid": 25_000, "released": 0},
    )


def _release_budget(rig: Rig, mailbox: Mailbox) -> Prepared:
    """D7: a cancellation releases the commitment, once."""
    claim = _budgeted_claim(rig, committed=True)
    activities = rig.activities
    return Prepared(
        call=lambda: activities.budgets.release(claim.claim_id),
        effect=lambda: _commitment_of(rig, claim),
        expected={"commitments": ["released"], "committed": 0, "paid": 0, "released": 25_000},
    )


def _reopen_budget(rig: Rig, mailbox: Mailbox) -> Prepared:
    """D7, R16: a paid commitment whose transfer came back is committed again, once."""
    claim = _budgeted_claim(rig, committed=True)
    SqlBudgets(rig.clean).settle(claim.claim_id, CommitmentState.PAID)
    activities = rig.activities
    return Prepared(
        call=lambda: activities.budgets.reopen(claim.claim_id),
        effect=lambda: _commitment_of(rig, claim),
        expected={"commitments": ["committed"], "committed": 25_000, "paid": 0, "released": 0},
    )


def _verify_payee(rig: Rig, mailbox: Mailbox) -> Prepared:
    """VoP: the bank's answer for new details is remembered once per reference and name."""
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    accounts = bank_accounts(rig.settings, rig.clean)
    reference = accounts.store(company_account(claim.reseller.company_name, IBAN))
    check = PayeeCheck(reference=reference, name=claim.reseller.company_name)
    activities = rig.activities

    def effect() -> dict[str, Any]:
        with rig.clean.reading() as session:
            rows = session.scalars(
                select(PayeeVerificationRow).where(PayeeVerificationRow.reference == reference)
            ).all()
            return {"answers": [(row.checked_name, row.code) for row in rows]}

    return Prepared(
        call=lambda: activities.payee.verify(check),
        effect=effect,
        expected={"answers": [(claim.reseller.company_name, "MTCH")]},
    )


def _notice(claim: ClaimInput) -> NoticeRequest:
    return NoticeRequest(
        claim_id=claim.claim_id,
        kind=NoticeKind.BANK_DETAILS_REQUEST,
        number=1,
        notification=1,
        notifications_allowed=3,
        reseller=claim.reseller,
        respond_by=datetime.now(UTC) + timedelta(days=5),
        facts=NoticeFacts(
            agreement_number=claim.claimed.agreement_number, offer_name=claim.offer.name
        ),
    )


def _send_notice(rig: Rig, mailbox: Mailbox) -> Prepared:
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    notice = _notice(claim)
    activities = rig.activities
    invitations = BankDetailsInvitations(rig.clean)

    def effect() -> dict[str, Any]:
        mails = [mail for key, mail in notices_of(mailbox, claim.claim_id)]
        with rig.clean.reading() as session:
            rows = NoticeRepository(session).of(claim.claim_id)
            minted = session.scalar(
                select(func.count())
                .select_from(BankDetailsInvitation)
                .where(BankDetailsInvitation.claim_id == claim.claim_id)
            )
        opens = [invitations.claim_for(secure_token(mail)) == claim.claim_id for mail in mails]
        return {
            "notice rows": len(rows),
            "e-mails": len(mails),
            "message ids": len({str(mail.message["Message-ID"]) for mail in mails}),
            "invitations": minted,
            "links that open": sum(opens),
        }

    return Prepared(
        call=lambda: activities.mail.send_notice(notice),
        effect=effect,
        expected={
            "notice rows": 1,
            "e-mails": 1,
            "message ids": 1,
            "invitations": 1,
            "links that open": 1,
        },
        request=notice,
    )


def _pay(rig: Rig, mailbox: Mailbox) -> Prepared:
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    accounts = bank_accounts(rig.settings, rig.clean)
    reference = accounts.store(company_account(claim.reseller.company_name, IBAN))
    key = payout_idempotency_key(claim.claim_id, 1)
    order = PaymentOrder(
        idempotency_key=key,
        claim_id=claim.claim_id,
        amount=claim.offer.rate_per_licence.times(LICENCES),
        bank_details_ref=reference,
        remittance_information=f"Cash back, claim {claim.claim_id}",
    )
    activities = rig.activities
    bank = payment_gateway(rig.settings, accounts)
    assert isinstance(bank, SimulatedBank)

    def effect() -> dict[str, Any]:
        with rig.clean.reading() as session:
            rows = session.scalars(select(Payment).where(Payment.claim_id == claim.claim_id)).all()
            return {
                "payment rows": len(rows),
                "rows per key": dict(Counter(row.idempotency_key for row in rows)),
                "statuses": [row.status for row in rows],
                "transfers": len(bank.transfers(claim.claim_id)),
            }

    return Prepared(
        call=lambda: activities.payments.pay(order),
        effect=effect,
        expected={
            "payment rows": 1,
            "rows per key": {key: 1},
            "statuses": [PaymentStatus.PAID],
            "transfers": 1,
        },
    )


WRITING: dict[str, Callable[[Rig, Mailbox], Prepared]] = {
    "records.append_timeline": _timeline,
    "eligibility.check_claim": _check_claim,
    "eligibility.release_licences": _release,
    "eligibility.hold_approved_licences": _hold_approved,
    "mail.send_notice": _send_notice,
    "payments.pay": _pay,
    "budgets.commit": _commit_budget,
    "budgets.consume": _consume_budget,
    "budgets.release": _release_budget,
    "budgets.reopen": _reopen_budget,
    "payee.verify": _verify_payee,
}


def _read_only_inputs(rig: Rig) -> dict[str, Any]:
    claim = seed_claim(rig.clean, _local_invoices(rig.settings))
    return {
        "calendar.review_deadline": ReviewDeadlineRequest(
            received_on=date(2026, 3, 2), country="DE", business_days=14
        ),
        "invoices.check_invoice": claim.invoice,
        "bank_details.standing_confirmation": claim.reseller.reseller_id,
    }


def activity_name(function: Callable[..., Any]) -> str:
    from temporalio.activity import _Definition

    definition = _Definition.must_from_callable(function)
    assert definition.name is not None
    return definition.name


def _run(call: Callable[[], Any], attempt: int) -> Any:
    """Run `call` as the worker's `attempt`-th attempt (activity context included)."""
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, attempt=attempt)
    return environment.run(call)


# ---- the activities: which write, and idempotence under each fault ----------------------------


async def test_every_activity_that_writes_is_covered(rig: Rig, mailbox: Mailbox) -> None:
    """Each of `ClaimActivities.functions()` runs once on a clean database while its write
    transactions are counted: those that write are exactly the ones the fault matrix below
    covers (a new writing activity fails here until it gets a scenario); the others write
    nothing."""
    read_only = _read_only_inputs(rig)
    measured: dict[str, int] = {}
    for function in rig.activities.functions():
        name = activity_name(function)
        if name in WRITING:
            prepared = await asyncio.to_thread(WRITING[name], rig, mailbox)
            with rig.injector.counting() as writes:
                await asyncio.to_thread(_run, prepared.call, 1)
            assert prepared.effect() == prepared.expected, name
        else:
            assert name in read_only, f"{name}: give it a scenario (WRITING) or an input"
            with rig.injector.counting() as writes:
                result = ActivityEnvironment().run(function, read_only[name])
                if asyncio.iscoroutine(result):
                    await result
        measured[name] = writes[0]
    print(f"\n[{rig.backend}] write transactions per activity call: {measured}")
    assert {name for name, count in measured.items() if count > 0} == set(WRITING)


@dataclass
class Outcome:
    commit: int
    fault: Fault
    first_call: str  # "raised" or "absorbed" (the activity rode the fault out in place)
    effect: dict[str, Any] = field(default_factory=dict)


@pytest.mark.parametrize("fault", list(Fault))
@pytest.mark.parametrize("name", list(WRITING))
def test_d3_d5_r3_r7_r13_writing_activity_is_idempotent_under_database_fault(
    rig: Rig, mailbox: Mailbox, name: str, fault: Fault
) -> None:
    """For each write transaction k of the activity: fault the k-th, call the activity, then
    call it again as Temporal's retry would (after the outage is over): the database, the
    mailbox and the bank hold the effect of exactly one call, and both calls that returned
    returned the same answer."""
    scenario = WRITING[name]
    dry = scenario(rig, mailbox)
    with rig.injector.counting() as counted:
        _run(dry.call, 1)
    commits = counted[0]
    assert commits >= 1
    outcomes: list[Outcome] = []
    for commit in range(1, commits + 1):
        prepared = scenario(rig, mailbox)
        rig.injector.at(commit, fault)
        injected_before = len(rig.injector.injected)
        answers: list[Any] = []
        started = time.monotonic()
        try:
            answers.append(_run(prepared.call, 1))
            first = "absorbed"
        except Exception as error:
            first = f"raised {type(error).__name__}"
        assert len(rig.injector.injected) == injected_before + 1, "the fault was not injected"
        assert rig.injector.outage_over.wait(timeout=30)
        answers.append(_run(prepared.call, 2))  # Temporal's retry (or a replay after a crash)
        effect = prepared.effect()
        assert effect == prepared.expected, f"{name}, {fault} at commit {commit}: {effect}"
        assert all(_same(answer, answers[-1]) for answer in answers), answers
        outcomes.append(Outcome(commit, fault, first, effect))
        print(
            f"\n[{rig.backend}] {name}: {fault} at write {commit}/{commits}: first call "
            f"{first}; after the retry {effect} (duplicates 0); "
            f"{time.monotonic() - started:.2f} s"
        )
    assert len(outcomes) == commits


def test_r7_r13_notice_resent_after_a_longer_outage_keeps_its_message_id(
    rig: Rig, mailbox: Mailbox
) -> None:
    """The limit of "once" for e-mail: the message went out, then the database stays away
    longer than the outbox rides out the recording (`RECORD_WITHIN_SECONDS`, 20 s; here 0.2 s).
    The activity fails and Temporal's retry sends the notice again: at least once, never lost
    (a bank-details request that silently vanished would cancel the claim, R10), with the same
    Message-ID, so receivers drop the copy; one notice row, and each copy's link works (R13)."""
    settings = rig.settings
    outbox = SmtpOutbox(
        host=settings.smtp_host,
        port=settings.smtp_port,
        from_address=settings.mail_from,
        support_address=settings.support_address,
        operators_address=settings.operators_address,
        notice_log=SqlNoticeLog(rig.faulty, record_within=0.2),
        link_for=bank_details_link(settings, BankDetailsInvitations(rig.faulty)),
        renderer=MailRenderer(policy=settings.policy),
    )
    prepared = _send_notice(rig, mailbox)
    notice = prepared.request
    assert isinstance(notice, NoticeRequest)
    rig.injector.at(2, Fault.OUTAGE)  # the recording, after the SMTP server took the message
    with pytest.raises(OperationalError):
        _run(lambda: outbox.send(notice), 1)
    assert rig.injector.outage_over.wait(timeout=30)
    _run(lambda: outbox.send(notice), 2)
    effect = prepared.effect()
    assert effect == {
        "notice rows": 1,
        "e-mails": 2,
        "message ids": 1,
        "invitations": 2,
        "links that open": 2,
    }
    print(f"\n[{rig.backend}] outage longer than the recording after SMTP: {effect}")


def _same(one: Any, other: Any) -> bool:
    if isinstance(one, NoticeReceipt | ClaimVerdict | PaymentResult) or one is None:
        return bool(one == other)
    return True


# ---- a whole claim with faults at random ------------------------------------------------------


async def _wait_for(
    handle: WorkflowHandle[Any, Any], status: ClaimStatus, *, notices: int, seconds: float = 120
) -> ClaimState:
    return await claim_state_until(
        handle,
        lambda state: (
            state.status is status and bool(state.waiting_for) and len(state.notices) >= notices
        ),
        f"{status.value} and waiting, {notices} notices",
        seconds,
    )


async def _retries(handle: WorkflowHandle[Any, Any]) -> dict[str, int]:
    """Activity attempts beyond the first, per activity type, from the workflow's history."""
    history = await handle.fetch_history()
    scheduled: dict[int, str] = {}
    retries: Counter[str] = Counter()
    for history_event in history.events:
        if history_event.HasField("activity_task_scheduled_event_attributes"):
            attributes = history_event.activity_task_scheduled_event_attributes
            scheduled[history_event.event_id] = attributes.activity_type.name
        if history_event.HasField("activity_task_started_event_attributes"):
            started = history_event.activity_task_started_event_attributes
            name = scheduled[started.scheduled_event_id]
            retries[name] += started.attempt - 1
    return {name: count for name, count in retries.items() if count}


# The whole claim runs on PostgreSQL (production); CASHBACK_FAULTS_CLAIM_BACKENDS=sqlite,postgres
# adds SQLite (about 20 s more: Temporal's retry intervals are real time).
CLAIM_BACKENDS = [
    backend
    for backend in BACKENDS
    if backend.id in os.environ.get("CASHBACK_FAULTS_CLAIM_BACKENDS", "postgres").split(",")
]


@pytest.fixture(params=CLAIM_BACKENDS)
def random_rig(
    request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer, mailbox: Mailbox
) -> Iterator[Rig]:
    made = _rig(request.param, request, tmp_path / "data", smtp_server)
    try:
        yield made
    finally:
        made.injector.uninstall()
        made.faulty.dispose()
        made.clean.dispose()


@pytest.mark.workflow
async def test_d3_d5_r7_r14_claim_is_paid_once_with_random_database_faults(
    env: WorkflowEnvironment, random_rig: Rig, mailbox: Mailbox
) -> None:
    """A claim from submission to PAID on a worker whose database fails at random: a seeded
    share of its write transactions meets (a), (b) or (c). Temporal retries what failed; the
    claim ends PAID with each status change once on the timeline (D3), one e-mail and one
    notice row per notice (R7, R10, R14), one payment and one transfer (D5), and no
    bank-details invitation left over."""
    rig = random_rig
    seed = int(os.environ.get("CASHBACK_FAULTS_SEED", "10"))
    rate = float(os.environ.get("CASHBACK_FAULTS_RATE", "0.3"))
    claims = int(os.environ.get("CASHBACK_FAULTS_CLAIMS", "1"))
    program = RealProgram(env, rig.settings, rig.clean, task_queue=f"claims-{uuid.uuid4()}")
    store = _local_invoices(rig.settings)
    started = time.monotonic()
    async with claim_worker(
        env.client,
        rig.activities,
        decision_key=rig.settings.decision_key_bytes,
        task_queue=program.task_queue,
    ):
        for round_ in range(claims):
            claim = seed_claim(rig.clean, store)
            rig.injector.at_random(rate, seed + round_)
            injected_before = len(rig.injector.injected)
            writes_before = rig.injector.write_transactions
            handle = await program.submit(claim)
            await _wait_for(handle, ClaimStatus.UNDER_REVIEW, notices=1)
            approve = Decision(kind=DecisionKind.APPROVE, operator=OPERATOR)
            await handle.execute_update(ClaimWorkflow.decide, signed(approve, claim.claim_id))
            await _wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)
            mails = notices_of(mailbox, claim.claim_id)
            token = secure_token(mails[-1][1])
            details = company_account(claim.reseller.company_name, IBAN)
            await program.enter_bank_details(handle, token, details)
            outcome = await claim_outcome(handle, 180)
            rig.injector.clear()
            rig.injector.end_outage()
            injected = rig.injector.injected[injected_before:]
            retries = await _retries(handle)
            assert injected, f"seed {seed + round_} at rate {rate} injected no fault: pick another"
            _check_paid_once(rig, program, claim, mailbox, outcome.status)
            print(
                f"\n[{rig.backend}] claim {round_ + 1}/{claims} (seed {seed + round_}, rate "
                f"{rate}): PAID; {rig.injector.write_transactions - writes_before} write "
                f"transactions, {len(injected)} faults injected "
                f"{dict(Counter(str(i.fault) for i in injected))}, activity retries {retries}, "
                f"duplicates 0; {time.monotonic() - started:.1f} s"
            )


def _check_paid_once(
    rig: Rig, program: RealProgram, claim: ClaimInput, mailbox: Mailbox, status: ClaimStatus
) -> None:
    assert status is ClaimStatus.PAID
    timeline = program.timeline(claim.claim_id)
    sequences = [entry.sequence for entry in timeline]
    assert sequences == sorted(set(sequences))  # D3: no entry twice
    assert [status for status, _ in program.status_changes(claim.claim_id)] == [
        ClaimStatus.SUBMITTED,
        ClaimStatus.UNDER_REVIEW,
        ClaimStatus.AWAITING_BANK_DETAILS,
        ClaimStatus.SCHEDULED_FOR_PAYMENT,
        ClaimStatus.PAID,
    ]
    mails = [key for key, _ in notices_of(mailbox, claim.claim_id)]
    expected = [
        "preliminary_confirmation/1",
        "final_confirmation/1",
        "bank_details_request/1",
        "remittance_advice/1",
    ]
    assert mails == expected  # one e-mail per notice
    with rig.clean.reading() as session:
        sent = [f"{n.kind.value}/{n.number}" for n in NoticeRepository(session).of(claim.claim_id)]
        payments = session.scalars(select(Payment).where(Payment.claim_id == claim.claim_id)).all()
        row = ClaimRepository(session).get(claim.claim_id)
    assert sent == expected
    assert [(p.idempotency_key, p.status) for p in payments] == [
        (payout_idempotency_key(claim.claim_id, 1), PaymentStatus.PAID)
    ]
    assert len(program.bank.transfers(claim.claim_id)) == 1  # D5
    assert row is not None
    assert row.status is ClaimStatus.PAID
    assert program.invitations.outstanding(claim.claim_id) == 0  # the one link, used


# ---- the API while PostgreSQL is away ---------------------------------------------------------


@dataclass
class Served:
    api: Api
    injector: FaultInjector
    proxy: DatabaseProxy
    clean: Database


@pytest.fixture
async def served(
    env: WorkflowEnvironment,
    pg_schema: URL,
    pg_proxy: DatabaseProxy,
    smtp_server: SmtpServer,
    mailbox: Mailbox,
    tmp_path: Path,
) -> AsyncIterator[Served]:
    """The API served by uvicorn on a free port, on PostgreSQL behind the proxy, with a claim
    worker (a database of its own, also behind the proxy) on a task queue of its own."""
    pg_proxy.restore()
    settings = Settings(
        data_dir=tmp_path,
        database_url=pg_proxy.url(pg_schema).render_as_string(hide_password=False),
        task_queue=f"claims-{uuid.uuid4()}",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        public_base_url="http://127.0.0.1",
    )
    database = Database.from_url(settings.resolved_database_url)
    worker_database = Database.from_url(settings.resolved_database_url)
    clean = Database.from_url(pg_schema)
    injector = FaultInjector(database, ProxyOutage(pg_proxy))
    services = Services.build(settings, env.client, database)
    app = create_app(services)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", log_config=None
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while True:
                if server.started:
                    break
                await asyncio.sleep(0.05)
        activities = build_activities(settings, worker_database)
        async with (
            claim_worker(
                env.client,
                activities,
                decision_key=settings.decision_key_bytes,
                task_queue=settings.task_queue,
            ),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http,
        ):
            api = Api(app=app, http=http, services=services, env=env, mailbox=mailbox)
            try:
                yield Served(api, injector, pg_proxy, clean)
            finally:
                injector.end_outage()
                pg_proxy.restore()
                await terminate_all(api)
    finally:
        server.should_exit = True
        await serving
        injector.uninstall()
        for each in (database, worker_database, clean):
            each.dispose()


def _claims_for(database: Database, agreement_number: str) -> list[Claim]:
    with database.reading() as session:
        return list(
            session.scalars(select(Claim).where(Claim.agreement_number == agreement_number))
        )


def _invoices_of(api: Api, claims: list[Claim]) -> list[Path]:
    return [path for path in stored_invoices(api) if any(c.id in str(path) for c in claims)]


@pytest.mark.postgres
@pytest.mark.workflow
async def test_d2_r5_api_answers_503_while_postgresql_is_away_and_recovers_without_restart(
    served: Served,
) -> None:
    """PostgreSQL cut off (the proxy resets every connection and refuses new ones): the API
    answers 503 `database_unavailable` with Retry-After on reads and on POST /claims, and
    /readyz 503; no invoice and no claim row is left by the refused submissions. Once the
    database is back the same process answers again (no restart), and the retried POST with
    the same Idempotency-Key makes the claim (D2, R5), whose workflow runs on."""
    api, proxy = served.api, served.proxy
    reseller = await api.register()
    offer = await api.create_offer()
    before = await submit(api, reseller, offer["offer_id"], _agreement(api))
    assert before.status_code == 201, before.text
    invoices_before = len(stored_invoices(api))

    agreement = _agreement(api)
    proxy.cut()
    cut_at = time.monotonic()
    answers: Counter[int] = Counter()
    bodies: list[dict[str, Any]] = []
    while time.monotonic() - cut_at < 2.0:
        ready = await api.http.get("/readyz")
        listed = await api.http.get("/claims", headers=reseller.headers)
        posted = await submit(
            api, reseller, offer["offer_id"], agreement, idempotency_key="outage-claim"
        )
        for response in (ready, listed, posted):
            answers[response.status_code] += 1
            assert response.status_code == 503, response.text
        assert ready.json()["database"] == "unreachable"
        for response in (listed, posted):
            assert response.headers["Retry-After"].isdigit()
            bodies.append(response.json())
        await asyncio.sleep(0.05)
    assert {body["error"] for body in bodies} == {"database_unavailable"}
    assert "cannot be reached" in bodies[0]["detail"]
    assert len(stored_invoices(api)) == invoices_before  # nothing stored on the way

    proxy.restore()
    restored_at = time.monotonic()
    await _until_ready(api)
    listed = await api.http.get("/claims", headers=reseller.headers)
    recovered = time.monotonic() - restored_at
    assert listed.status_code == 200, listed.text
    assert _claims_for(served.clean, agreement) == []  # the refused POSTs stored nothing

    retried = await submit(
        api, reseller, offer["offer_id"], agreement, idempotency_key="outage-claim"
    )
    assert retried.status_code == 201, retried.text
    stored = _claims_for(served.clean, agreement)
    assert [c.id for c in stored] == [retried.json()["claim_id"]]
    assert len(_invoices_of(api, stored)) == 1
    again = await submit(
        api, reseller, offer["offer_id"], agreement, idempotency_key="outage-claim"
    )
    assert (again.status_code, again.json()["claim_id"]) == (200, retried.json()["claim_id"])
    await _until_under_review(api, reseller.headers, retried.json()["claim_id"])
    # The worker lost the database too: the claim submitted before the outage runs on.
    await _until_under_review(api, reseller.headers, before.json()["claim_id"])
    print(
        f"\n[postgres] outage of {restored_at - cut_at:.1f} s: {sum(answers.values())} requests, "
        f"503 answers {answers[503]}, other answers {sum(answers.values()) - answers[503]}; "
        f"proxy refused {proxy.refused} connections; recovered {recovered:.2f} s after the "
        f"database was back; the retried POST made 1 claim, 1 invoice (duplicates 0)"
    )


@pytest.mark.postgres
@pytest.mark.workflow
async def test_d2_r5_post_claims_loses_nothing_when_the_database_fails_at_commit(
    served: Served,
) -> None:
    """POST /claims while the database goes away right at the claim's COMMIT (the invoice is
    stored by then): 503, the invoice deleted again and no row; the retry after recovery makes
    the claim. A COMMIT whose answer is lost (b) is ridden out in place: 201, one row, one
    invoice, and the Idempotency-Key's replay answers the same claim (D2)."""
    api, injector = served.api, served.injector
    reseller = await api.register()
    offer = await api.create_offer()

    agreement = _agreement(api)
    invoices_before = len(stored_invoices(api))
    injector.at(1, Fault.OUTAGE)  # the next write: the claim's INSERT, cut at its COMMIT
    started = time.monotonic()
    refused = await submit(api, reseller, offer["offer_id"], agreement, idempotency_key="at-commit")
    refused_after = time.monotonic() - started
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"].isdigit()
    injector.end_outage()
    await _until_ready(api)
    assert _claims_for(served.clean, agreement) == []
    assert len(stored_invoices(api)) == invoices_before  # its invoice was deleted again
    retried = await submit(api, reseller, offer["offer_id"], agreement, idempotency_key="at-commit")
    assert retried.status_code == 201, retried.text
    stored = _claims_for(served.clean, agreement)
    assert len(stored) == 1
    assert len(_invoices_of(api, stored)) == 1

    lost_answer = _agreement(api)
    injector.at(1, Fault.AFTER_COMMIT)
    answered = await submit(api, reseller, offer["offer_id"], lost_answer, idempotency_key="lost")
    assert answered.status_code == 201, answered.text
    stored = _claims_for(served.clean, lost_answer)
    assert [c.id for c in stored] == [answered.json()["claim_id"]]
    assert len(_invoices_of(api, stored)) == 1
    replay = await submit(api, reseller, offer["offer_id"], lost_answer, idempotency_key="lost")
    assert (replay.status_code, replay.json()["claim_id"]) == (200, answered.json()["claim_id"])
    await _until_under_review(api, reseller.headers, answered.json()["claim_id"])
    print(
        f"\n[postgres] POST /claims, outage at the claim's COMMIT: 503 after "
        f"{refused_after:.1f} s (retried in place first), 0 rows, 0 invoices; the retry made 1 "
        f"claim. Lost COMMIT answer: 201, 1 row, 1 invoice (duplicates 0); faults injected "
        f"{len(injector.injected)}"
    )


def _agreement(api: Api) -> str:
    number = f"OL-{uuid.uuid4().hex[:8].upper()}"
    api.add_licensing_record(number)
    return number


async def _until_ready(api: Api, seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if (await api.http.get("/readyz")).status_code == 200:
                return
            await asyncio.sleep(0.05)


async def _until_under_review(
    api: Api, headers: dict[str, str], claim_id: str, seconds: float = 60
) -> None:
    """The claim's workflow runs on after the outage: it reaches UNDER_REVIEW (R7 sent)."""
    handle = api.services.temporal.get_workflow_handle(claim_workflow_id(claim_id))
    async with asyncio.timeout(seconds):
        while True:
            state: ClaimState = await handle.query(ClaimWorkflow.state)
            if state.status is ClaimStatus.UNDER_REVIEW and state.notices:
                return
            await asyncio.sleep(0.1)
