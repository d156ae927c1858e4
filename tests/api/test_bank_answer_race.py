"""D5 under races, on SQLite and on PostgreSQL: the same bank file imported twice at the same
moment is applied once (the file's SHA-256 is unique; the second import finds it and reports a
duplicate), the same return in two files imported at the same moment reopens its claim once
(R16), and two runs prepared at the same moment never hold the same claim."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from cashback.bank.answers import TransferAnswer, debit_notification
from cashback.db.tables import BankFile, Payment, PaymentRun, PaymentRunEntry, PaymentStatus
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import wait_for_status
from tests.api.harness import Api
from tests.api.payment_run_helpers import (
    another_operator,
    claim_in_the_queue,
    end_to_end_of,
    released_run,
    upload,
)
from tests.api.test_bank_answers import report_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DEBTOR = "DE89370400440532013000"


@pytest.fixture
def settings_overrides(on_both_databases: dict[str, Any]) -> dict[str, Any]:
    return {"payment_gateway": "payment_runs", **on_both_databases}


async def test_d5_r16_the_same_file_or_return_imported_twice_at_once_is_applied_once(
    api: Api,
) -> None:
    """D5: two uploads of the same status report at the same moment: one applies it, the other
    reports a duplicate; the payment is answered once and the file recorded once. R16: two
    files returning the paid transfer, at the same moment: one reopens the claim, the other
    reports the return applied already; the claim's timeline has one return."""
    reseller, claim_id = await claim_in_the_queue(api)
    run = await released_run(api)
    content = report_for(run, TransferAnswer(end_to_end_of(api, claim_id), 25_000, "ACSC"))
    first, second = await asyncio.gather(upload(api, content), upload(api, content))
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert sorted([first.json()["duplicate"], second.json()["duplicate"]]) == [False, True]
    await wait_for_status(api, reseller, claim_id, ClaimStatus.PAID)
    with api.services.database.reading() as session:
        assert session.scalar(select(func.count()).select_from(BankFile)) == 1
        payment = session.scalar(select(Payment).where(Payment.claim_id == claim_id))
        assert payment is not None
        assert payment.status is PaymentStatus.PAID

    # R16: the transfer comes back, told in two different files imported at the same moment.
    came_back = [TransferAnswer(end_to_end_of(api, claim_id), 25_000, "RTRN", "AC04")]
    first, second = await asyncio.gather(
        upload(api, debit_notification("C54-RT-1", DEBTOR, came_back)),
        upload(api, debit_notification("C54-RT-2", DEBTOR, came_back)),
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    results = sorted(r.json()["entries"][0]["result"] for r in (first, second))
    assert results == ["already_applied", "reopened"]
    claim = await wait_for_status(api, reseller, claim_id, ClaimStatus.PAYMENT_FAILED)
    assert [e["event"] for e in claim["timeline"]].count("payment_returned") == 1


async def test_d5_two_runs_prepared_at_once_hold_each_claim_once(api: Api) -> None:
    """D5: two operators prepare a run at the same moment: one run is prepared, the other
    request is refused (409), and the claim's order is in one run only."""
    await claim_in_the_queue(api)
    first, second = await asyncio.gather(
        api.http.post("/operator/payment-runs", headers=api.operator),
        api.http.post("/operator/payment-runs", headers=another_operator(api)),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409], (first.text, second.text)
    refused = first if first.status_code == 409 else second
    assert refused.json()["error"] in {"run_open", "nothing_due"}
    with api.services.database.reading() as session:
        assert session.scalar(select(func.count()).select_from(PaymentRunEntry)) == 1
        assert session.scalar(select(func.count()).select_from(PaymentRun)) == 1
