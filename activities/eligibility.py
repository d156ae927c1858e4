"""The automatic eligibility verdict (R8) against the licensing records, with the licences a
claim counts against the offer's per-customer maximum (R3) reserved in the same transaction,
so two claims racing for the last licences cannot both pass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.common import RetryPolicy

from cashback.domain.eligibility import (
    ClaimedAgreement,
    EligibilityVerdict,
    LicensingRecord,
    Verdict,
    decide_eligibility,
    sold_by_another,
)
from cashback.domain.names import normalise_name
from cashback.domain.offers import LicenceLimits, OfferCriteria

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["InvalidEligibilityRequest"],
)


class EligibilityRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    claim_id: str
    offer_id: str
    claimed: ClaimedAgreement
    criteria: OfferCriteria
    limits: LicenceLimits


class ApprovedLicences(BaseModel):
    """The licences an operator's approval names for a claim (R3 holds them)."""

    model_config = ConfigDict(frozen=True)

    claim_id: str
    offer_id: str
    claimed: ClaimedAgreement
    limits: LicenceLimits
    licences: int


class ClaimVerdict(BaseModel):
    """The verdict, with the agreement's sale date and customer country when the records know
    the agreement (R15 needs them)."""

    model_config = ConfigDict(frozen=True)

    eligibility: EligibilityVerdict
    sale_date: date | None = None
    customer_country: str | None = None


class LicensingRecords(Protocol):
    def find_agreement(self, agreement_number: str) -> LicensingRecord | None: ...

    def reserve_licences(
        self, claim_id: str, offer_id: str, customer_key: str, decide: Callable[[int], int]
    ) -> int:
        """In one transaction, locked against other claims for (offer_id, customer_key): read the
        licences other claims hold, call `decide(held)` for this claim's count, and hold it
        (returned). Calling it again for the same claim replaces the claim's own reservation."""
        ...

    def release_licences(self, claim_id: str) -> None:
        """Give back what `claim_id` holds (rejected or cancelled claim); idempotent."""
        ...


class EligibilityActivities:
    def __init__(self, records: LicensingRecords) -> None:
        self._records = records

    @activity.defn(name="eligibility.check_claim")
    def check_claim(self, request: EligibilityRequest) -> ClaimVerdict:
        """R8 (with R2, R3): decide on the claim and hold the licences it counts."""
        record = self._records.find_agreement(request.claimed.agreement_number)
        if record is None:
            verdict = decide_eligibility(request.claimed, None, request.criteria, request.limits, 0)
            return ClaimVerdict(eligibility=verdict)
        verdicts: list[EligibilityVerdict] = []

        def decide(held_by_others: int) -> int:
            verdict = decide_eligibility(
                request.claimed, record, request.criteria, request.limits, held_by_others
            )
            verdicts.append(verdict)
            return 0 if verdict.verdict is Verdict.INELIGIBLE else verdict.eligible_licences

        self._records.reserve_licences(
            request.claim_id, request.offer_id, normalise_name(record.customer_name), decide
        )
        if sold_by_another(verdicts[-1]):
            return ClaimVerdict(eligibility=verdicts[-1])  # nothing of another's agreement
        return ClaimVerdict(
            eligibility=verdicts[-1],
            sale_date=record.sale_date,
            customer_country=record.customer_country,
        )

    @activity.defn(name="eligibility.hold_approved_licences")
    def hold_approved_licences(self, approval: ApprovedLicences) -> int:
        """R3: an operator approved `approval.licences` (more or fewer than the automatic check
        counted, or for an agreement the records do not know): hold them against the customer's
        maximum, as many as fit beside what other claims hold. Returns the licences held."""
        record = self._records.find_agreement(approval.claimed.agreement_number)
        customer = record.customer_name if record else approval.claimed.customer_name
        maximum = approval.limits.max_per_customer

        def decide(held_by_others: int) -> int:
            return max(0, min(approval.licences, maximum - held_by_others))

        return self._records.reserve_licences(
            approval.claim_id, approval.offer_id, normalise_name(customer), decide
        )

    @activity.defn(name="eligibility.release_licences")
    def release_licences(self, claim_id: str) -> None:
        """R3: a rejected or cancelled claim no longer counts against the customer's maximum."""
        self._records.release_licences(claim_id)
