"""The reseller portal's offers and claims over the API's services: the offers open to the
reseller with their terms (R2-R4, R6), the claim form (R5) with its refusals at their fields
(D1, R4, R5, R6), a resubmitted form that makes no second claim (D2), the list and the claim's
page (D3), and tenancy: another reseller's claim is 404."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from api.claims import MAX_INVOICE_BYTES
from cashback.db.tables import Claim
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import PNG_1X1, TERMS_VERSION, invoice_pdf, wait_for_status
from tests.api.harness import Api, Reseller
from tests.api.portal_helpers import Portal, hidden

pytestmark = [pytest.mark.workflow, pytest.mark.smtp]


def claims_of(api: Api, reseller: Reseller) -> int:
    with api.services.database.reading() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Claim)
                .where(Claim.reseller_id == reseller.reseller_id)
            )
            or 0
        )


async def claim_form(portal: Portal, offer_id: str) -> dict[str, str]:
    """The form's hidden fields (CSRF token, idempotency key) and a complete claim."""
    page = await portal.http.get(f"/portal/claims/new?offer={offer_id}")
    assert page.status_code == 200, page.text
    return {
        "csrf": hidden(page.text, "csrf"),
        "idempotency_key": hidden(page.text, "idempotency_key"),
        "offer_id": offer_id,
        "agreement_number": "OL-PORTAL-1",
        "customer_name": "Fabrikam AG",
        "reseller_name": "Contoso Software GmbH",
        "terms_accepted_version": TERMS_VERSION,
    }


async def send(
    portal: Portal,
    fields: dict[str, str],
    invoice: bytes | None = None,
    filename: str = "invoice.pdf",
    content_type: str = "application/pdf",
) -> httpx.Response:
    data = invoice_pdf() if invoice is None else invoice
    return await portal.http.post(
        "/portal/claims", data=fields, files={"invoice": (filename, data, content_type)}
    )


async def test_r2_r4_r6_the_offers_page_shows_what_an_offer_pays_and_its_terms(api: Api) -> None:
    """R2, R4, R6: the offers open to the reseller with criteria, claim period, rate, limits
    and the T&C; an offer for other countries is not listed, and its form is 404."""
    reseller = await api.register(language="en")
    offer = await api.create_offer()
    elsewhere = await api.create_offer(
        name="Swiss only",
        criteria={**offer["criteria"], "countries": ["CH"]},
    )
    portal = await Portal.of(api).signed_in(reseller)
    page = await portal.http.get("/portal/offers")
    assert page.status_code == 200
    assert "Office 2026 Cash Back" in page.text
    assert "12.50 EUR" in page.text  # D4, in English
    assert "5–100" in page.text  # R3
    assert "OFFICE PROFESSIONAL" in page.text  # R2: codes compared without case
    assert "Terms and Conditions for the Reseller Cash Back Promotion." in page.text
    assert f"Terms and Conditions, version {TERMS_VERSION}" in page.text
    assert "Swiss only" not in page.text
    closed_form = await portal.http.get(f"/portal/claims/new?offer={elsewhere['offer_id']}")
    assert closed_form.status_code == 404
    assert 'data-problem="offer_not_open"' in closed_form.text


async def test_r5_r6_d2_a_claim_submitted_twice_from_one_form_is_one_claim(api: Api) -> None:
    """R5, R6: the form with a PDF invoice and the accepted terms makes a claim and shows its
    page; D2: the same form sent again (a double click, a reload) shows the same claim and
    makes no second one."""
    reseller = await api.register()
    offer = await api.create_offer()
    portal = await Portal.of(api).signed_in(reseller)
    fields = await claim_form(portal, offer["offer_id"])
    first = await send(portal, fields)
    assert first.status_code == 303, first.text
    claim_page = first.headers["location"]
    again = await send(portal, fields)
    assert again.status_code == 303
    assert again.headers["location"] == claim_page
    assert claims_of(api, reseller) == 1

    claim_id = claim_page.rsplit("/", 1)[-1]
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    page = await portal.http.get(claim_page)
    assert page.status_code == 200
    assert 'data-status="UNDER_REVIEW"' in page.text
    assert "In Prüfung" in page.text  # D6: the organisation's language
    assert 'id="review-deadline"' in page.text  # R9
    assert "OL-PORTAL-1" in page.text
    assert "Eingang bestätigt (R7)" in page.text
    assert "support@cashback.example" in page.text  # R17


async def test_r4_r5_r6_d1_refusals_are_shown_next_to_their_fields(api: Api) -> None:
    """R5: a file that is not a PDF, PNG or JPEG, and a missing invoice, at the invoice field;
    R6: terms not accepted at the checkbox; D1: a second claim for the agreement at the
    agreement number; R4: an offer closed while the form was open, at the top. Nothing is
    stored by a refused form; the fields typed are kept."""
    reseller = await api.register(language="en")
    offer = await api.create_offer()
    portal = await Portal.of(api).signed_in(reseller)
    fields = await claim_form(portal, offer["offer_id"])

    wrong_type = await send(portal, fields, b"GIF89a not an invoice", "invoice.gif", "image/gif")
    assert wrong_type.status_code == 422
    assert 'id="invoice-error">R5: the invoice must be a PDF, PNG or JPEG file' in wrong_type.text
    assert 'value="OL-PORTAL-1"' in wrong_type.text

    empty = await send(portal, fields, b"")
    assert 'id="invoice-error">R5: attach a copy of the customer invoice' in empty.text

    no_terms = await send(
        portal, {**fields, "terms_accepted_version": ""}, PNG_1X1, "i.png", "image/png"
    )
    assert no_terms.status_code == 422
    assert 'id="terms_accepted_version-error">R6: read and accept' in no_terms.text
    assert claims_of(api, reseller) == 0

    assert (await send(portal, fields)).status_code == 303
    duplicate = await send(portal, await claim_form(portal, offer["offer_id"]))
    assert duplicate.status_code == 409
    assert re.search(
        r'id="agreement_number-error">D1: offer \S+ already has your claim', duplicate.text
    )

    second = await claim_form(portal, offer["offer_id"])
    closed = await api.http.post(
        f"/operator/offers/{offer['offer_id']}/close", headers=api.operator
    )
    assert closed.status_code == 200
    too_late = await send(portal, {**second, "agreement_number": "OL-PORTAL-2"})
    assert too_late.status_code == 422
    assert re.search(r'id="offer-error">R4: offer \S+ was closed', too_late.text)
    assert claims_of(api, reseller) == 1


async def test_the_claims_list_filters_by_status_and_another_resellers_claim_is_404(
    api: Api,
) -> None:
    """My claims: status, amount, next step, filtered by status; tenancy: the page of another
    reseller's claim is 404 (as in the API), and it is not listed."""
    reseller = await api.register(language="en")
    other = await api.register("Fabrikam Reseller GmbH", language="en")
    offer = await api.create_offer()
    portal = await Portal.of(api).signed_in(reseller)
    fields = await claim_form(portal, offer["offer_id"])
    mine = (await send(portal, fields)).headers["location"].rsplit("/", 1)[-1]
    theirs_portal = await Portal.of(api).signed_in(other)
    theirs_fields = await claim_form(theirs_portal, offer["offer_id"])
    sent = await send(theirs_portal, {**theirs_fields, "agreement_number": "OL-OTHER-1"})
    theirs = sent.headers["location"].rsplit("/", 1)[-1]

    listed = await portal.http.get("/portal/claims")
    assert f'data-claim="{mine}"' in listed.text
    assert theirs not in listed.text
    assert "Next step" in listed.text
    filtered = await portal.http.get("/portal/claims?status=PAID")
    assert f'data-claim="{mine}"' not in filtered.text
    assert 'id="no-claims"' in filtered.text

    foreign = await portal.http.get(f"/portal/claims/{theirs}")
    assert foreign.status_code == 404
    assert 'data-problem="claim_not_found"' in foreign.text
    assert "OL-OTHER-1" not in foreign.text
    assert (await portal.http.get(f"/portal/claims/{mine}")).status_code == 200


async def test_pages_for_resellers_send_a_visitor_without_a_session_to_sign_in(api: Api) -> None:
    """Without a session the portal's pages lead to the sign-in form, which comes back to the
    page asked for (and never to another site)."""
    reseller = await api.register()
    portal = Portal.of(api)
    asked = await portal.http.get("/portal/offers")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/portal/sign-in?next=%2Fportal%2Foffers"
    _, csrf = await portal.form("/portal/sign-in")
    back = await portal.http.post(
        "/portal/sign-in",
        data={
            "email": reseller.email,
            "password": "orchard-lantern-quarry-42",
            "csrf": csrf,
            "next": "/portal/offers",
        },
    )
    assert back.headers["location"] == "/portal/offers"
    _, csrf = await portal.form("/portal/sign-in")
    elsewhere = await portal.http.post(
        "/portal/sign-in",
        data={
            "email": reseller.email,
            "password": "orchard-lantern-quarry-42",
            "csrf": csrf,
            "next": "//attacker.example/",
        },
    )
    assert elsewhere.headers["location"] == "/portal/claims"


async def test_r5_an_invoice_over_10_mb_is_refused_with_a_page_not_json(api: Api) -> None:
    """R5: an invoice just over 10 MB is refused at its field; a body far over the cap is
    refused unread, with a page in both languages (413), never the API's JSON."""
    reseller = await api.register(language="en")
    offer = await api.create_offer()
    portal = await Portal.of(api).signed_in(reseller)
    fields = await claim_form(portal, offer["offer_id"])
    just_over = await send(portal, fields, b"%PDF-" + bytes(MAX_INVOICE_BYTES - 4))
    assert just_over.status_code == 422
    assert 'id="invoice-error">R5: the invoice may be at most 10 MB' in just_over.text
    far_over = await send(portal, fields, b"%PDF-" + bytes(MAX_INVOICE_BYTES + 100_000))
    assert far_over.status_code == 413
    assert far_over.headers["content-type"].startswith("text/html")
    assert 'data-problem="invoice_too_large"' in far_over.text
    assert "Die Rechnung darf höchstens 10 MB groß sein" in far_over.text
    assert "support@cashback.example" in far_over.text  # R17
    assert claims_of(api, reseller) == 0
