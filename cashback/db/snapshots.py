"""The claim workflow's input from the stored rows: the reseller and the offer as they are at
submission (a later edit of either leaves the claim as it was)."""

from __future__ import annotations

from activities.invoices import InvoiceRef
from cashback.claims import ClaimInput, OfferSnapshot
from cashback.db.tables import Claim, Offer, Reseller
from cashback.domain.eligibility import ClaimedAgreement
from cashback.domain.identity import Claimant
from cashback.domain.policy import ProgramPolicy
from cashback.domain.reseller import ResellerSnapshot


def claim_input_of(
    reseller: Reseller, offer: Offer, claim: Claim, invoice: InvoiceRef, policy: ProgramPolicy
) -> ClaimInput:
    """The workflow's input for a stored claim: the same for a first start and a retry."""
    return ClaimInput(
        claim_id=claim.id,
        reseller=ResellerSnapshot(
            reseller_id=reseller.id,
            company_name=reseller.company_name,
            country=reseller.country,
            language=reseller.language,
            email=reseller.email,
        ),
        offer=OfferSnapshot(
            offer_id=offer.id,
            name=offer.name,
            criteria=offer.criteria(),
            limits=offer.limits(),
            rate_per_licence=offer.rate_per_licence(),
            terms_version=offer.terms_version,
            decision_policy=offer.decision_policy,
        ),
        claimed=ClaimedAgreement(
            agreement_number=claim.agreement_number,
            customer_name=claim.customer_name,
            reseller_name=claim.reseller_name_on_agreement,
            # R1, R8: who claims, as the program verified it (never the typed name).
            claimant=Claimant(
                reseller_id=reseller.id,
                legal_name=reseller.company_name,
                identifiers=reseller.identifiers(),
            ),
        ),
        invoice=invoice,
        terms_accepted_version=claim.terms_accepted_version,
        terms_accepted_at=claim.terms_accepted_at,
        received_at=claim.created_at,
        policy=policy,
    )
