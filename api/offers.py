"""Offers (R2, R3, R4, R6): resellers list the offers open to them; operators create and close
offers."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlalchemy.exc import IntegrityError

from api.deps import OperatorUser, ResellerUser, ServicesDep, links
from api.errors import ApiError, error_responses, not_found
from cashback.db.budgets import BudgetRepository
from cashback.db.tables import Offer
from cashback.domain.money import CurrencyCode, Money
from cashback.domain.names import PlainText
from cashback.domain.offers import ClaimPeriod, DecisionPolicy, LicenceLimits, OfferCriteria
from cashback.offers import open_offers

router = APIRouter(tags=["offers"])


class OfferCreate(BaseModel):
    name: PlainText = Field(min_length=2, max_length=200)
    criteria: OfferCriteria
    limits: LicenceLimits
    claim_period: ClaimPeriod
    rate_per_licence_minor_units: int = Field(
        ge=0, le=10**12, description="D4: integer minor units"
    )
    currency: CurrencyCode
    terms_version: str = Field(min_length=1, max_length=64)
    terms_text: str = Field(min_length=1, description="R6: the Terms and Conditions")
    decision_policy: DecisionPolicy = Field(
        default=DecisionPolicy.AT_THE_DEADLINE,
        description="D8: decide conclusive verdicts at the review deadline (R9) or at once",
    )
    budget_minor_units: int | None = Field(
        default=None,
        ge=0,
        le=10**15,
        description="D7: the offer's budget in minor units of its currency; none if not given",
    )


class DecisionPolicySet(BaseModel):
    decision_policy: DecisionPolicy


class OfferRead(BaseModel):
    offer_id: str
    name: str
    criteria: OfferCriteria
    limits: LicenceLimits
    claim_period: ClaimPeriod
    rate_per_licence: Money
    terms_version: str
    terms_text: str
    closed_at: AwareDatetime | None
    decision_policy: DecisionPolicy = Field(
        description="D8: when conclusive verdicts decide: at the review deadline, or at once"
    )

    @classmethod
    def of(cls, offer: Offer) -> OfferRead:
        return cls(
            offer_id=offer.id,
            name=offer.name,
            criteria=offer.criteria(),
            limits=offer.limits(),
            claim_period=offer.claim_period(),
            rate_per_licence=offer.rate_per_licence(),
            terms_version=offer.terms_version,
            terms_text=offer.terms_text,
            closed_at=offer.closed_at,
            decision_policy=offer.decision_policy,
        )


class OfferList(BaseModel):
    offers: list[OfferRead]

    @model_validator(mode="after")
    def _sorted(self) -> OfferList:
        self.offers.sort(key=lambda offer: offer.claim_period.closes_at)
        return self


@router.get(
    "/offers",
    response_model=OfferList,
    responses={
        200: links(
            CloseFirstOffer=(
                "post",
                "/operator/offers/{offer_id}/close",
                {"offer_id": "$response.body#/offers/0/offer_id"},
            )
        ),
        **error_responses(401, 403),
    },
)
def list_offers(user: ResellerUser, services: ServicesDep) -> OfferList:
    """R1, R2, R4: the offers open to the signed-in reseller now, soonest closing first."""
    assert user.reseller_id is not None
    offers = open_offers(services.database, user.reseller_id, datetime.now(UTC))
    return OfferList(offers=[OfferRead.of(offer) for offer in offers])


@router.post(
    "/operator/offers",
    status_code=201,
    response_model=OfferRead,
    responses={
        201: links(
            CloseOffer=(
                "post",
                "/operator/offers/{offer_id}/close",
                {"offer_id": "$response.body#/offer_id"},
            )
        ),
        **error_responses(400, 401, 403, 409, 422),
    },
)
def create_offer(offer: OfferCreate, user: OperatorUser, services: ServicesDep) -> OfferRead:
    """Operators: create an offer."""
    row = Offer(
        id=f"o_{datetime.now(UTC):%Y%m}_{secrets.token_hex(4)}",
        name=offer.name,
        sale_date_from=offer.criteria.sale_date_from,
        sale_date_to=offer.criteria.sale_date_to,
        products=sorted(offer.criteria.products),
        licence_types=sorted(offer.criteria.licence_types),
        customer_segments=sorted(offer.criteria.customer_segments),
        countries=sorted(offer.criteria.countries),
        min_per_customer=offer.limits.min_per_customer,
        max_per_customer=offer.limits.max_per_customer,
        claim_opens_at=offer.claim_period.opens_at,
        claim_closes_at=offer.claim_period.closes_at,
        rate_minor_units=offer.rate_per_licence_minor_units,
        currency=offer.currency,
        terms_version=offer.terms_version,
        terms_text=offer.terms_text,
        created_at=datetime.now(UTC),
        closed_at=None,
        decision_policy=offer.decision_policy,
    )
    try:
        with services.database.transaction() as session:
            session.add(row)
            session.flush()
            if offer.budget_minor_units is not None:
                BudgetRepository(session).change_budget(
                    row.id, user.email, to=offer.budget_minor_units
                )
            return OfferRead.of(row)
    except IntegrityError as error:
        raise ApiError(409, "offer_exists", "an offer with this id exists; try again") from error


@router.post(
    "/operator/offers/{offer_id}/close",
    response_model=OfferRead,
    responses=error_responses(401, 403, 404),
)
def close_offer(offer_id: str, user: OperatorUser, services: ServicesDep) -> OfferRead:
    """Operators: close an offer now; claims in flight go on, new ones are refused (R4)."""
    with services.database.transaction() as session:
        offer = session.get(Offer, offer_id)
        if offer is None:
            raise not_found(f"offer {offer_id}")
        if offer.closed_at is None:
            offer.closed_at = datetime.now(UTC)
        return OfferRead.of(offer)


@router.put(
    "/operator/offers/{offer_id}/decision-policy",
    response_model=OfferRead,
    responses=error_responses(400, 401, 403, 404, 422),
)
def set_decision_policy(
    offer_id: str, body: DecisionPolicySet, user: OperatorUser, services: ServicesDep
) -> OfferRead:
    """Operators, D8: when the offer's claims are decided on a conclusive verdict. Claims
    submitted from now on follow it; claims in flight keep the policy they were submitted
    under."""
    with services.database.transaction() as session:
        offer = session.get(Offer, offer_id)
        if offer is None:
            raise not_found(f"offer {offer_id}")
        offer.decision_policy = body.decision_policy
        return OfferRead.of(offer)
