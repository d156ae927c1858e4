"""R1, R8, D1: a claim belongs to the organisation that sold the agreement. Registration with a
verified identity (e-mail confirmed by a link, VAT id or partner id unique, an operator's
approval), and the attack it stops: a second company registered under the real reseller's name
claiming the real reseller's agreement."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from cashback.claims import claim_workflow_id
from cashback.db.tables import Payment
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import new_agreement, submit, submitted, wait_for_status
from tests.api.harness import PASSWORD, Api, Reseller, auth
from tests.api.test_bank_details_page import company_form, link_in
from tests.identities import new_vat_id

COMPANY = "Contoso Software GmbH"


def registration(email: str, **overrides: Any) -> dict[str, Any]:
    return {
        "company_name": COMPANY,
        "country": "DE",
        "language": "en",
        "email": email,
        "password": PASSWORD,
        "vat_id": new_vat_id(),
    } | overrides


async def operator_view(api: Api, claim_id: str) -> dict[str, Any]:
    response = await api.http.get(f"/operator/claims/{claim_id}", headers=api.operator)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def test_r1_r8_d1_another_company_under_the_same_name_never_gets_the_cash_back(
    api: Api,
) -> None:
    """The attack, end to end. B registers under A's company name: with A's VAT id it is
    refused, with its own it is left pending and cannot claim. Approved anyway, B claims A's
    agreement typing A's name: the verdict is ineligible for a reason that names no one, no
    operator can approve it, the deadline rejects the claim (R9) and nothing is paid. Then A
    claims the same agreement (D1: the rejected claim does not block it) and is paid."""
    owner = await api.register(COMPANY)
    offer = await api.create_offer()
    agreement = new_agreement()
    api.add_licensing_record(agreement, seller_id=owner.vat_id)

    copycat = await api.http.post(
        "/auth/register", json=registration("claims@contoso-software.example", vat_id=owner.vat_id)
    )
    assert copycat.status_code == 409, copycat.text
    assert copycat.json()["error"] == "organisation_registered"
    assert owner.email not in copycat.text
    assert owner.reseller_id not in copycat.text

    impostor = await api.register(COMPANY, approve=False)
    refused = await submit(api, impostor, offer["offer_id"], agreement)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "organisation_pending"

    approved = await api.http.post(
        f"/operator/resellers/{impostor.reseller_id}/approve", headers=api.operator
    )
    assert approved.status_code == 204
    stolen = await submitted(api, impostor, offer["offer_id"], agreement)
    await wait_for_status(api, impostor, stolen, ClaimStatus.UNDER_REVIEW)
    verdict = (await operator_view(api, stolen))["verdict"]
    assert verdict["verdict"] == "ineligible"
    assert [reason["code"] for reason in verdict["reasons"]] == ["sold_by_another_reseller"]
    for secret in (owner.vat_id, owner.reseller_id, owner.email, "Fabrikam"):
        assert secret not in str(verdict)
    overridden = await api.http.post(
        f"/operator/claims/{stolen}/decision",
        json={"kind": "approve", "licences": 20},
        headers=api.operator,
    )
    assert overridden.status_code == 409, overridden.text  # not even an operator approves it
    assert "another reseller sold this agreement" in overridden.json()["detail"]

    handle = api.services.temporal.get_workflow_handle(claim_workflow_id(stolen))
    await api.env.fast_forward(handle, timedelta(days=30))  # R9: 14 business days and holidays
    await wait_for_status(api, impostor, stolen, ClaimStatus.REJECTED)

    rightful = await submitted(api, owner, offer["offer_id"], agreement.lower())
    await wait_for_status(api, owner, rightful, ClaimStatus.UNDER_REVIEW)
    assert (await operator_view(api, rightful))["verdict"]["verdict"] == "eligible"
    decided = await api.http.post(
        f"/operator/claims/{rightful}/decision", json={"kind": "approve"}, headers=api.operator
    )
    assert decided.status_code == 200, decided.text
    await wait_for_status(api, owner, rightful, ClaimStatus.AWAITING_BANK_DETAILS)
    page = await _bank_details_link(api, rightful)
    given = await api.http.post(page, data=company_form(holder_name=COMPANY))
    assert given.status_code == 200, given.text
    await wait_for_status(api, owner, rightful, ClaimStatus.PAID)

    with api.services.database.reading() as session:
        paid = session.scalars(select(Payment.claim_id)).all()
    assert paid == [rightful]


async def _bank_details_link(api: Api, claim_id: str) -> str:
    for _ in range(100):  # the request e-mail follows the status change
        try:
            return link_in(api, claim_id, "bank_details_request/1")
        except KeyError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"no bank-details request for claim {claim_id}")


async def test_r1_registration_answers_alike_for_a_known_address(api: Api) -> None:
    """R1: registering an address that has an account answers as for a new one (202, the same
    body); the address gets an e-mail saying so, and no second account exists."""
    known = await api.register()
    fresh = await api.http.post("/auth/register", json=registration("new@contoso.example"))
    again = await api.http.post("/auth/register", json=registration(known.email))
    assert (fresh.status_code, fresh.json()) == (again.status_code, again.json())
    assert fresh.status_code == 202
    [notice] = [d for d in api.mailbox.deliveries if d.rcpt_tos == [known.email]][-1:]
    assert "already has an account" in notice.part("plain")
    signed_in = await api.http.get("/me", headers=known.headers)
    assert signed_in.json()["organisation_status"] == "approved"


async def test_r1_an_unconfirmed_address_cannot_claim_and_the_link_works_once(api: Api) -> None:
    """R1: until its link is followed, the user cannot claim (403 saying what to do); the link
    confirms once, and a second use is refused (410)."""
    email = "first@fabrikam-reseller.example"
    created = await api.http.post("/auth/register", json=registration(email))
    assert created.status_code == 202
    token = await api.sign_in(email)
    offers = await api.http.get("/offers", headers=auth(token))
    assert offers.status_code == 403
    assert offers.json()["error"] == "address_unconfirmed"

    link = api.link_token(email)
    page = await api.http.get(f"/auth/confirm?token={link}")
    assert page.status_code == 200
    assert 'data-confirmed="true"' in page.text
    again = await api.http.get(f"/auth/confirm?token={link}")
    assert again.status_code == 410
    pending = await api.http.get("/offers", headers=auth(token))
    assert pending.json()["error"] == "organisation_pending"


async def test_r1_operators_see_pending_organisations_and_refuse_one(api: Api) -> None:
    """R1: the pending list shows what an operator checks (legal name, VAT id, e-mail domain);
    a refusal is mailed with its note, and the organisation still cannot claim."""
    reseller: Reseller = await api.register("Northwind Traders GmbH", approve=False)
    listed = await api.http.get("/operator/resellers?status=pending", headers=api.operator)
    [row] = [r for r in listed.json()["organisations"] if r["reseller_id"] == reseller.reseller_id]
    assert row["legal_name"] == "Northwind Traders GmbH"
    assert row["vat_id"] == reseller.vat_id
    assert row["email_domains"] == ["contoso.example"]
    assert row["addresses_confirmed"] is True

    refused = await api.http.post(
        f"/operator/resellers/{reseller.reseller_id}/refuse",
        json={"note": "the VAT id belongs to another company"},
        headers=api.operator,
    )
    assert refused.status_code == 204
    mail = [d for d in api.mailbox.deliveries if d.rcpt_tos == [reseller.email]][-1]
    assert "the VAT id belongs to another company" in mail.part("plain")
    offers = await api.http.get("/offers", headers=reseller.headers)
    assert offers.json()["error"] == "organisation_refused"
    as_reseller = await api.http.get("/operator/resellers", headers=reseller.headers)
    assert as_reseller.status_code == 403


async def test_r1_a_registration_needs_a_valid_identifier(api: Api) -> None:
    """R1: no VAT id and no partner id, or a VAT id with a wrong check digit: 422 saying
    what to fix; a partner id alone is enough."""
    missing = await api.http.post(
        "/auth/register", json=registration("a@fabrikam.example", vat_id=None)
    )
    assert missing.status_code == 422
    assert "partner_id" in missing.text
    wrong = await api.http.post(
        "/auth/register", json=registration("b@fabrikam.example", vat_id="DE136695975")
    )
    assert wrong.status_code == 422
    assert "check digit" in wrong.text
    partner = await api.http.post(
        "/auth/register",
        json=registration("c@fabrikam.example", vat_id=None, partner_id="4711042"),
    )
    assert partner.status_code == 202, partner.text
