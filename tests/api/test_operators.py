"""Operators over HTTP (R5, R8, R9): the review queue with the automatic verdicts, one claim with
its timeline, the invoice link, and decisions that the claim's workflow validates; operator
endpoints refuse resellers (403) and anonymous callers (401)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cashback.db.tables import Claim
from cashback.domain.eligibility import Verdict
from cashback.domain.status import ClaimStatus
from tests.api.harness import Api
from tests.api.operator_helpers import (
    StartedClaim,
    add_claim_row,
    projected,
    start_claim,
    under_review,
)
from tests.claim_waits import claim_outcome
from workflows.claim import ClaimWorkflow


async def _claim(api: Api, agreement_number: str, **kwargs: Any) -> StartedClaim:
    """A claim of a new reseller under a new offer, under review."""
    offer = await api.create_offer()
    reseller = await api.register()
    claim = await start_claim(
        api, reseller.reseller_id, offer["offer_id"], agreement_number, **kwargs
    )
    await under_review(claim)
    return claim


async def test_r8_r9_review_queue_orders_by_deadline_and_shows_the_verdicts(api: Api) -> None:
    """R8: each claim under review shows its automatic verdict and reasons; R9: the oldest
    review deadline comes first. All of it is read from the database (the read model): a claim
    whose workflow does not exist is listed too, last, with what its row knows."""
    offer = await api.create_offer()
    reseller = await api.register()
    api.add_licensing_record("OL-ELIGIBLE")
    eligible = await start_claim(api, reseller.reseller_id, offer["offer_id"], "OL-ELIGIBLE")
    unknown = await start_claim(
        api,
        reseller.reseller_id,
        offer["offer_id"],
        "OL-UNKNOWN",
        received_at=datetime.now(UTC) - timedelta(days=10),
    )
    orphan, _, _ = add_claim_row(
        api, reseller.reseller_id, offer["offer_id"], "OL-ORPHAN", status=ClaimStatus.UNDER_REVIEW
    )
    await under_review(eligible)
    await under_review(unknown)
    await projected(api, eligible.claim_id, ClaimStatus.UNDER_REVIEW)
    await projected(api, unknown.claim_id, ClaimStatus.UNDER_REVIEW)

    response = await api.http.get("/operator/review-queue", headers=api.operator)

    assert response.status_code == 200, response.text
    queue = response.json()["claims"]
    assert [item["claim_id"] for item in queue] == [unknown.claim_id, eligible.claim_id, orphan.id]
    first, second, third = queue
    assert date.fromisoformat(first["review_deadline"]) < date.fromisoformat(
        second["review_deadline"]
    )
    assert first["verdict"]["verdict"] == "inconclusive"
    assert [reason["code"] for reason in first["verdict"]["reasons"]] == ["agreement_unknown"]
    assert "OL-UNKNOWN is not in the licensing records" in first["verdict"]["reasons"][0]["detail"]
    assert first["escalated"] is False
    assert second["verdict"]["verdict"] == "eligible"
    assert second["verdict"]["eligible_licences"] == 20
    assert second["verdict"]["reasons"] == []
    assert second["reseller_name"] == "Contoso Software GmbH"
    assert second["agreement_number"] == "OL-ELIGIBLE"
    assert second["amount"] is None
    assert third["verdict"] is None
    assert third["review_deadline"] is None
    assert third["workflow_id"] == orphan.workflow_id


async def test_r8_r9_the_review_queue_comes_in_pages_filtered_and_by_deadline(api: Api) -> None:
    """R8, R9: the queue is read from the database a page at a time (keyset pagination),
    the earliest review deadline first, with the total; filters narrow it (offer, reseller,
    country, verdict, escalated, deadline before a day)."""
    offer = await api.create_offer()
    other_offer = await api.create_offer()
    reseller = await api.register()
    today = datetime.now(UTC).date()
    claims = []
    for days, verdict, offer_id in ((9, "eligible", offer), (3, "inconclusive", offer),
                                     (6, "ineligible", other_offer)):  # fmt: skip
        row, _, _ = add_claim_row(
            api, reseller.reseller_id, offer_id["offer_id"], f"OL-PAGE-{days}",
            status=ClaimStatus.UNDER_REVIEW,
        )  # fmt: skip
        with api.services.database.transaction() as session:
            stored = session.get_one(Claim, row.id)
            stored.review_deadline = today + timedelta(days=days)
            stored.verdict = Verdict(verdict)
            stored.escalated = verdict == "inconclusive"
        claims.append(row.id)
    by_deadline = [claims[1], claims[2], claims[0]]

    first = await api.http.get("/operator/review-queue?limit=2", headers=api.operator)
    assert first.status_code == 200, first.text
    assert [item["claim_id"] for item in first.json()["claims"]] == by_deadline[:2]
    assert first.json()["total"] == 3
    cursor = first.json()["next_cursor"]
    last = await api.http.get(
        f"/operator/review-queue?limit=2&cursor={cursor}", headers=api.operator
    )
    assert [item["claim_id"] for item in last.json()["claims"]] == by_deadline[2:]
    assert last.json()["next_cursor"] is None

    async def selected(query: str) -> list[str]:
        response = await api.http.get(f"/operator/review-queue?{query}", headers=api.operator)
        assert response.status_code == 200, response.text
        return [item["claim_id"] for item in response.json()["claims"]]

    assert await selected(f"offer_id={offer['offer_id']}") == [claims[1], claims[0]]
    assert await selected(f"reseller_id={reseller.reseller_id}") == by_deadline
    assert await selected("country=de") == by_deadline
    assert await selected("country=AT") == []
    assert await selected("verdict=ineligible") == [claims[2]]
    assert await selected("escalated=true") == [claims[1]]
    before = (today + timedelta(days=7)).isoformat()
    assert await selected(f"deadline_before={before}") == [claims[1], claims[2]]
    too_many = await api.http.get("/operator/review-queue?limit=1000", headers=api.operator)
    assert too_many.status_code == 422
    bad = await api.http.get("/operator/review-queue?cursor=nonsense", headers=api.operator)
    assert bad.status_code == 422


async def test_every_claim_is_listed_and_exported_from_the_database(api: Api) -> None:
    """The operators' list of all claims, any status, newest first, with the queue's filters
    and a status filter; the CSV export gives the same selection, formula-safe."""
    offer = await api.create_offer()
    reseller = await api.register()
    now = datetime.now(UTC)
    statuses = (ClaimStatus.PAID, ClaimStatus.REJECTED, ClaimStatus.UNDER_REVIEW)
    rows = []
    for age, status in enumerate(statuses):
        row, _, _ = add_claim_row(
            api, reseller.reseller_id, offer["offer_id"], f"OL-LIST-{age}",
            status=status, received_at=now - timedelta(hours=age),
            customer_name="=HYPERLINK(1)" if age == 0 else "Fabrikam AG",
        )  # fmt: skip
        rows.append(row.id)

    listed = await api.http.get("/operator/claims?limit=2", headers=api.operator)
    assert listed.status_code == 200, listed.text
    assert [item["claim_id"] for item in listed.json()["claims"]] == rows[:2]
    cursor = listed.json()["next_cursor"]
    rest = await api.http.get(f"/operator/claims?limit=2&cursor={cursor}", headers=api.operator)
    assert [item["claim_id"] for item in rest.json()["claims"]] == rows[2:]
    paid = await api.http.get("/operator/claims?status=PAID", headers=api.operator)
    assert [item["claim_id"] for item in paid.json()["claims"]] == [rows[0]]

    exported = await api.http.get(
        f"/operator/claims.csv?offer_id={offer['offer_id']}", headers=api.operator
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [line["claim_id"] for line in table] == rows
    assert [line["status"] for line in table] == [status.value for status in statuses]
    assert table[0]["customer_name"] == "'=HYPERLINK(1)"
    refused = await api.http.get("/operator/claims.csv", headers=reseller.headers)
    assert refused.status_code == 403


async def test_r8_an_approval_through_the_api_asks_for_bank_details(api: Api) -> None:
    """R8, R9: an operator approves; the workflow sends the final confirmation and moves to
    AWAITING_BANK_DETAILS; the timeline names the signed-in operator, not one the JSON names
    (D3); the claim leaves the queue.
    A second decision is refused by the workflow's validator: 409 with its message."""
    api.add_licensing_record("OL-APPROVE")
    claim = await _claim(api, "OL-APPROVE")

    approved = await api.http.post(
        f"/operator/claims/{claim.claim_id}/decision",
        json={
            "kind": "approve",
            "reasons": ["checked against the invoice"],
            "operator": "olga@program.example",
        },
        headers=api.operator,
    )

    assert approved.status_code == 200, approved.text
    state = approved.json()
    assert state["status"] == ClaimStatus.AWAITING_BANK_DETAILS
    assert state["amount"] == {"minor_units": 20 * 1250, "currency": "EUR"}
    again = await api.http.post(
        f"/operator/claims/{claim.claim_id}/decision",
        json={"kind": "reject", "reasons": ["changed my mind"]},
        headers=api.operator,
    )
    assert again.status_code == 409
    assert again.json() == {
        "error": "decision_refused",
        "detail": "the claim is not under review (status AWAITING_BANK_DETAILS)",
    }
    detail = (await api.http.get(f"/operator/claims/{claim.claim_id}", headers=api.operator)).json()
    assert detail["status"] == ClaimStatus.AWAITING_BANK_DETAILS
    assert detail["amount"] == {"minor_units": 25000, "currency": "EUR"}
    me = (await api.http.get("/me", headers=api.operator)).json()
    changes = [(e["to_status"], e["actor"]) for e in detail["timeline"] if e["to_status"]]
    assert (ClaimStatus.AWAITING_BANK_DETAILS, me["email"]) in changes
    assert "olga@program.example" not in [actor for _, actor in changes]
    assert changes[0] == (ClaimStatus.SUBMITTED, "reseller")
    queue = (await api.http.get("/operator/review-queue", headers=api.operator)).json()
    assert claim.claim_id not in [item["claim_id"] for item in queue["claims"]]


async def test_r8_a_rejection_needs_reasons_and_the_validator_has_the_last_word(api: Api) -> None:
    """R8: a rejection without a reason is refused (422); an approval of a claim the records do
    not know, without the licences, is refused by the workflow's validator (409, its message);
    a rejection with a reason ends the claim, after which decisions get 409; an unknown claim
    gets 404."""
    claim = await _claim(api, "OL-NOT-ON-RECORD")
    url = f"/operator/claims/{claim.claim_id}/decision"

    no_reason = await api.http.post(url, json={"kind": "reject"}, headers=api.operator)
    assert no_reason.status_code == 422
    assert "a rejection needs at least one reason" in no_reason.json()["detail"]
    blank = await api.http.post(
        url, json={"kind": "reject", "reasons": [" "]}, headers=api.operator
    )
    assert blank.status_code == 422

    unsure = await api.http.post(url, json={"kind": "approve"}, headers=api.operator)
    assert unsure.status_code == 409
    assert unsure.json()["detail"] == (
        "the automatic check counted no eligible licences: give `licences`"
    )
    assert (await claim.handle.query(ClaimWorkflow.state)).status is ClaimStatus.UNDER_REVIEW

    rejected = await api.http.post(
        url,
        json={"kind": "reject", "reasons": ["the agreement was sold before the offer"]},
        headers=api.operator,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == ClaimStatus.REJECTED
    outcome = await claim_outcome(claim.handle)
    assert outcome.reasons == ["the agreement was sold before the offer"]
    late = await api.http.post(url, json={"kind": "approve", "licences": 5}, headers=api.operator)
    assert late.status_code == 409
    assert late.json()["detail"] == "the claim is not under review (status REJECTED)"

    missing = await api.http.post(
        "/operator/claims/nope/decision", json={"kind": "approve"}, headers=api.operator
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "detail": "claim nope was not found"}


async def test_r5_the_invoice_link_opens_the_stored_invoice(api: Api) -> None:
    """R5: the operator's link leads to the invoice's bytes as the reseller sent them (the local
    store answers a signed link the API serves); an unknown claim gets 404."""
    claim = await _claim(api, "OL-INVOICE")

    response = await api.http.get(
        f"/operator/claims/{claim.claim_id}/invoice", headers=api.operator
    )

    assert response.status_code == 200, response.text
    link = response.json()
    assert link["url"].startswith("http://testserver/invoices/")
    downloaded = await api.http.get(link["url"])
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == claim.invoice
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=9) < expires_at - datetime.now(UTC) <= timedelta(minutes=10)
    missing = await api.http.get("/operator/claims/nope/invoice", headers=api.operator)
    assert missing.status_code == 404


OPERATOR_ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/operator/review-queue", {}),
    ("GET", "/operator/claims/nope", {}),
    ("GET", "/operator/claims/nope/invoice", {}),
    ("POST", "/operator/claims/nope/decision", {"json": {"kind": "reject", "reasons": ["x"]}}),
    (
        "POST",
        "/operator/licensing-records/import",
        {"files": {"file": ("records.csv", b"agreement_number\n", "text/csv")}},
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ENDPOINTS)
async def test_r1_operator_endpoints_refuse_resellers_and_anonymous_callers(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    """R1: every operator endpoint answers 403 to a signed-in reseller, 401 to nobody."""
    reseller = await api.register()
    forbidden = await api.http.request(method, path, headers=reseller.headers, **body)
    assert forbidden.status_code == 403, forbidden.text
    assert forbidden.json()["error"] == "forbidden"
    anonymous = await api.http.request(method, path, **body)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["error"] == "unauthenticated"
