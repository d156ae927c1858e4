"""D4: money in integer minor units of the offer's currency, no floats."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.domain.money import Money, cashback_amount, minor_unit_exponent

units = st.integers(min_value=-(10**15), max_value=10**15)
factors = st.integers(min_value=-(10**6), max_value=10**6)
licence_counts = st.integers(min_value=0, max_value=10**6)
currencies = st.sampled_from(("EUR", "JPY", "GBP", "USD", "BHD", "CHF"))


def _parse(text: str) -> Money:
    """Reads `Money.format` back, exactly, without floats or Decimal rounding."""
    amount, currency = text.split(" ")
    negative = amount.startswith("-")
    whole, _, fraction = amount.removeprefix("-").partition(".")
    exponent = minor_unit_exponent(currency)
    assert len(fraction) == exponent
    value = int(whole) * 10**exponent + (int(fraction) if fraction else 0)
    return Money(minor_units=-value if negative else value, currency=currency)


def test_d4_minor_unit_exponents() -> None:
    """D4: EUR has cents, JPY has no minor unit, BHD has three decimals."""
    assert minor_unit_exponent("EUR") == 2
    assert minor_unit_exponent("JPY") == 0
    assert minor_unit_exponent("BHD") == 3
    assert minor_unit_exponent("XYZ") == 2


# ISO 4217, the list of current currencies: every code whose minor unit is not hundredths.
ISO_4217_EXPONENTS_NOT_2 = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"), 0
    ),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
# A sample of the others, among them HUF (hundredths in ISO 4217, though cash rounds to forints)
# and the currencies whose subunit is not a hundredth but whose ISO exponent is 2 (MGA, MRU).
ISO_4217_EXPONENT_2 = ("EUR", "USD", "GBP", "CHF", "HUF", "SEK", "PLN", "CZK", "MGA", "MRU")


@pytest.mark.parametrize(("currency", "exponent"), sorted(ISO_4217_EXPONENTS_NOT_2.items()))
def test_d4_iso_4217_exponents_other_than_two(currency: str, exponent: int) -> None:
    """D4: the minor unit of every ISO 4217 currency without cents (the whole table)."""
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize("currency", ISO_4217_EXPONENT_2)
def test_d4_iso_4217_currencies_with_hundredths(currency: str) -> None:
    assert minor_unit_exponent(currency) == 2


@pytest.mark.parametrize(
    ("currency", "text"),
    [
        ("KRW", "1234 KRW"),
        ("ISK", "1234 ISK"),
        ("HUF", "12.34 HUF"),
        ("OMR", "1.234 OMR"),
        ("CLF", "0.1234 CLF"),
    ],
)
def test_d4_format_follows_the_exponent(currency: str, text: str) -> None:
    assert Money(minor_units=1234, currency=currency).format() == text


def test_d4_format_examples() -> None:
    """D4: the amount is formatted exactly from the integer."""
    assert Money(minor_units=123450, currency="EUR").format() == "1234.50 EUR"
    assert Money(minor_units=5, currency="EUR").format() == "0.05 EUR"
    assert Money(minor_units=-5, currency="EUR").format() == "-0.05 EUR"
    assert Money(minor_units=0, currency="EUR").format() == "0.00 EUR"
    assert Money(minor_units=1234, currency="JPY").format() == "1234 JPY"
    assert Money(minor_units=-1234, currency="JPY").format() == "-1234 JPY"
    assert Money(minor_units=1234, currency="BHD").format() == "1.234 BHD"


def test_d4_amount_is_licences_times_rate() -> None:
    """D4: 37 licences at 12.50 EUR are 462.50 EUR, i.e. 46250 cents."""
    amount = cashback_amount(37, Money(minor_units=1250, currency="EUR"))
    assert amount == Money(minor_units=46250, currency="EUR")
    assert amount.format() == "462.50 EUR"


def test_d4_amount_keeps_the_offers_currency() -> None:
    """D4: the amount is in the offer's currency (JPY has no minor unit)."""
    amount = cashback_amount(3, Money(minor_units=1500, currency="JPY"))
    assert amount == Money(minor_units=4500, currency="JPY")
    assert amount.format() == "4500 JPY"


def test_d4_zero_licences_is_zero() -> None:
    """D4: no licences, no money."""
    assert cashback_amount(0, Money(minor_units=1250, currency="EUR")).minor_units == 0


def test_d4_negative_licences_are_refused() -> None:
    """D4: a negative number of licences is an error, not a negative amount."""
    with pytest.raises(ValueError, match="negative"):
        cashback_amount(-1, Money(minor_units=1250, currency="EUR"))


def test_d4_adding_different_currencies_is_refused() -> None:
    """D4: EUR and USD are never added."""
    with pytest.raises(ValueError, match="cannot add"):
        _ = Money(minor_units=1, currency="EUR") + Money(minor_units=1, currency="USD")


@pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "E1R", ""])
def test_d4_currency_must_be_an_iso_4217_code(currency: str) -> None:
    """D4: the currency is a three-letter upper-case ISO 4217 code."""
    with pytest.raises(ValidationError):
        Money.model_validate({"minor_units": 1, "currency": currency})


def test_d4_fractional_minor_units_are_refused() -> None:
    """D4: a fraction of a cent cannot be represented."""
    with pytest.raises(ValidationError):
        Money.model_validate({"minor_units": 12.5, "currency": "EUR"})


def test_d4_float_minor_units_are_refused() -> None:
    """D4: no floats for money, even whole-valued ones."""
    with pytest.raises(ValidationError):
        Money.model_validate({"minor_units": 12.0, "currency": "EUR"})


def test_d4_money_is_immutable() -> None:
    """D4: an amount cannot be changed in place."""
    money = Money(minor_units=100, currency="EUR")
    with pytest.raises(ValidationError):
        money.minor_units = 200  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(a=units, b=units, c=units, currency=currencies)
def test_d4_addition_is_exact_in_minor_units(a: int, b: int, c: int, currency: str) -> None:
    """D4: addition is exact integer addition, commutative and associative."""
    x = Money(minor_units=a, currency=currency)
    y = Money(minor_units=b, currency=currency)
    z = Money(minor_units=c, currency=currency)
    assert (x + y) == Money(minor_units=a + b, currency=currency)
    assert x + y == y + x
    assert (x + y) + z == x + (y + z)
    assert isinstance((x + y).minor_units, int)


@settings(max_examples=200, deadline=None)
@given(a=units, k=factors, j=factors, currency=currencies)
def test_d4_multiplication_is_exact_in_minor_units(a: int, k: int, j: int, currency: str) -> None:
    """D4: multiplying by whole numbers is exact and distributes over addition."""
    rate = Money(minor_units=a, currency=currency)
    assert rate.times(k) == Money(minor_units=a * k, currency=currency)
    assert rate.times(k + j) == rate.times(k) + rate.times(j)
    assert rate.times(k).times(j) == rate.times(k * j)
    assert isinstance(rate.times(k).minor_units, int)


@settings(max_examples=200, deadline=None)
@given(licences=licence_counts, rate=st.integers(min_value=0, max_value=10**9), cur=currencies)
def test_d4_cashback_amount_is_licences_times_rate(licences: int, rate: int, cur: str) -> None:
    """D4: amount = licences × rate, in the rate's currency, as an integer."""
    amount = cashback_amount(licences, Money(minor_units=rate, currency=cur))
    assert amount == Money(minor_units=licences * rate, currency=cur)


@settings(max_examples=200, deadline=None)
@given(minor=units)
def test_d4_eur_format_round_trips(minor: int) -> None:
    """D4: an EUR amount formats with exactly two decimals and reads back to the same cents."""
    money = Money(minor_units=minor, currency="EUR")
    text = money.format()
    assert re.fullmatch(r"-?\d+\.\d{2} EUR", text)
    assert _parse(text) == money


@settings(max_examples=200, deadline=None)
@given(minor=units)
def test_d4_jpy_format_round_trips(minor: int) -> None:
    """D4: a JPY amount formats without decimals and reads back to the same yen."""
    money = Money(minor_units=minor, currency="JPY")
    text = money.format()
    assert re.fullmatch(r"-?\d+ JPY", text)
    assert _parse(text) == money


@settings(max_examples=200, deadline=None)
@given(minor=units, currency=currencies)
def test_d4_format_round_trips_for_any_currency(minor: int, currency: str) -> None:
    """D4: formatting loses nothing, whatever the currency's exponent."""
    money = Money(minor_units=minor, currency=currency)
    assert _parse(money.format()) == money
