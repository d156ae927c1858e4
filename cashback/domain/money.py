"""Money in integer minor units (D4): no floats anywhere near an amount."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

# ISO 4217 exponents that are not 2 (the list of current currencies); every other currency has
# cents. Codes without a minor unit (gold, SDR, XXX) are no currency a cash back is paid in.
_MINOR_UNIT_EXPONENT: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip


def minor_unit_exponent(currency: str) -> int:
    """Number of decimal places of `currency`'s minor unit (2 for EUR: cents)."""
    return _MINOR_UNIT_EXPONENT.get(currency, 2)


class Money(BaseModel):
    """An amount in integer minor units of an ISO 4217 currency (D4)."""

    model_config = ConfigDict(
        frozen=True, json_schema_extra={"examples": [{"minor_units": 125000, "currency": "EUR"}]}
    )

    minor_units: StrictInt  # 12.0, True or "12" are refused, never coerced
    currency: CurrencyCode

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(minor_units=self.minor_units + other.minor_units, currency=self.currency)

    def times(self, factor: int) -> Money:
        """This amount multiplied by a whole number (licences × rate)."""
        return Money(minor_units=self.minor_units * factor, currency=self.currency)

    def format(self) -> str:
        """`1234.50 EUR`: exact, from the integer, for e-mails and pages."""
        exponent = minor_unit_exponent(self.currency)
        sign = "-" if self.minor_units < 0 else ""
        whole, fraction = divmod(abs(self.minor_units), 10**exponent)
        digits = f"{whole}.{fraction:0{exponent}d}" if exponent else str(whole)
        return f"{sign}{digits} {self.currency}"


def cashback_amount(licences: int, rate_per_licence: Money) -> Money:
    """D4: amount = licences × the offer's rate per licence, in the offer's currency."""
    if licences < 0:
        raise ValueError("licences cannot be negative")
    return rate_per_licence.times(licences)
