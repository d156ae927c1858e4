"""What an offer asks of an agreement (R2, R3, R4), as the workflow's snapshot carries it."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


def _upper(values: frozenset[str]) -> frozenset[str]:
    return frozenset(value.strip().upper() for value in values)


Codes = Annotated[frozenset[str], AfterValidator(_upper)]


class OfferCriteria(BaseModel):
    """R2: the eligibility criteria of one offer. Products, licence types and segments are
    compared case-insensitively; regions are ISO 3166 country codes."""

    model_config = ConfigDict(frozen=True)

    sale_date_from: date
    sale_date_to: date
    products: Codes
    licence_types: Codes
    customer_segments: Codes
    countries: frozenset[CountryCode]

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Self:
        if self.sale_date_to < self.sale_date_from:
            raise ValueError("sale_date_to is before sale_date_from")
        return self


class LicenceLimits(BaseModel):
    """R3: the number of licences per end customer, over all claims of the offer."""

    model_config = ConfigDict(frozen=True)

    min_per_customer: int = Field(ge=1, le=10**9)
    max_per_customer: int = Field(ge=1, le=10**9)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Self:
        if self.min_per_customer > self.max_per_customer:
            raise ValueError("min_per_customer is above max_per_customer")
        return self


class ClaimPeriod(BaseModel):
    """R4: when claims for an offer may be submitted: [opens_at, closes_at)."""

    model_config = ConfigDict(frozen=True)

    opens_at: AwareDatetime
    closes_at: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at is not after opens_at")
        return self

    def is_open(self, at: datetime) -> bool:
        """R4: a claim submitted at `at` falls in this claim period."""
        return self.opens_at <= at < self.closes_at


class DecisionPolicy(StrEnum):
    """D8: when a claim of an offer is decided on its automatic verdict. `at_the_deadline`
    (the default): at the end of the review window (R9); `at_once_when_conclusive`: as soon as
    the verdict is in, when it is eligible or ineligible (an inconclusive one goes to the
    operators as under the default)."""

    AT_THE_DEADLINE = "at_the_deadline"
    AT_ONCE_WHEN_CONCLUSIVE = "at_once_when_conclusive"
