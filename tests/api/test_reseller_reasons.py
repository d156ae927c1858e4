"""The reseller sees the reasons (issue 12, item 6): `GET /claims/{id}` gives the reasons of an
inconclusive or ineligible verdict while the claim is under review, and of a cancellation, in
the words the program wrote for people; an eligible claim under review has none (R8, R12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import new_agreement, submitted, terminate_all, wait_for_status
from tests.api.harness import Api
from tests.api.test_bank_details_page import company_form
from tests.api.test_read_model import approve, bank_details_page

pytestmark = [pytest.mark.workflow, pytest.mark.smtp]


async def test_r8_the_reseller_reads_why_its_claim_needs_a_person_or_is_refused(
    api: Api,
) -> None:
    """R8: under review, an agreement the records do not know (inconclusive) says so and that
    an operator checks it; a sale before the offer's window (ineligible) says when it was sold
    and the window; a claim the records confirm has no reasons. No internal code is shown."""
    reseller = await api.register()
    offer = await api.create_offer()
    unknown, early, confirmed = new_agreement(), new_agreement(), new_agreement()
    sold = datetime.now(UTC).date() - timedelta(days=400)
    api.add_licensing_record(early, seller_id=reseller.vat_id, sale_date=sold)
    api.add_licensing_record(confirmed, seller_id=reseller.vat_id)
    claims = {
        agreement: await submitted(api, reseller, offer["offer_id"], agreement)
        for agreement in (unknown, early, confirmed)
    }
    pages = {
        agreement: await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
        for agreement, claim_id in claims.items()
    }

    assert pages[unknown]["reasons"] == [
        f"Agreement {unknown} is not in the licensing records; an operator must check it."
    ]
    [outside] = pages[early]["reasons"]
    assert outside.startswith(f"Sale date {sold} is outside the offer's window ")
    assert pages[confirmed]["reasons"] == []
    for page in pages.values():
        assert "agreement_unknown" not in str(page)
        assert "sale_date_outside_window" not in str(page)
    await terminate_all(api)


async def test_r12_the_reseller_reads_why_its_claim_was_cancelled(api: Api) -> None:
    """R12: bank details of an individual cancel the claim; its page gives the reason and the
    next step repeats it."""
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()
    api.add_licensing_record(agreement, seller_id=reseller.vat_id)
    claim_id = await submitted(api, reseller, offer["offer_id"], agreement)
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    await approve(api, claim_id)
    page = await bank_details_page(api, claim_id, "bank_details_request/1")
    given = await api.http.post(page, data=company_form(holder_type="individual"))
    assert given.status_code == 200, given.text

    claim = await wait_for_status(api, reseller, claim_id, ClaimStatus.CANCELLED)
    reason = "R12: the bank account given is an individual's, not a company's"
    assert claim["reasons"] == [reason]
    assert reason in claim["next_step"]["detail"]
