"""Bank details the reseller confirmed for all later claims (R10: "submit or confirm").

The workflow asks once, when a claim needs bank details: with a standing confirmation it goes
on to payment without a request; without one it sends the request notices as usual. Only the
reference, the holder's type and name reach the workflow (R13), never the IBAN.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from temporalio import activity
from temporalio.common import RetryPolicy

from cashback.claims import BankDetailsSubmission

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


class StandingConfirmationSource(Protocol):
    def confirmed_details(self, reseller_id: str) -> BankDetailsSubmission | None:
        """The details the reseller confirmed for later claims, if any."""
        ...


class BankDetailsActivities:
    def __init__(self, standing: StandingConfirmationSource) -> None:
        self._standing = standing

    @activity.defn(name="bank_details.standing_confirmation")
    def standing_confirmation(self, reseller_id: str) -> BankDetailsSubmission | None:
        """R10: the bank details the reseller confirmed for all later claims, or None."""
        return self._standing.confirmed_details(reseller_id)
