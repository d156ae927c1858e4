"""Offer budgets (D7) and the decision policy (D8) through the API, with a worker running the
real activities: operators set and top up budgets, a claim the budget cannot cover waits and
goes on after a top-up, the budget-use report and the accruals as JSON and CSV, and the offer
showing its policy. The ledger's paid and released paths on both databases:
tests/api/test_budget_ledger.py."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Any

from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import new_agreement, submitted, terminate_all, wait_for_status
from tests.api.harness import Api
from tests.api.operator_helpers import add_claim_row


def operator_reader(api: Api, claim_id: str) -> Any:
    async def read() -> dict[str, Any]:
        response = await api.http.get(f"/operator/claims/{claim_id}", headers=api.operator)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    return read


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_d7_d8_a_claim_the_budget_cannot_cover_waits_for_a_top_up(api: Api) -> None:
    """D8: an offer deciding at once approves an eligible claim on arrival; D7: its 250.00 EUR
    do not fit the budget of 100.00 EUR, so the claim stays under review, escalated and
    waiting for budget, with the reason on its timeline; the operator's top-up tells it, and
    it goes on to bank details; the report then shows the commitment."""
    offer = await api.create_offer(
        decision_policy="at_once_when_conclusive", budget_minor_units=10_000
    )
    assert offer["decision_policy"] == "at_once_when_conclusive"
    reseller = await api.register()
    listed = await api.http.get("/offers", headers=reseller.headers)
    assert [o["decision_policy"] for o in listed.json()["offers"]] == ["at_once_when_conclusive"]
    agreement = new_agreement()
    api.add_licensing_record(agreement)
    claim_id = await submitted(api, reseller, offer["offer_id"], agreement)

    read = operator_reader(api, claim_id)
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    for _ in range(200):
        claim = await read()
        if claim["awaiting_budget"]:
            break
        await asyncio.sleep(0.1)
    assert (claim["status"], claim["escalated"], claim["amount"]) == ("UNDER_REVIEW", True, None)
    waiting = await api.http.get(
        "/operator/review-queue", params={"awaiting_budget": "true"}, headers=api.operator
    )
    assert [c["claim_id"] for c in waiting.json()["claims"]] == [claim_id]
    reasons = [entry["reason"] for entry in claim["timeline"]]
    assert any(r.startswith("D7: the offer's budget cannot cover this approval") for r in reasons)
    # The reseller sees the claim under review, never the program's budget.
    own = await api.http.get(f"/claims/{claim_id}", headers=reseller.headers)
    assert own.json()["status"] == "UNDER_REVIEW"
    assert "budget" not in own.text

    topped = await api.http.post(
        f"/operator/offers/{offer['offer_id']}/budget/top-up",
        json={"amount_minor_units": 20_000},
        headers=api.operator,
    )
    assert topped.status_code == 200, topped.text
    assert topped.json()["budget"] == 30_000
    assert topped.json()["claims_told"] == [claim_id]
    approved = await wait_for_status(api, reseller, claim_id, ClaimStatus.AWAITING_BANK_DETAILS)
    assert approved["amount"] == {"minor_units": 25_000, "currency": "EUR"}
    claim = await read()
    assert claim["awaiting_budget"] is False
    waiting = await api.http.get(
        "/operator/claims", params={"awaiting_budget": "true"}, headers=api.operator
    )
    assert waiting.json()["claims"] == []
    assert any(
        e["reason"] == "decided automatically: approved: 20 licences, 250.00 EUR"
        for e in claim["timeline"]
    )

    report = await api.http.get("/operator/budgets", headers=api.operator)
    assert report.status_code == 200, report.text
    assert report.json()["offers"] == [
        {
            "offer_id": offer["offer_id"],
            "offer_name": "Office 2026 Cash Back",
            "currency": "EUR",
            "budget": 30_000,
            "committed": 25_000,
            "paid": 0,
            "released": 0,
            "remaining": 5_000,
        }
    ]
    exported = await api.http.get("/operator/budgets.csv", headers=api.operator)
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert rows_of(exported.text) == [
        {
            "offer_id": offer["offer_id"],
            "offer_name": "Office 2026 Cash Back",
            "currency": "EUR",
            "budget": "30000",
            "committed": "25000",
            "paid": "0",
            "released": "0",
            "remaining": "5000",
        }
    ]
    month = f"{datetime.now(UTC):%Y-%m}"
    accruals = await api.http.get("/operator/budgets/accruals", headers=api.operator)
    assert accruals.json()["accruals"] == [
        {
            "offer_id": offer["offer_id"],
            "currency": "EUR",
            "month": month,
            "accrued": 25_000,
            "claims": 1,
        }
    ]
    later = await api.http.get(
        "/operator/budgets/accruals", params={"through": "2999-12-31"}, headers=api.operator
    )
    assert later.json() == accruals.json()  # months after today's would repeat it
    earlier = await api.http.get(
        "/operator/budgets/accruals", params={"through": "2000-01-31"}, headers=api.operator
    )
    assert earlier.json() == {"through": "2000-01-31", "accruals": []}
    accruals_csv = await api.http.get("/operator/budgets/accruals.csv", headers=api.operator)
    assert rows_of(accruals_csv.text) == [
        {
            "offer_id": offer["offer_id"],
            "currency": "EUR",
            "month": month,
            "accrued": "25000",
            "claims": "1",
        }
    ]

    below = await api.http.put(
        f"/operator/offers/{offer['offer_id']}/budget",
        json={"budget_minor_units": 24_999},
        headers=api.operator,
    )
    assert below.status_code == 409
    assert below.json() == {
        "error": "budget_below_use",
        "detail": "D7: 250.00 EUR of this offer's budget is committed or paid already; set a "
        "budget of at least that",
    }
    await terminate_all(api)


async def test_d7_budget_endpoints_refuse_bad_input_and_non_operators(api: Api) -> None:
    """D7: unknown offer 404, a negative or zero amount 422, a reseller 403; a budget set on
    an offer without one; an offer without a budget shows none remaining."""
    offer = await api.create_offer()
    assert offer["decision_policy"] == "at_the_deadline"
    reseller = await api.register()
    path = f"/operator/offers/{offer['offer_id']}/budget"
    unknown = await api.http.put(
        "/operator/offers/o_none/budget", json={"budget_minor_units": 1}, headers=api.operator
    )
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    negative = await api.http.put(path, json={"budget_minor_units": -1}, headers=api.operator)
    assert (negative.status_code, negative.json()["error"]) == (422, "invalid_request")
    assert "budget_minor_units" in negative.json()["detail"]
    zero = await api.http.post(
        f"{path}/top-up", json={"amount_minor_units": 0}, headers=api.operator
    )
    assert zero.status_code == 422
    for method, url in (
        ("PUT", path),
        ("GET", "/operator/budgets"),
        ("GET", "/operator/budgets.csv"),
        ("GET", "/operator/budgets/accruals"),
    ):
        refused = await api.http.request(
            method, url, json={"budget_minor_units": 1}, headers=reseller.headers
        )
        assert refused.status_code == 403, (method, url)
    report = (await api.http.get("/operator/budgets", headers=api.operator)).json()
    assert [(o["budget"], o["remaining"]) for o in report["offers"]] == [(None, None)]
    set_ = await api.http.put(path, json={"budget_minor_units": 5_000}, headers=api.operator)
    assert set_.status_code == 200, set_.text
    assert (set_.json()["budget"], set_.json()["remaining"], set_.json()["claims_told"]) == (
        5_000,
        5_000,
        [],
    )
    policy = await api.http.put(
        f"/operator/offers/{offer['offer_id']}/decision-policy",
        json={"decision_policy": "at_once_when_conclusive"},
        headers=api.operator,
    )
    assert policy.json()["decision_policy"] == "at_once_when_conclusive"
    wrong = await api.http.put(
        f"/operator/offers/{offer['offer_id']}/decision-policy",
        json={"decision_policy": "whenever"},
        headers=api.operator,
    )
    assert wrong.status_code == 422


async def test_d7_a_waiting_claim_whose_workflow_cannot_be_reached_is_named(api: Api) -> None:
    """D7: a claim shown as waiting for budget whose workflow the service cannot reach (here:
    none runs) is named in `claims_not_reached`, so the operator decides it; the top-up itself
    is made."""
    offer = await api.create_offer(budget_minor_units=1_000)
    reseller = await api.register()
    row, _, _ = add_claim_row(
        api, reseller.reseller_id, offer["offer_id"], new_agreement(),
        status=ClaimStatus.UNDER_REVIEW,
    )  # fmt: skip
    with api.services.database.transaction() as session:
        session.get_one(type(row), row.id).awaiting_budget = True
    topped = await api.http.post(
        f"/operator/offers/{offer['offer_id']}/budget/top-up",
        json={"amount_minor_units": 500},
        headers=api.operator,
    )
    assert topped.status_code == 200, topped.text
    answer = topped.json()
    assert (answer["budget"], answer["claims_told"], answer["claims_not_reached"]) == (
        1_500,
        [],
        [row.id],
    )
