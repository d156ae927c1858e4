"""R14, R16 with a bank reached by file exchange: the payment order is written as a file, the
payment activity waits, and an operator enters the bank's answer (ISO 20022 code): paid, or
rejected for the bank details, which starts the update loop of R16."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cashback.claims import Decision, DecisionKind
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import decide, new_agreement, submitted, wait_for_status
from tests.api.harness import Api, Reseller
from tests.api.test_bank_details_page import company_form, link_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"payment_gateway": "file_exchange"}


async def claim_waiting_for_the_bank(api: Api) -> tuple[Reseller, str]:
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()
    api.add_licensing_record(
        agreement, reseller_name=reseller.company_name, seller_id=reseller.vat_id
    )
    claim_id = await submitted(api, reseller, offer["offer_id"], agreement)
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    await decide(api, claim_id, Decision(kind=DecisionKind.APPROVE, operator="ops"))
    await wait_for_status(api, reseller, claim_id, ClaimStatus.AWAITING_BANK_DETAILS)
    for _ in range(100):  # the request e-mail follows the status change
        try:
            page = link_in(api, claim_id, "bank_details_request/1")
            break
        except KeyError:
            await asyncio.sleep(0.1)
    given = await api.http.post(page, data=company_form(holder_name=reseller.company_name))
    assert given.status_code == 200, given.text
    await wait_for_status(api, reseller, claim_id, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    orders = api.services.settings.data_dir / "payment-orders"
    for _ in range(100):
        if list(orders.glob("*.json")):
            break
        await asyncio.sleep(0.1)
    return reseller, claim_id


async def test_r14_an_operator_enters_the_banks_acceptance_and_the_claim_is_paid(api: Api) -> None:
    """R14: the order file names the amount and the account; nothing is paid until the bank's
    answer is entered; ACSC (settled) completes the payment: PAID."""
    reseller, claim_id = await claim_waiting_for_the_bank(api)
    [order_file] = (api.services.settings.data_dir / "payment-orders").glob("*.json")
    order = json.loads(order_file.read_text())
    assert (order["amount_minor_units"], order["currency"]) == (25_000, "EUR")
    assert order["creditor_name"] == reseller.company_name
    assert oct(order_file.stat().st_mode & 0o777) == "0o600"
    claim = (await api.http.get(f"/claims/{claim_id}", headers=reseller.headers)).json()
    assert claim["status"] == "SCHEDULED_FOR_PAYMENT"

    entered = await api.http.post(
        f"/operator/claims/{claim_id}/payment-result",
        json={"return_code": "ACSC", "bank_reference": "BANK-4711"},
        headers=api.operator,
    )
    assert entered.status_code == 200, entered.text
    assert entered.json()["outcome"] == "paid"
    await wait_for_status(api, reseller, claim_id, ClaimStatus.PAID)

    again = await api.http.post(
        f"/operator/claims/{claim_id}/payment-result",
        json={"return_code": "ACSC"},
        headers=api.operator,
    )
    assert again.status_code == 409


async def test_r16_a_rejection_entered_by_an_operator_asks_for_new_details(api: Api) -> None:
    """R16: AC04 (account closed) entered for the pending payment: PAYMENT_FAILED and the first
    payment-failure notice; an unknown code is refused with the codes it accepts; a reseller
    may not enter results."""
    reseller, claim_id = await claim_waiting_for_the_bank(api)
    unknown = await api.http.post(
        f"/operator/claims/{claim_id}/payment-result",
        json={"return_code": "ZZ99"},
        headers=api.operator,
    )
    assert unknown.status_code == 422
    assert "AC04" in unknown.json()["detail"]
    forbidden = await api.http.post(
        f"/operator/claims/{claim_id}/payment-result",
        json={"return_code": "AC04"},
        headers=reseller.headers,
    )
    assert forbidden.status_code == 403

    entered = await api.http.post(
        f"/operator/claims/{claim_id}/payment-result",
        json={"return_code": "AC04"},
        headers=api.operator,
    )
    assert entered.status_code == 200, entered.text
    assert entered.json()["outcome"] == "rejected"
    await wait_for_status(api, reseller, claim_id, ClaimStatus.PAYMENT_FAILED)
