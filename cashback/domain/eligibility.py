"""The automatic eligibility verdict (R8): does the agreement named in a claim meet the offer's
criteria (R2) and its per-customer licence limits (R3)?

Pure: the licensing record and the licences already claimed are looked up by an activity and
passed in; the verdict explains itself in reasons a person can read.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cashback.domain.identity import Claimant
from cashback.domain.names import names_match
from cashback.domain.offers import LicenceLimits, OfferCriteria


class LicenceLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    product: str
    licence_type: str
    quantity: int = Field(ge=1)


class LicensingRecord(BaseModel):
    """The program's own record of an Open License agreement (imported by operators)."""

    model_config = ConfigDict(frozen=True)

    agreement_number: str
    customer_name: str
    customer_segment: str
    customer_country: str
    reseller_name: str
    sale_date: date
    lines: tuple[LicenceLine, ...]
    # R8: the selling reseller's VAT id or partner id (canonical); None on records imported
    # before the program recorded it, whose claims an operator checks.
    seller_id: str | None = None


class ClaimedAgreement(BaseModel):
    """What the reseller says about the agreement on its claim (R5), and who says it: the
    claimant's verified identity (R1; None on claims submitted before identities were verified,
    which an operator checks)."""

    model_config = ConfigDict(frozen=True)

    agreement_number: str
    customer_name: str
    reseller_name: str
    claimant: Claimant | None = None


class Verdict(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    INCONCLUSIVE = "inconclusive"  # a person must look (R9 escalates at the deadline)


class Reason(BaseModel):
    """One finding of the check: a stable code and a sentence for a person."""

    model_config = ConfigDict(frozen=True)

    code: str
    detail: str
    rule: str


class EligibilityVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    eligible_licences: int = Field(default=0, ge=0)
    reasons: tuple[Reason, ...] = ()

    @property
    def is_conclusive(self) -> bool:
        return self.verdict is not Verdict.INCONCLUSIVE


def eligible_licences(record: LicensingRecord, criteria: OfferCriteria) -> int:
    """R2: licences on the agreement's lines whose product and licence type the offer covers."""
    return sum(line.quantity for line in record.lines if _line_is_covered(line, criteria))


def _line_is_covered(line: LicenceLine, criteria: OfferCriteria) -> bool:
    return (
        line.product.strip().upper() in criteria.products
        and line.licence_type.strip().upper() in criteria.licence_types
    )


def check_criteria(record: LicensingRecord, criteria: OfferCriteria) -> list[Reason]:
    """R2: every criterion the agreement fails, as reasons (empty when it meets them all)."""
    reasons: list[Reason] = []
    if not criteria.sale_date_from <= record.sale_date <= criteria.sale_date_to:
        reasons.append(
            Reason(
                code="sale_date_outside_window",
                detail=f"Sale date {record.sale_date} is outside the offer's window "
                f"{criteria.sale_date_from} to {criteria.sale_date_to}.",
                rule="R2",
            )
        )
    if record.customer_country.upper() not in criteria.countries:
        reasons.append(
            Reason(
                code="country_not_eligible",
                detail=f"Customer country {record.customer_country} is not an eligible region.",
                rule="R2",
            )
        )
    if record.customer_segment.strip().upper() not in criteria.customer_segments:
        reasons.append(
            Reason(
                code="segment_not_eligible",
                detail=f"Customer segment {record.customer_segment} is not eligible.",
                rule="R2",
            )
        )
    for line in record.lines:
        if not _line_is_covered(line, criteria):
            reasons.append(
                Reason(
                    code="line_not_eligible",
                    detail=f"{line.quantity} × {line.product} ({line.licence_type}) "
                    "is not covered by the offer and is not counted.",
                    rule="R2",
                )
            )
    return reasons


def check_licence_limits(
    licences: int, already_claimed: int, limits: LicenceLimits
) -> list[Reason]:
    """R3: the customer's licences over all claims of the offer, this one included, must lie
    between the offer's minimum and maximum. Empty when they do."""
    total = already_claimed + licences
    if licences == 0:
        return []  # nothing to count; the criteria reasons already say why
    if total < limits.min_per_customer:
        return [
            Reason(
                code="below_minimum_licences",
                detail=f"{total} licences for this customer are below the offer's minimum "
                f"of {limits.min_per_customer}.",
                rule="R3",
            )
        ]
    if total > limits.max_per_customer:
        room = max(limits.max_per_customer - already_claimed, 0)
        return [
            Reason(
                code="above_maximum_licences",
                detail=f"{licences} licences would bring this customer to {total}, above the "
                f"offer's maximum of {limits.max_per_customer} ({room} still available).",
                rule="R3",
            )
        ]
    return []


SOLD_BY_ANOTHER_RESELLER = "sold_by_another_reseller"


def check_seller(claimed: ClaimedAgreement, record: LicensingRecord) -> Reason | None:
    """R8, R1: the agreement must have been sold by the claimant. A reason when it was sold by
    someone else (`sold_by_another_reseller`, which names no one), or when the program cannot
    tell (a person looks); None when the record's seller is the claimant."""
    if record.seller_id is None:
        return Reason(
            code="seller_unknown",
            detail=f"The licensing record of agreement {record.agreement_number} does not name "
            "the reseller that sold it; an operator must check it.",
            rule="R8",
        )
    if claimed.claimant is None:
        return Reason(
            code="claimant_unverified",
            detail="The claim was submitted before resellers' identities were verified; an "
            "operator must check that the claimant sold the agreement.",
            rule="R1",
        )
    if not claimed.claimant.sold(record.seller_id):
        return Reason(
            code=SOLD_BY_ANOTHER_RESELLER,
            detail=f"According to the licensing records, agreement {record.agreement_number} "
            "was not sold by your organisation; only the reseller that sold an agreement can "
            "claim cash back for it.",
            rule="R8",
        )
    return None


def sold_by_another(verdict: EligibilityVerdict) -> bool:
    """R8: the verdict found that another reseller sold the agreement; no one may approve the
    claim (an operator who believes the record is wrong corrects the record instead)."""
    return any(reason.code == SOLD_BY_ANOTHER_RESELLER for reason in verdict.reasons)


def decide_eligibility(
    claimed: ClaimedAgreement,
    record: LicensingRecord | None,
    criteria: OfferCriteria,
    limits: LicenceLimits,
    already_claimed: int,
) -> EligibilityVerdict:
    """R8: the automatic verdict on a claim, from the licensing record of its agreement.

    Unknown agreement, unknown seller, or names that differ from the record or from the
    claimant's registered name: inconclusive (a person looks). An agreement sold by another
    reseller, a failed criterion, no covered licence, or the limits of R3 broken: ineligible.
    An agreement sold by another reseller is judged on that alone, so that the verdict tells
    the claimant nothing about another reseller's agreement.
    """
    if record is None:
        return EligibilityVerdict(
            verdict=Verdict.INCONCLUSIVE,
            reasons=(
                Reason(
                    code="agreement_unknown",
                    detail=f"Agreement {claimed.agreement_number} is not in the licensing "
                    "records; an operator must check it.",
                    rule="R8",
                ),
            ),
        )
    seller = check_seller(claimed, record)
    if seller is not None and seller.code == SOLD_BY_ANOTHER_RESELLER:
        return EligibilityVerdict(verdict=Verdict.INELIGIBLE, reasons=(seller,))
    reasons = check_criteria(record, criteria)
    hard_failures = [reason for reason in reasons if reason.code != "line_not_eligible"]
    licences = 0 if hard_failures else eligible_licences(record, criteria)
    if not hard_failures and licences == 0:
        hard_failures.append(
            Reason(
                code="no_eligible_licences",
                detail="No line of the agreement is covered by the offer.",
                rule="R2",
            )
        )
        reasons.append(hard_failures[-1])
    limit_reasons = check_licence_limits(licences, already_claimed, limits)
    reasons.extend(limit_reasons)
    if hard_failures or limit_reasons:
        return EligibilityVerdict(
            verdict=Verdict.INELIGIBLE, eligible_licences=0, reasons=tuple(reasons)
        )

    review_reasons = [] if seller is None else [seller]
    if not names_match(claimed.customer_name, record.customer_name):
        review_reasons.append(
            Reason(
                code="customer_name_differs",
                detail=f"Customer name on the claim differs from the record "
                f"({record.customer_name}).",
                rule="R8",
            )
        )
    if claimed.claimant is not None and not names_match(
        claimed.reseller_name, claimed.claimant.legal_name
    ):
        review_reasons.append(
            Reason(
                code="reseller_name_differs",
                detail="The reseller name on the claim differs from your organisation's "
                f"registered legal name ({claimed.claimant.legal_name}).",
                rule="R1",
            )
        )
    verdict = Verdict.INCONCLUSIVE if review_reasons else Verdict.ELIGIBLE
    return EligibilityVerdict(
        verdict=verdict, eligible_licences=licences, reasons=tuple(reasons + review_reasons)
    )
