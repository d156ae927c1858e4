"""Typed search attributes of a claim workflow: what an operator filters on in the Temporal UI,
e.g. `ClaimStatus = "AWAITING_BANK_DETAILS" AND ReviewDeadline < "2026-12-20T00:00:00Z"`."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CLAIM_STATUS = SearchAttributeKey.for_keyword("ClaimStatus")
RESELLER_ID = SearchAttributeKey.for_keyword("ResellerId")
OFFER_ID = SearchAttributeKey.for_keyword("OfferId")
AGREEMENT_NUMBER = SearchAttributeKey.for_keyword("AgreementNumber")
REVIEW_DEADLINE = SearchAttributeKey.for_datetime("ReviewDeadline")
PAYOUT_DATE = SearchAttributeKey.for_datetime("PayoutDate")

CLAIM_SEARCH_ATTRIBUTES = (
    CLAIM_STATUS,
    RESELLER_ID,
    OFFER_ID,
    AGREEMENT_NUMBER,
    REVIEW_DEADLINE,
    PAYOUT_DATE,
)
