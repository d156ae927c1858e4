"""Claims over HTTP (R5, R6, R7, D1, D2, D3): a reseller submits a claim with its invoice, the
claim's workflow starts, and the reseller follows it: status, timeline, notices, deadlines and
what to do next; only its own claims."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import uuid

import pytest

from activities.records import TimelineEvent
from cashback import submissions
from cashback.claims import ClaimInput, Decision, DecisionKind, claim_workflow_id
from cashback.domain.status import ClaimStatus
from cashback.submissions import Submissions
from tests.api.claims_helpers import (
    OPERATOR,
    PNG_1X1,
    TERMS_VERSION,
    claim_rows,
    decide,
    invoice_pdf,
    new_agreement,
    reject,
    stored_invoices,
    submit,
    submitted,
    terminate_all,
    wait_for_status,
    wait_for_workflows,
    workflows,
)
from tests.api.harness import Api


async def test_r5_r6_r7_d3_reseller_submits_a_claim_and_follows_it(api: Api) -> None:
    """R5, R6: a claim with its PDF invoice is accepted (201) and stored with the accepted T&C
    version; R7: its workflow sends the preliminary confirmation and reaches UNDER_REVIEW;
    D3: the claim shows its timeline, notices, review deadline (R9) and next step; once
    approved, its amount (D4) and the bank details it must give, by when (R10)."""
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()
    api.add_licensing_record(agreement)
    pdf = invoice_pdf()

    response = await submit(api, reseller, offer["offer_id"], agreement, invoice=pdf)

    assert response.status_code == 201, response.text
    body = response.json()
    claim_id = body["claim_id"]
    assert body["status"] == "SUBMITTED"
    assert body["agreement_number"] == agreement
    assert "preliminary confirmation" in body["message"]
    assert response.headers["Location"] == f"/claims/{claim_id}"

    claim = await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    assert claim["offer_id"] == offer["offer_id"]
    assert claim["customer_name"] == "Fabrikam AG"
    assert claim["reseller_name_on_agreement"] == "Contoso Software GmbH"
    assert claim["terms_accepted_version"] == TERMS_VERSION
    assert claim["amount"] is None  # D4: known once approved
    assert claim["invoice"] == {
        "content_type": "application/pdf",
        "sha256": hashlib.sha256(pdf).hexdigest(),
    }
    assert [(e["from_status"], e["to_status"]) for e in claim["timeline"]] == [
        (None, "SUBMITTED"),
        ("SUBMITTED", "UNDER_REVIEW"),
    ]
    assert {e["event"] for e in claim["timeline"]} == {TimelineEvent.STATUS_CHANGED}
    assert all(e["at"] and e["actor"] and e["reason"] for e in claim["timeline"])
    assert [(n["kind"], n["number"]) for n in claim["notices"]] == [("preliminary_confirmation", 1)]
    assert claim["deadlines"]["review_deadline"] is not None
    assert claim["next_step"]["action_required"] is False
    assert claim["deadlines"]["review_deadline"] in claim["next_step"]["detail"]
    assert "iban" not in response.text.lower()

    confirmations = [
        delivery
        for delivery in api.mailbox.deliveries
        if delivery.message["X-Cashback-Notice"] == f"{claim_id}/preliminary_confirmation/1"
    ]
    assert len(confirmations) == 1
    assert confirmations[0].rcpt_tos == [reseller.email]

    [row] = claim_rows(api)
    assert (row.id, row.reseller_id, row.workflow_id) == (
        claim_id,
        reseller.reseller_id,
        claim_workflow_id(claim_id),
    )
    assert row.terms_accepted_version == TERMS_VERSION
    assert row.terms_accepted_at is not None
    [invoice_file] = stored_invoices(api)
    assert invoice_file.read_bytes() == pdf
    assert await workflows(api) == [claim_workflow_id(claim_id)]

    await decide(api, claim_id, Decision(kind=DecisionKind.APPROVE, operator=OPERATOR))
    claim = await wait_for_status(
        api,
        reseller,
        claim_id,
        ClaimStatus.AWAITING_BANK_DETAILS,
        until=lambda claim: claim["next_step"]["action_required"],
    )
    assert claim["amount"] == {"minor_units": 20 * 1250, "currency": "EUR"}  # D4
    assert claim["deadlines"]["payout_due"] is not None  # R14
    respond_by = claim["deadlines"]["respond_by"]  # R10
    assert respond_by is not None
    assert claim["next_step"]["action_required"] is True
    assert claim["next_step"]["respond_by"] == respond_by
    assert "bank details" in claim["next_step"]["detail"]
    assert [n["kind"] for n in claim["notices"]][-2:] == [
        "final_confirmation",
        "bank_details_request",
    ]
    await terminate_all(api)


async def test_r5_the_invoice_type_is_told_by_its_bytes_not_its_declared_type(api: Api) -> None:
    """R5: a PNG declared as application/octet-stream with a .bin name is accepted as a PNG."""
    reseller = await api.register()
    offer = await api.create_offer()
    response = await submit(
        api,
        reseller,
        offer["offer_id"],
        new_agreement(),
        invoice=PNG_1X1,
        filename="scan.bin",
        content_type="application/octet-stream",
    )
    assert response.status_code == 201, response.text
    claim = (
        await api.http.get(f"/claims/{response.json()['claim_id']}", headers=reseller.headers)
    ).json()
    assert claim["invoice"]["content_type"] == "image/png"
    [invoice_file] = stored_invoices(api)
    assert invoice_file.suffix == ".png"
    await terminate_all(api)


async def test_d3_a_decided_claim_shows_its_outcome_after_its_workflow_ended(api: Api) -> None:
    """D3: once an operator rejected the claim (R8) and its workflow completed, the claim shows
    REJECTED, the reason in its timeline, its reasons and next step, and the rejection
    notice."""
    reseller = await api.register()
    offer = await api.create_offer()
    claim_id = await submitted(api, reseller, offer["offer_id"], new_agreement())
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)

    await reject(api, claim_id, "R2: the agreement was sold before the offer's sale window")

    claim = await wait_for_status(api, reseller, claim_id, ClaimStatus.REJECTED)
    last = claim["timeline"][-1]
    assert (last["from_status"], last["to_status"]) == ("UNDER_REVIEW", "REJECTED")
    assert last["actor"] == "operator@program.example"
    assert "sale window" in last["reason"]
    assert claim["next_step"]["action_required"] is False
    assert "sale window" in claim["next_step"]["detail"]
    assert [n["kind"] for n in claim["notices"]] == ["preliminary_confirmation", "rejection"]
    assert claim["reasons"] == ["R2: the agreement was sold before the offer's sale window"]
    deadlines = claim["deadlines"]
    assert deadlines["review_deadline"] is not None  # the claim's facts stay on its page
    assert (deadlines["respond_by"], deadlines["payout_date"], deadlines["payout_due"]) == (
        None,
        None,
        None,
    )


async def test_d1_a_second_claim_for_the_agreement_however_written_is_refused(
    api: Api,
) -> None:
    """D1: one open or paid claim per offer and agreement, numbers compared without case,
    spaces or separators: `OL-DEMO-4`, `ol-demo-4 `, `OL DEMO 4` and `OL–DEMO–4` (en dash) all
    get 409. The answer names the existing claim only to its owner, and the refused
    submissions leave no row, invoice or workflow behind."""
    first = await api.register()
    offer = await api.create_offer()
    suffix = uuid.uuid4().hex[:6].upper()
    claim_id = await submitted(api, first, offer["offer_id"], f"OL-DEMO-{suffix}")
    second = await api.register("Contoso Software AG")

    spellings = (f"ol-demo-{suffix.lower()} ", f"OL DEMO {suffix}", f"OL–DEMO–{suffix}")
    for reseller, spelling in itertools.product((first, second), spellings):
        response = await submit(
            api, reseller, offer["offer_id"], spelling, invoice=invoice_pdf("other")
        )
        assert response.status_code == 409, (spelling, response.text)
        assert response.json()["error"] == "duplicate_claim"
        assert "D1" in response.json()["detail"]
        assert (claim_id in response.json()["detail"]) is (reseller is first), spelling

    assert [row.id for row in claim_rows(api)] == [claim_id]
    assert claim_rows(api)[0].agreement_number == f"OL-DEMO-{suffix}"
    assert len(stored_invoices(api)) == 1
    assert await wait_for_workflows(api, 1) == [claim_workflow_id(claim_id)]
    await terminate_all(api)


async def test_d1_a_rejected_claim_does_not_block_a_new_one(api: Api) -> None:
    """D1: once the claim for an agreement is rejected, a new claim for the same offer and
    agreement is accepted."""
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()
    first = await submitted(api, reseller, offer["offer_id"], agreement)
    await wait_for_status(api, reseller, first, ClaimStatus.UNDER_REVIEW)
    await reject(api, first, "invoice unreadable")
    await wait_for_status(api, reseller, first, ClaimStatus.REJECTED)

    second = await submitted(api, reseller, offer["offer_id"], agreement.lower())
    assert second != first
    await terminate_all(api)


async def test_d2_the_same_idempotency_key_twenty_times_at_once_is_one_claim(api: Api) -> None:
    """D2: the same Idempotency-Key and body sent 20 times concurrently: one claim, one
    workflow, one invoice, and the same claim id in every answer (one 201, the rest 200)."""
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()

    responses = await asyncio.gather(
        *(
            submit(api, reseller, offer["offer_id"], agreement, idempotency_key="retry-me-1")
            for _ in range(20)
        )
    )

    assert {response.json().get("claim_id") for response in responses} == {claim_rows(api)[0].id}, [
        response.text for response in responses if response.status_code >= 400
    ]
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 19 + [201]
    claim_id = responses[0].json()["claim_id"]
    assert len(claim_rows(api)) == 1
    assert len(stored_invoices(api)) == 1
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    assert await workflows(api) == [claim_workflow_id(claim_id)]
    await terminate_all(api)


async def test_d2_the_same_key_with_another_body_is_refused(api: Api) -> None:
    """D2: a later retry with the same key and body returns the same claim (200); the same key
    with other fields or another invoice gets 422; another reseller's key is its own."""
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()
    first = await submit(api, reseller, offer["offer_id"], agreement, idempotency_key="k-7")
    assert first.status_code == 201, first.text

    again = await submit(api, reseller, offer["offer_id"], agreement, idempotency_key="k-7")
    assert again.status_code == 200
    assert again.json()["claim_id"] == first.json()["claim_id"]

    for changed in (
        {"customer_name": "Northwind Traders"},
        {"invoice": invoice_pdf("RE-2026-0999")},
    ):
        response = await submit(
            api,
            reseller,
            offer["offer_id"],
            agreement,
            idempotency_key="k-7",
            **changed,
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "idempotency_key_reused"
        assert "D2" in response.json()["detail"]

    other = await api.register("Contoso Software AG")
    theirs = await submit(api, other, offer["offer_id"], new_agreement(), idempotency_key="k-7")
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["claim_id"] != first.json()["claim_id"]
    assert len(claim_rows(api)) == 2
    assert len(await wait_for_workflows(api, 2)) == 2
    await terminate_all(api)


async def test_d2_a_retry_starts_the_workflow_a_failed_request_did_not(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D2: when the first request stored the claim but died before its workflow started, a
    retry with the same Idempotency-Key starts it (under the claim's workflow id) and answers
    the same claim."""
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()

    async def died_before_starting(services: Submissions, claim: ClaimInput) -> None:
        return None

    with monkeypatch.context() as patch:
        patch.setattr(submissions, "_start_workflow", died_before_starting)
        first = await submit(api, reseller, offer["offer_id"], agreement, idempotency_key="k-9")
    assert first.status_code == 201, first.text
    claim_id = first.json()["claim_id"]
    assert await workflows(api) == []

    retry = await submit(api, reseller, offer["offer_id"], agreement, idempotency_key="k-9")

    assert retry.status_code == 200, retry.text
    assert retry.json()["claim_id"] == claim_id
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    assert await wait_for_workflows(api, 1) == [claim_workflow_id(claim_id)]
    assert len(claim_rows(api)) == 1
    await terminate_all(api)


async def test_r1_claims_are_only_for_their_reseller(api: Api) -> None:
    """R1: another reseller's claim is not found (404, none of its data); an anonymous caller
    gets 401; an operator calling the resellers' claim endpoints gets 403."""
    owner = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()
    claim_id = await submitted(api, owner, offer["offer_id"], agreement)
    stranger = await api.register("Woodgrove Software GmbH")

    theirs = await api.http.get(f"/claims/{claim_id}", headers=stranger.headers)
    assert theirs.status_code == 404
    assert theirs.json()["error"] == "not_found"
    assert agreement not in theirs.text
    assert (await api.http.get("/claims", headers=stranger.headers)).json()["claims"] == []
    missing = await api.http.get("/claims/c_0000000000000000", headers=owner.headers)
    assert missing.status_code == 404

    for method, path in (("GET", "/claims"), ("GET", f"/claims/{claim_id}"), ("POST", "/claims")):
        anonymous = await api.http.request(method, path)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.json()["error"] == "unauthenticated"
        operator = await api.http.request(method, path, headers=api.operator)
        assert operator.status_code == 403, (method, path)
        assert operator.json()["error"] == "forbidden"

    operator_submits = await api.http.post(
        "/claims",
        data={"offer_id": offer["offer_id"], "agreement_number": new_agreement()},
        files={"invoice": ("invoice.pdf", invoice_pdf(), "application/pdf")},
        headers=api.operator,
    )
    assert operator_submits.status_code == 403
    assert len(claim_rows(api)) == 1
    await terminate_all(api)


async def test_claims_are_listed_newest_first_a_page_at_a_time_and_by_status(api: Api) -> None:
    """A reseller's own claims, newest first, paginated with a cursor, filtered by status."""
    reseller = await api.register()
    offer = await api.create_offer()
    ids = [await submitted(api, reseller, offer["offer_id"], new_agreement()) for _ in range(3)]
    for claim_id in ids:
        await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    await reject(api, ids[0], "R3: fewer licences than the offer's minimum")
    await wait_for_status(api, reseller, ids[0], ClaimStatus.REJECTED)
    other = await api.register("Woodgrove Software GmbH")
    await submitted(api, other, offer["offer_id"], new_agreement())

    first = (await api.http.get("/claims?limit=2", headers=reseller.headers)).json()
    assert [c["claim_id"] for c in first["claims"]] == [ids[2], ids[1]]
    assert first["next_cursor"]
    second = (
        await api.http.get(
            "/claims",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=reseller.headers,
        )
    ).json()
    assert [c["claim_id"] for c in second["claims"]] == [ids[0]]
    assert second["next_cursor"] is None
    assert second["claims"][0]["status"] == "REJECTED"

    rejected = await api.http.get("/claims?status=REJECTED", headers=reseller.headers)
    assert [c["claim_id"] for c in rejected.json()["claims"]] == [ids[0]]
    reviewed = await api.http.get("/claims?status=UNDER_REVIEW", headers=reseller.headers)
    assert [c["claim_id"] for c in reviewed.json()["claims"]] == [ids[2], ids[1]]

    for bad in ("cursor=not-a-cursor", "limit=0", "limit=101", "status=LOST"):
        response = await api.http.get(f"/claims?{bad}", headers=reseller.headers)
        assert response.status_code == 422, bad
        assert set(response.json()) == {"error", "detail"}
    await terminate_all(api)


async def test_the_claim_endpoints_document_every_response(api: Api) -> None:
    """OpenAPI documents each answer of the claim endpoints, errors in the one error format."""
    schema = (await api.http.get("/openapi.json")).json()
    paths = schema["paths"]
    documented = {
        ("post", "/claims"): {"200", "201", "401", "403", "404", "409", "413", "415", "422", "503"},
        ("get", "/claims"): {"200", "401", "403", "422"},
        ("get", "/claims/{claim_id}"): {"200", "401", "403", "404", "422"},
    }
    for (method, path), codes in documented.items():
        assert set(paths[path][method]["responses"]) == codes, (method, path)
    error = paths["/claims"]["post"]["responses"]["409"]["content"]["application/json"]
    assert error["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    form = paths["/claims"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["$ref"].startswith("#/components/schemas/")
