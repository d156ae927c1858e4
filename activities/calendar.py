"""Calendar-dependent dates (R9), computed here so that the workflow's history keeps the answer:
the `holidays` tables change between releases, a replay must not compute another date."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.common import RetryPolicy

from cashback.domain.calendar import add_business_days
from cashback.domain.offers import CountryCode

TIMEOUT = timedelta(seconds=10)
RETRY = RetryPolicy(maximum_attempts=3, non_retryable_error_types=["ValueError"])


class ReviewDeadlineRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    received_on: date
    country: CountryCode
    business_days: int = Field(ge=1)


class CalendarActivities:
    """Pure, but not replay-safe: run as a local activity so the result enters history."""

    @activity.defn(name="calendar.review_deadline")
    async def review_deadline(self, request: ReviewDeadlineRequest) -> date:
        """R9: the last day of the review window, in the reseller's country's business days."""
        return add_business_days(request.received_on, request.business_days, request.country)
