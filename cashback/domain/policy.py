"""The program's policy: every duration and count of DOMAIN.md in one place (R9-R16)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, field_validator


class ProgramPolicy(BaseModel):
    """Durations and counts of the program. The defaults are the program's; tests and operators
    may change them (a demo shortens them, a country may have its own return window)."""

    model_config = ConfigDict(frozen=True)

    review_business_days: int = Field(default=14, ge=1, description="R9: review window")
    days_per_notice: int = Field(default=5, ge=1, description="R10, R16: days to answer a notice")
    max_notices: int = Field(default=3, ge=1, description="R10, R16: notices before cancellation")
    payout_days: int = Field(default=45, ge=1, description="R14: days from final confirmation")
    return_window_days: int = Field(default=60, ge=0, description="R15: default right of return")
    return_window_days_by_country: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="R15: per-country right of return (ISO 3166 alpha-2)"
    )

    time_scale: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="demos only: every wait of the program runs this much faster "
        "(0.001: a day in 86 s); dates and deadlines keep their meaning",
    )
    bank_answer_within: timedelta = Field(
        default=timedelta(minutes=2),
        description="how long a payment may wait for the bank's answer before it is retried "
        "(minutes for a bank that answers at once; days for payment runs at a real bank)",
    )
    returns_watched_for: timedelta = Field(
        default=timedelta(0),
        ge=timedelta(0),
        description="R16: how long a paid claim stays open for a return of its transfer (a "
        "camt.054 return takes it back to PAYMENT_FAILED); none for a bank that never returns "
        "(the simulated bank), 14 days with payment runs unless set",
    )

    @field_validator("return_window_days_by_country")
    @classmethod
    def _country_codes_upper(cls, windows: dict[str, int]) -> dict[str, int]:
        return {country.strip().upper(): days for country, days in windows.items()}

    @property
    def notice_window(self) -> timedelta:
        """How long the reseller has to answer one notice (R10: calendar days)."""
        return timedelta(days=self.days_per_notice)

    @property
    def payout_window(self) -> timedelta:
        """The bound on paying out after the final confirmation (R14)."""
        return timedelta(days=self.payout_days)

    def return_window_for(self, country: str) -> int:
        """Days of the right of return in `country` (R15)."""
        return self.return_window_days_by_country.get(country.upper(), self.return_window_days)
