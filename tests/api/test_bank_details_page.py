"""The secure bank-details page over HTTP (R10-R13, R16): a claim approved through the real
workflow, the link from its bank-details request e-mail, the form in German and English, a
typo corrected on the page, valid details that lead to payment, a one-time link, and what
R11 (another name) and R12 (an individual's account) lead to. Bank details stay with their
owner: a link sets one claim's details only, the details of later claims are set by a
signed-in reseller, and every change is mailed to the reseller (masked)."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowHandle

from activities.records import TimelineEvent
from api.bank_details import SECURITY_HEADERS
from cashback.claims import BankDetailsSubmission, ClaimOutcome, ClaimState
from cashback.db import BankDetails, ClaimRepository
from cashback.db.tables import BankAccount, Claim, Offer, Reseller
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.status import ClaimStatus
from cashback.mail.smtp import CHANGE_HEADER
from tests.api.harness import Api
from tests.api.harness import Reseller as Registered
from tests.claim_waits import claim_outcome
from tests.integration.program import RealProgram, _claim_input, notices_of
from tests.mail.mailbox import REFUSED, Delivery
from workflows.claim import ClaimWorkflow

pytestmark = [pytest.mark.workflow, pytest.mark.smtp]

COMPANY = "Contoso Software GmbH"
IBAN = "DE02 1203 0000 0000 2020 51"
IBAN_WITH_TYPO = "DE02 1203 0000 0000 2020 52"  # one digit off: the check digits do not match
MASKED = "DE02 **** **** **** **20 51"
_LINK = re.compile(r"https?://\S+?(?P<path>/bank-details/[A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class AwaitingClaim:
    """A claim the operator approved, waiting for bank details, and its page's path."""

    claim_id: str
    handle: WorkflowHandle[Any, ClaimOutcome]
    program: RealProgram
    link: str
    reseller: Registered

    @property
    def token(self) -> str:
        return self.link.rsplit("/", 1)[-1]


def link_in(api: Api, claim_id: str, notice: str) -> str:
    """The path of the secure link in the claim's e-mail `notice` (`kind/number`)."""
    delivery = dict(notices_of(api.mailbox, claim_id))[notice]
    match = _LINK.search(delivery.part("plain"))
    assert match is not None, f"no /bank-details/ link in {notice}"
    return match["path"]


async def claim_awaiting_bank_details(
    api: Api, *, company_name: str = COMPANY, language: str = "de"
) -> AwaitingClaim:
    """Register, create an offer, import the agreement's licensing record, submit a claim (the
    row the API stores and the workflow it starts), approve it: the bank-details request."""
    reseller = await api.register(company_name, language=language)
    offer = await api.create_offer()
    claim_id, handle, program = await approved_claim(api, reseller, offer)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)
    return AwaitingClaim(
        claim_id, handle, program, link_in(api, claim_id, "bank_details_request/1"), reseller
    )


async def approved_claim(
    api: Api, reseller: Registered, offer: dict[str, Any]
) -> tuple[str, WorkflowHandle[Any, ClaimOutcome], RealProgram]:
    """A claim of `reseller` for `offer` (the row the API stores and the workflow it starts),
    with its agreement's licensing record, approved by the operator."""
    company_name = reseller.company_name
    agreement = f"OL-{uuid.uuid4().hex[:10].upper()}"
    api.add_licensing_record(agreement, reseller_name=company_name, seller_id=reseller.vat_id)
    claim_id = f"c_{uuid.uuid4().hex[:12]}"
    stored = api.services.invoices.put(
        f"claims/{claim_id}/invoice.pdf",
        b"%PDF-1.7 invoice " + claim_id.encode(),
        "application/pdf",
    )
    now = datetime.now(UTC)
    with api.services.database.transaction() as session:
        claim = ClaimRepository(session).add(
            Claim(
                id=claim_id,
                workflow_id=f"claim-{claim_id}",
                idempotency_key=f"key-{claim_id}",
                reseller_id=reseller.reseller_id,
                offer_id=offer["offer_id"],
                agreement_number=agreement,
                customer_name="Fabrikam AG",
                reseller_name_on_agreement=company_name,
                terms_accepted_version=offer["terms_version"],
                terms_accepted_at=now,
                invoice_object_key=stored.object_key,
                invoice_sha256=stored.sha256,
                status=ClaimStatus.SUBMITTED,
                amount_minor_units=None,
                currency=None,
                created_at=now,
                updated_at=now,
            )
        )
        claim_input = _claim_input(
            session.get_one(Reseller, reseller.reseller_id),
            session.get_one(Offer, offer["offer_id"]),
            claim,
            stored.content_type,
            stored.size_bytes,
        )
    settings = api.services.settings
    program = RealProgram(api.env, settings, api.services.database, settings.task_queue)
    handle = await program.submit(claim_input)
    await program.approve(handle)
    return claim_id, handle, program


def changes_mailed(api: Api, about: str) -> list[Delivery]:
    """The mails about changed bank details of a claim or a reseller (R10, R13)."""
    return [
        delivery
        for delivery in api.mailbox.deliveries
        if str(delivery.message[CHANGE_HEADER]).startswith(f"{about}/bank-details/")
    ]


def assert_masked_only(api: Api, delivery: Delivery, masked: str = MASKED) -> None:
    """R13: the mail names the account masked, never in full, and the support address (R17)."""
    for body in (delivery.part("plain"), delivery.part("html")):
        assert masked in body
        assert IBAN.replace(" ", "") not in body.replace(" ", "")
        assert api.services.settings.support_address in body


def bank_accounts_stored(api: Api) -> int:
    with api.services.database.reading() as session:
        return session.scalar(select(func.count()).select_from(BankAccount)) or 0


async def state_of(awaiting: AwaitingClaim) -> ClaimState:
    state: ClaimState = await awaiting.handle.query(ClaimWorkflow.state)
    return state


async def outcome_of(awaiting: AwaitingClaim) -> ClaimOutcome:
    return await claim_outcome(awaiting.handle, 30)


def assert_secure(response: httpx.Response) -> None:
    """R13: the page's security headers, and HTML."""
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    assert response.headers["content-type"].startswith("text/html")


def company_form(iban: str = IBAN, holder_name: str = COMPANY, **fields: str) -> dict[str, str]:
    return {"holder_name": holder_name, "holder_type": "company", "iban": iban, **fields}


async def test_r10_r13_the_link_opens_the_form_and_valid_details_lead_to_payment(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """R13: the link in the request e-mail opens a German form (the reseller's language) for
    this claim, with the amount and the respond-by time, behind the security headers; `?lang=en`
    switches to English. A typo in the IBAN is corrected on the page: nothing is stored, the
    link stays valid, the workflow hears nothing. Valid company details (R11) are stored
    encrypted, the claim is paid (R14), the IBAN is shown and logged only masked, and the link
    works only once (410)."""
    caplog.set_level(logging.DEBUG)
    awaiting = await claim_awaiting_bank_details(api)
    state = await state_of(awaiting)
    assert state.respond_by is not None

    page = await api.http.get(awaiting.link)
    assert page.status_code == 200
    assert_secure(page)
    assert '<html lang="de">' in page.text
    assert "Ihre Bankverbindung für das Cashback" in page.text
    assert awaiting.claim_id in page.text
    assert "250,00 EUR" in page.text  # 20 licences x 12.50 EUR (D4)
    assert f"{state.respond_by:%d.%m.%Y, %H:%M} Uhr (UTC)" in page.text
    for field in ('name="holder_name"', 'name="holder_type"', 'name="iban"', 'name="bic"'):
        assert field in page.text
    assert 'name="standing"' not in page.text  # R10: a link sets this claim's details only
    english = await api.http.get(awaiting.link, params={"lang": "en"})
    assert "Your bank details for the cash back" in english.text
    assert "250.00 EUR" in english.text

    typo = await api.http.post(awaiting.link, data=company_form(IBAN_WITH_TYPO, bic="COBADEFFXXX"))
    assert typo.status_code == 422
    assert_secure(typo)
    assert "Die Prüfziffern dieser IBAN stimmen nicht" in typo.text
    assert 'value="Contoso Software GmbH"' in typo.text  # the entered values stay
    assert 'value="COBADEFFXXX"' in typo.text
    assert IBAN_WITH_TYPO.replace(" ", "")[4:] not in typo.text.replace(" ", "")  # not echoed
    assert bank_accounts_stored(api) == 0
    assert api.services.invitations.claim_for(awaiting.token) == awaiting.claim_id
    assert (await state_of(awaiting)).last_bank_details_judgement is None
    assert changes_mailed(api, awaiting.claim_id) == []  # nothing changed, nothing mailed

    bad_bic = await api.http.post(awaiting.link, data=company_form(bic="NOTABIC"))
    assert bad_bic.status_code == 422
    assert "Das ist keine gültige BIC" in bad_bic.text
    assert MASKED in bad_bic.text  # a valid IBAN is only shown masked, to be typed again
    assert bank_accounts_stored(api) == 0

    done = await api.http.post(awaiting.link, data=company_form(bic="COBADEFFXXX"))
    assert done.status_code == 200
    assert_secure(done)
    assert "Vielen Dank: Ihre Bankverbindung ist vollständig" in done.text
    assert "Die Auszahlung ist jetzt geplant" in done.text
    assert MASKED in done.text
    assert bank_accounts_stored(api) == 1
    [mailed] = changes_mailed(api, awaiting.claim_id)  # R10, R13: the change, to the reseller
    assert mailed.rcpt_tos == [awaiting.reseller.email]
    assert mailed.message["Content-Language"] == "de"
    assert_masked_only(api, mailed)
    assert "unter Angabe des Antrags" in mailed.part("plain")
    outcome = await outcome_of(awaiting)
    assert outcome.status is ClaimStatus.PAID
    reference = (await state_of(awaiting)).bank_details_reference
    assert reference is not None
    assert api.services.bank_accounts.reveal(reference) == BankDetails(
        holder_name=COMPANY, holder_type=HolderType.COMPANY, iban=IBAN, bic="COBADEFFXXX"
    )

    again = await api.http.get(awaiting.link)
    assert again.status_code == 410
    assert_secure(again)
    assert "Dieser Link wurde bereits verwendet" in again.text
    assert api.services.settings.support_address in again.text
    resubmitted = await api.http.post(awaiting.link, data=company_form())
    assert resubmitted.status_code == 410
    assert bank_accounts_stored(api) == 1

    compact = IBAN.replace(" ", "")
    for text in (page.text, typo.text, bad_bic.text, done.text, caplog.text):
        assert compact not in text.replace(" ", "")


async def test_r11_another_holder_name_asks_for_a_correction_with_a_new_link(api: Api) -> None:
    """R11: a company account whose holder is not named like the reseller: the page says a
    correction request follows; it comes by e-mail with a new one-time link (R10), and the
    first link is spent."""
    awaiting = await claim_awaiting_bank_details(api, language="en")
    page = await api.http.get(awaiting.link)
    assert '<html lang="en">' in page.text

    done = await api.http.post(awaiting.link, data=company_form(holder_name="Contoso Ltd"))
    assert done.status_code == 200
    assert "Your bank details need a correction" in done.text
    assert "We will send you an e-mail with a new link" in done.text

    await awaiting.program.wait_for(awaiting.handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=4)
    state = await state_of(awaiting)
    assert state.last_bank_details_judgement is BankDetailsJudgement.NAME_MISMATCH
    correction = link_in(api, awaiting.claim_id, "correction_request/1")
    assert correction != awaiting.link
    assert (await api.http.get(awaiting.link)).status_code == 410
    assert (await api.http.get(correction)).status_code == 200

    corrected = await api.http.post(correction, data=company_form())
    assert "Thank you: your bank details are complete" in corrected.text
    assert (await outcome_of(awaiting)).status is ClaimStatus.PAID


async def test_r12_an_individuals_account_cancels_the_claim(api: Api) -> None:
    """R12: the bank details of an individual: the page says the claim is cancelled, and it is."""
    awaiting = await claim_awaiting_bank_details(api)
    done = await api.http.post(
        awaiting.link,
        data={"holder_name": "Max Mustermann", "holder_type": "individual", "iban": IBAN},
    )
    assert done.status_code == 200
    assert "Ihr Antrag wurde storniert" in done.text
    outcome = await outcome_of(awaiting)
    assert outcome.status is ClaimStatus.CANCELLED
    assert outcome.reasons == ["R12: the bank account given is an individual's, not a company's"]


async def test_r13_two_racing_submissions_of_one_link_count_once(api: Api) -> None:
    """R13: the link works once, also for two submissions at the same moment (a double click):
    one is taken, the other answers 410; one set of details is stored, the workflow judges once.
    """
    awaiting = await claim_awaiting_bank_details(api)
    first, second = await asyncio.gather(
        api.http.post(awaiting.link, data=company_form()),
        api.http.post(awaiting.link, data=company_form()),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 410]
    assert bank_accounts_stored(api) == 1
    assert (await outcome_of(awaiting)).status is ClaimStatus.PAID
    received = [
        entry
        for entry in awaiting.program.timeline(awaiting.claim_id)
        if entry.event is TimelineEvent.BANK_DETAILS_RECEIVED
    ]
    assert len(received) == 1


async def test_r16_details_on_file_can_be_confirmed_after_a_payment_failure(api: Api) -> None:
    """R16: the bank rejected the payment: the payment-failure e-mail's link offers the details
    on file (masked) to confirm instead of typing them again; confirming sends the same
    reference to the workflow, storing nothing new."""
    awaiting = await claim_awaiting_bank_details(api)
    # Details the page would refuse, given directly: the simulated bank answers AC01.
    rejected = BankDetails(
        holder_name=COMPANY, holder_type=HolderType.COMPANY, iban="DE00370400440532013000"
    )
    assert api.services.invitations.use(awaiting.token) == awaiting.claim_id
    reference = api.services.bank_accounts.store(rejected)
    await awaiting.handle.execute_update(
        ClaimWorkflow.submit_bank_details,
        BankDetailsSubmission(
            reference=reference, holder_type=HolderType.COMPANY, holder_name=COMPANY
        ),
    )
    await awaiting.program.wait_for(awaiting.handle, ClaimStatus.PAYMENT_FAILED, notices=4)
    link = link_in(api, awaiting.claim_id, "payment_failure/1")

    page = await api.http.get(link)
    assert page.status_code == 200
    assert "Hinterlegte Bankverbindung" in page.text
    assert "DE00 **** **** **** **30 00" in page.text
    assert 'name="confirm"' in page.text

    confirmed = await api.http.post(link, data={"confirm": "yes"})
    assert confirmed.status_code == 200
    assert "Vielen Dank" in confirmed.text
    assert bank_accounts_stored(api) == 1
    assert (await state_of(awaiting)).bank_details_reference == reference
    assert (await api.http.get(link)).status_code == 410


async def test_r13_unknown_expired_and_closed_links_get_friendly_pages(api: Api) -> None:
    """R13: an unknown link answers 404, an expired one 410, one for a claim that no longer
    waits for bank details 409: each an HTML page with the support address (R17), and none
    spends the link or stores anything."""
    unknown = await api.http.get("/bank-details/not-a-token", headers={"Accept-Language": "en"})
    assert unknown.status_code == 404
    assert_secure(unknown)
    assert "This link is not valid" in unknown.text
    assert api.services.settings.support_address in unknown.text

    awaiting = await claim_awaiting_bank_details(api)
    invitations = api.services.invitations
    expired = invitations.mint(
        awaiting.claim_id, "test/expired", datetime.now(UTC) - timedelta(minutes=1)
    )
    page = await api.http.get(f"/bank-details/{expired}")
    assert page.status_code == 410
    assert "Dieser Link ist abgelaufen" in page.text

    await api.http.post(awaiting.link, data=company_form())
    assert (await outcome_of(awaiting)).status is ClaimStatus.PAID
    late = invitations.mint(awaiting.claim_id, "test/late", datetime.now(UTC) + timedelta(days=1))
    closed = await api.http.get(f"/bank-details/{late}", params={"lang": "en"})
    assert closed.status_code == 409
    assert_secure(closed)
    assert "No bank details are needed for this claim now" in closed.text
    refused = await api.http.post(f"/bank-details/{late}", data=company_form())
    assert refused.status_code == 409
    assert invitations.claim_for(late) == awaiting.claim_id  # not spent
    assert bank_accounts_stored(api) == 1


async def test_r10_r13_a_link_alone_cannot_set_the_details_of_later_claims(api: Api) -> None:
    """R10, R13: whoever holds a claim's link sets that claim's bank details only. The page
    offers no "for later claims" choice, and a forged `standing` field is ignored: no standing
    details are set, and the reseller is mailed the claim's change (masked)."""
    awaiting = await claim_awaiting_bank_details(api, language="en")
    form = await api.http.get(awaiting.link)
    assert 'name="standing"' not in form.text
    assert "later claims" in form.text  # says where they are set: signed in

    done = await api.http.post(awaiting.link, data=company_form(standing="yes"))
    assert done.status_code == 200
    assert "Thank you: your bank details are complete" in done.text
    assert "later claims" not in done.text
    headers = awaiting.reseller.headers
    assert (await api.http.get("/account/bank-details", headers=headers)).status_code == 404
    [mailed] = changes_mailed(api, awaiting.claim_id)
    assert mailed.message["Content-Language"] == "en"
    assert "this claim only" in mailed.part("plain")
    assert_masked_only(api, mailed)
    assert changes_mailed(api, awaiting.reseller.reseller_id) == []
    assert (await outcome_of(awaiting)).status is ClaimStatus.PAID


async def test_r10_standing_details_are_set_by_the_signed_in_reseller_and_mailed(
    api: Api,
) -> None:
    """R10 "submit or confirm": a signed-in reseller sets bank details for all later claims
    (PUT /account/bank-details), checked like the page's (IBAN) and judged like a claim's
    (R11 the company's name, R12 a company account); refused ones change nothing and mail
    nothing. The change is mailed to the reseller (masked, with how to withdraw it). The next
    claim's final confirmation names the account (masked), the claim is paid without a
    request, and the remittance advice names the account. Withdrawn (mailed too), the
    following claim asks again."""
    reseller = await api.register(COMPANY)
    body = {"holder_name": COMPANY, "holder_type": "company", "iban": IBAN, "bic": "COBADEFFXXX"}
    assert (await api.http.put("/account/bank-details", json=body)).status_code == 401
    for refused, error in [
        ({"iban": IBAN_WITH_TYPO}, "invalid_bank_details"),
        ({"holder_name": "Contoso Ltd"}, "holder_name_mismatch"),
        ({"holder_type": "individual"}, "individual_account"),
    ]:
        answer = await api.http.put(
            "/account/bank-details", json=body | refused, headers=reseller.headers
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == error
        assert IBAN.replace(" ", "")[4:] not in answer.text.replace(" ", "")
    assert bank_accounts_stored(api) == 0
    assert changes_mailed(api, reseller.reseller_id) == []

    put = await api.http.put("/account/bank-details", json=body, headers=reseller.headers)
    assert put.status_code == 200, put.text
    assert put.json()["masked_iban"] == MASKED
    [set_mail] = changes_mailed(api, reseller.reseller_id)
    assert set_mail.rcpt_tos == [reseller.email]
    assert set_mail.message["Content-Language"] == "de"
    assert_masked_only(api, set_mail)
    assert "DELETE /account/bank-details" in set_mail.part("plain")
    assert reseller.email in set_mail.part("plain")  # who set them
    shown = await api.http.get("/account/bank-details", headers=reseller.headers)
    assert shown.json()["masked_iban"] == MASKED
    other = await api.register(COMPANY)
    assert (await api.http.get("/account/bank-details", headers=other.headers)).status_code == 404

    offer = await api.create_offer()
    claim_id, handle, program = await approved_claim(api, reseller, offer)
    assert (await claim_outcome(handle, 30)).status is ClaimStatus.PAID
    mails = dict(notices_of(api.mailbox, claim_id))
    assert "bank_details_request/1" not in mails
    assert [
        entry.reason
        for entry in program.timeline(claim_id)
        if entry.event is TimelineEvent.BANK_DETAILS_RECEIVED
    ] == ["valid: confirmed for all claims"]
    assert_masked_only(api, mails["final_confirmation/1"])
    assert "persönlichen Link" not in mails["final_confirmation/1"].part("plain")
    assert_masked_only(api, mails["remittance_advice/1"])
    state: ClaimState = await handle.query(ClaimWorkflow.state)
    assert state.bank_details_reference is not None
    assert api.services.bank_accounts.reveal(state.bank_details_reference).iban == IBAN.replace(
        " ", ""
    )

    withdrawn = await api.http.delete("/account/bank-details", headers=reseller.headers)
    assert withdrawn.status_code == 204
    _, withdrawn_mail = changes_mailed(api, reseller.reseller_id)
    assert "widerrufen" in str(withdrawn_mail.message["Subject"])
    assert_masked_only(api, withdrawn_mail)
    again = await api.http.delete("/account/bank-details", headers=reseller.headers)
    assert again.status_code == 404
    assert len(changes_mailed(api, reseller.reseller_id)) == 2
    claim_id, handle, program = await approved_claim(api, reseller, offer)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)
    mails = dict(notices_of(api.mailbox, claim_id))
    assert "bank_details_request/1" in mails
    assert MASKED not in mails["final_confirmation/1"].part("plain")
    assert "persönlichen Link" in mails["final_confirmation/1"].part("plain")


async def test_r10_standing_details_the_reseller_cannot_be_told_of_are_not_set(api: Api) -> None:
    """R10: the mail about new standing details goes out before they are stored; when the mail
    server refuses the reseller's address, the API answers 503 and nothing changes."""
    reseller = await api.register(COMPANY)
    with api.services.database.transaction() as session:
        session.get_one(Reseller, reseller.reseller_id).email = REFUSED
    body = {"holder_name": COMPANY, "holder_type": "company", "iban": IBAN}
    put = await api.http.put("/account/bank-details", json=body, headers=reseller.headers)
    assert put.status_code == 503, put.text
    assert put.json()["error"] == "mail_unavailable"
    assert (
        await api.http.get("/account/bank-details", headers=reseller.headers)
    ).status_code == 404
    assert bank_accounts_stored(api) == 0
    assert changes_mailed(api, reseller.reseller_id) == []
