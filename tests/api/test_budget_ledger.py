"""Offer budgets (D7) through the API on SQLite and on PostgreSQL, with a worker running the
real activities: after a payout (R14) and a cancellation (R12), what the budget-use report
says adds up."""

from __future__ import annotations

from typing import Any

import pytest

from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import new_agreement, submitted, wait_for_status
from tests.api.harness import Api, Reseller
from tests.api.test_bank_details_page import company_form
from tests.api.test_read_model import bank_details_page


@pytest.fixture
def settings_overrides(on_both_databases: dict[str, Any]) -> dict[str, Any]:
    """The API on SQLite, and on PostgreSQL (a schema of its own)."""
    return on_both_databases


async def approved(api: Api, reseller: Reseller, offer_id: str) -> str:
    agreement = new_agreement()
    api.add_licensing_record(agreement)
    claim_id = await submitted(api, reseller, offer_id, agreement)
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    decided = await api.http.post(
        f"/operator/claims/{claim_id}/decision", json={"kind": "approve"}, headers=api.operator
    )
    assert decided.status_code == 200, decided.text
    return claim_id


async def use_of(api: Api, offer_id: str) -> dict[str, Any]:
    report = await api.http.get("/operator/budgets", headers=api.operator)
    assert report.status_code == 200, report.text
    [line] = [o for o in report.json()["offers"] if o["offer_id"] == offer_id]
    return {k: line[k] for k in ("budget", "committed", "paid", "released", "remaining")}


async def test_d7_r12_r14_paid_and_cancelled_claims_add_up_in_the_report(api: Api) -> None:
    """D7 with the database's ledger: two approvals commit 2 x 250.00 EUR of 1,000.00 EUR; one
    is paid (R14: consumed), the other cancelled for an individual's account (R12: released,
    back in the budget); after each step committed + paid + released is what was approved."""
    offer = await api.create_offer(budget_minor_units=100_000)
    reseller = await api.register()
    paid = await approved(api, reseller, offer["offer_id"])
    cancelled = await approved(api, reseller, offer["offer_id"])
    assert await use_of(api, offer["offer_id"]) == {
        "budget": 100_000, "committed": 50_000, "paid": 0, "released": 0, "remaining": 50_000
    }  # fmt: skip

    page = await bank_details_page(api, paid, "bank_details_request/1")
    given = await api.http.post(page, data=company_form(holder_name=reseller.company_name))
    assert given.status_code == 200, given.text
    await wait_for_status(api, reseller, paid, ClaimStatus.PAID, seconds=30)
    assert await use_of(api, offer["offer_id"]) == {
        "budget": 100_000, "committed": 25_000, "paid": 25_000, "released": 0, "remaining": 50_000
    }  # fmt: skip

    page = await bank_details_page(api, cancelled, "bank_details_request/1")
    individual = company_form(holder_type="individual", holder_name="Max Muster")
    assert (await api.http.post(page, data=individual)).status_code == 200
    await wait_for_status(api, reseller, cancelled, ClaimStatus.CANCELLED, seconds=30)
    assert await use_of(api, offer["offer_id"]) == {
        "budget": 100_000, "committed": 0, "paid": 25_000, "released": 25_000, "remaining": 75_000
    }  # fmt: skip
