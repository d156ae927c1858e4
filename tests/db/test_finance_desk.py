"""R14, D5: the simulated finance desk of `make run` and `make demo` (cashback/finance_desk.py)
against the real database, run files, outbox and inbox: one operator prepares, another
releases, the simulated bank answers, the import applies; once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from activities.payments import PaymentOrder, PaymentOutcome
from api.accounts import create_operator
from cashback.bank.pain001 import DebtorAccount
from cashback.bank.payment_queue import PaymentRunQueue
from cashback.bank.recorded import RecordedGateway
from cashback.bank.run_files import LocalRunFiles
from cashback.bank.simulated_channel import SimulatedBankChannel
from cashback.bank_answers import BankAnswerImports, Completion
from cashback.db import BankAccounts, BankDetails, Database
from cashback.db.tables import Payment, PaymentRunStatus, PaymentStatus
from cashback.domain.money import Money
from cashback.domain.payout import HolderType
from cashback.finance_desk import DeskRefused, SimulatedFinanceDesk
from cashback.payment_runs import PaymentRuns
from tests.db.seed import add_claims

PASSWORD = "orchard-lantern-quarry-42"
PREPARER, RELEASER = "finance.a@program.example", "finance.b@program.example"
IBANS = {"claim-1": "DE89370400440532013000", "claim-2": "DE36500105175407324396"}


class Desk:
    """The services as `make run` wires them, on `database` and a folder of its own."""

    def __init__(self, database: Database, folder: Path) -> None:
        self.database = database
        self.accounts = BankAccounts(database, bytes(32))
        self.runs = PaymentRuns(
            database,
            self.accounts,
            LocalRunFiles(folder / "payment-runs"),
            folder / "bank-outbox",
            DebtorAccount("Cashback Program GmbH", "DE02120300000000202051", "BYLADEM1001"),
        )
        self.inbox = folder / "bank-inbox"
        self.channel = SimulatedBankChannel(folder / "bank-outbox", self.inbox)

    def desk(self, preparer: str = PREPARER, releaser: str = RELEASER) -> SimulatedFinanceDesk:
        imports = BankAnswerImports(self.database, 2 * 1024 * 1024)
        return SimulatedFinanceDesk(
            self.database, self.runs, imports, self.channel, self.inbox, preparer, releaser
        )

    def queue(self, claim_id: str) -> None:
        """The claim's payment order queued for a run, its activity waiting (as the worker
        leaves it)."""
        reference = self.accounts.store(
            BankDetails(
                holder_name="Acme Software GmbH",
                holder_type=HolderType.COMPANY,
                iban=IBANS[claim_id],
            )
        )
        gateway = RecordedGateway(PaymentRunQueue(self.database), self.database)
        order = PaymentOrder(
            idempotency_key=f"cashback/{claim_id}/payout/1",
            claim_id=claim_id,
            amount=Money(minor_units=25_000, currency="EUR"),
            bank_details_ref=reference,
            remittance_information="Cash back",
        )
        assert gateway.pay(order) is None
        gateway.await_answer(order.idempotency_key, f"token-{claim_id}".encode())

    def statuses(self) -> dict[str, PaymentStatus]:
        with self.database.reading() as session:
            return {p.claim_id: p.status for p in session.scalars(select(Payment))}


@pytest.fixture
def rig(database: Database, tmp_path: Path) -> Desk:
    with database.transaction() as session:
        add_claims(session, "claim-1", "claim-2")
    for email in (PREPARER, RELEASER):
        create_operator(database, email, PASSWORD)
    return Desk(database, tmp_path)


def test_r14_d5_one_step_prepares_releases_answers_and_imports_once(rig: Desk) -> None:
    """R14: the two orders due go into one run prepared by one operator and released by the
    other; the simulated bank's pain.002 and camt.054 are imported: both payments PAID, their
    waiting activities to be completed with PAID. D5: the same step again does nothing."""
    rig.queue("claim-1")
    rig.queue("claim-2")
    step = rig.desk().step()

    assert step.run is not None
    run = rig.runs.run(step.run.run_id)
    assert (run.status, run.prepared_by, run.released_by) == (
        PaymentRunStatus.RELEASED,
        PREPARER,
        RELEASER,
    )
    assert (run.number_of_transactions, run.control_sum_minor_units) == (2, 50_000)
    assert sorted(f.name for f in step.imported) == sorted(step.answered)
    assert dict(step.results()) == {"paid": 2, "already_applied": 2}
    assert rig.statuses() == {"claim-1": PaymentStatus.PAID, "claim-2": PaymentStatus.PAID}
    completions = [c for c in step.completions if isinstance(c, Completion)]
    assert len(completions) == len(step.completions)  # no return among them
    assert sorted((c.claim_id, c.task_token, c.result.outcome) for c in completions) == [
        ("claim-1", b"token-claim-1", PaymentOutcome.PAID),
        ("claim-2", b"token-claim-2", PaymentOutcome.PAID),
    ]
    line = step.line()
    assert f"2 transfers, 500.00 EUR for {run.execution_date}" in line
    assert not any(iban[4:] in line for iban in IBANS.values())

    again = rig.desk().step()
    assert not again.did_something
    assert (again.completions, len(rig.runs.runs())) == ((), 1)


def test_r14_four_eyes_the_desk_is_two_operator_accounts(rig: Desk) -> None:
    """R14, four eyes: the desk refuses one operator twice, and an address that is no operator
    account (a reseller's, or none), naming what to do."""
    with pytest.raises(DeskRefused) as twice:
        rig.desk(PREPARER, PREPARER.upper())
    assert twice.value.code == "four_eyes"
    with pytest.raises(DeskRefused, match="create-operator") as unknown:
        rig.desk(PREPARER, "nobody@program.example")
    assert unknown.value.code == "not_an_operator"


def test_r14_a_run_an_operator_prepared_is_left_to_the_operators(rig: Desk) -> None:
    """R14: while an operator's own run waits for release the desk prepares nothing and
    releases nothing; a run the desk itself prepared and did not release (the program stopped
    in between) is released by its next step, by the second operator."""
    rig.queue("claim-1")
    create_operator(rig.database, "ops@program.example", PASSWORD)
    theirs = rig.runs.prepare("ops@program.example")
    assert not rig.desk().step().did_something
    assert rig.runs.run(theirs.run_id).status is PaymentRunStatus.PREPARED

    rig.runs.discard(theirs.run_id, "ops@program.example")
    own = rig.runs.prepare(PREPARER)
    step = rig.desk().step()
    assert step.run is not None
    assert (step.run.run_id, step.run.released_by) == (own.run_id, RELEASER)
    assert rig.statuses() == {"claim-1": PaymentStatus.PAID}
