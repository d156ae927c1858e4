"""The whole journey over the API, each step through its endpoint: an operator publishes an offer
and imports the licensing records, a reseller registers and submits a claim, the operator
approves it from the review queue, the reseller gives bank details on the page linked from the
e-mail, and the claim is paid (R1-R14, D3)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import claim_fields, invoice_pdf, wait_for_status
from tests.api.harness import Api
from tests.api.test_bank_details_page import company_form, link_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_r1_r14_d3_from_registration_to_paid_through_the_endpoints(api: Api) -> None:
    offer = await api.create_offer()
    reseller = await api.register()
    sale_date = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    csv = (
        "agreement_number,customer_name,customer_segment,customer_country,reseller_name,"
        "seller_id,sale_date,product,licence_type,quantity\n"
        f"OL-JOURNEY,Fabrikam AG,commercial,DE,Contoso Software GmbH,{reseller.vat_id},"
        f"{sale_date},Office Professional,new,20\n"
    )
    imported = await api.http.post(
        "/operator/licensing-records/import",
        files={"file": ("records.csv", csv.encode(), "text/csv")},
        headers=api.operator,
    )
    assert imported.status_code == 200, imported.text

    listed = await api.http.get("/offers", headers=reseller.headers)
    assert [o["offer_id"] for o in listed.json()["offers"]] == [offer["offer_id"]]
    submitted = await api.http.post(
        "/claims",
        data=claim_fields(offer["offer_id"], "OL-JOURNEY"),
        files={"invoice": ("invoice.pdf", invoice_pdf(), "application/pdf")},
        headers=reseller.headers,
    )
    assert submitted.status_code == 201, submitted.text
    claim_id = submitted.json()["claim_id"]
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)

    queue = (await api.http.get("/operator/review-queue", headers=api.operator)).json()
    [item] = [i for i in queue["claims"] if i["claim_id"] == claim_id]
    assert item["verdict"]["verdict"] == "eligible"
    decided = await api.http.post(
        f"/operator/claims/{claim_id}/decision", json={"kind": "approve"}, headers=api.operator
    )
    assert decided.status_code == 200, decided.text
    await wait_for_status(api, reseller, claim_id, ClaimStatus.AWAITING_BANK_DETAILS)

    for _ in range(100):  # the request e-mail follows the status change
        try:
            page = link_in(api, claim_id, "bank_details_request/1")
            break
        except KeyError:
            await asyncio.sleep(0.1)
    form = await api.http.get(page)
    assert form.status_code == 200
    given = await api.http.post(page, data=company_form(holder_name=reseller.company_name))
    assert given.status_code == 200, given.text

    paid = await wait_for_status(api, reseller, claim_id, ClaimStatus.PAID)
    assert paid["amount"] == {"minor_units": 25_000, "currency": "EUR"}
    statuses = [entry["to_status"] for entry in paid["timeline"] if entry["to_status"]]
    assert statuses == [
        "SUBMITTED",
        "UNDER_REVIEW",
        "AWAITING_BANK_DETAILS",
        "SCHEDULED_FOR_PAYMENT",
        "PAID",
    ]
