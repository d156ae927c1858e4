"""R1: VAT ids and partner ids in one canonical form; D1: agreement numbers normalised once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain.agreements import agreement_key, agreement_number
from cashback.domain.identity import (
    Claimant,
    InvalidIdentifier,
    partner_id,
    seller_identifier,
    vat_id,
)


@pytest.mark.parametrize(
    ("typed", "country", "canonical"),
    [
        ("DE136695976", "DE", "DE136695976"),
        ("de 136 695 976", "de", "DE136695976"),
        ("136695976", "DE", "DE136695976"),
        ("ATU13585627", "AT", "ATU13585627"),
        ("EL094259216", "GR", "EL094259216"),
        ("CHE-116.281.710 MWST", "CH", "CHE116281710MWST"),  # stdnum keeps the prefix
        ("GR094259216", "GR", "EL094259216"),  # Greece's VAT prefix is EL
    ],
)
def test_r1_a_valid_vat_id_is_kept_in_its_canonical_form(
    typed: str, country: str, canonical: str
) -> None:
    """R1: format and check digits checked (python-stdnum); upper case, no spaces, prefix."""
    assert vat_id(typed, country) == canonical


@pytest.mark.parametrize(
    ("typed", "country", "why"),
    [
        ("DE136695975", "DE", "check digit"),
        ("FR40303265045", "DE", "starts with FR"),
        ("DE1", "DE", "too short"),
        ("12345678901", "US", "partner id"),
    ],
)
def test_r1_an_invalid_vat_id_is_refused_with_a_reason(typed: str, country: str, why: str) -> None:
    """R1: a wrong check digit, another country's prefix, a stump, or a country whose VAT ids
    cannot be checked: refused, saying why."""
    with pytest.raises(InvalidIdentifier, match=why):
        vat_id(typed, country)


def test_r1_partner_ids_are_5_to_10_digits() -> None:
    """R1: the program's partner id."""
    assert partner_id(" 4711-042 ") == "4711042"
    for bad in ("1234", "12345678901", "PID12345"):
        with pytest.raises(InvalidIdentifier):
            partner_id(bad)


def test_r8_a_seller_id_is_a_vat_id_or_a_partner_id() -> None:
    """R8: the seller id of a licensing record, canonical; anything else is refused."""
    assert seller_identifier("de 136.695.976") == "DE136695976"
    assert seller_identifier("4711042") == "4711042"
    with pytest.raises(InvalidIdentifier):
        seller_identifier("Contoso Software GmbH")


def test_r8_the_claimant_sold_only_what_names_its_own_identifier() -> None:
    """R8: an empty or foreign seller id is never the claimant's."""
    claimant = Claimant(reseller_id="r1", legal_name="Acme GmbH", identifiers=("DE136695976",))
    assert claimant.sold("de 136695976")
    assert not claimant.sold("DE129273398")
    assert not claimant.sold("")
    assert not Claimant(reseller_id="r2", legal_name="X").sold("DE136695976")


@pytest.mark.parametrize(
    "written", ["OL-DEMO-4", "ol-demo-4 ", "OL DEMO 4", "OL–DEMO–4", "ol_demo.4"]
)
def test_d1_agreement_numbers_differing_in_case_spaces_or_separators_are_one(written: str) -> None:
    """D1: case, spaces and separators (any dash, dot, underscore) do not count."""
    assert agreement_number(written) == "OL-DEMO-4"
    assert agreement_key(written) == "OLDEMO4"


@given(st.text(alphabet=st.sampled_from("ab19 -–_./"), max_size=20))
def test_d1_the_written_form_and_the_key_agree(text: str) -> None:
    """D1: normalising twice changes nothing, and the written form has the same key."""
    assert agreement_number(agreement_number(text)) == agreement_number(text)
    assert agreement_key(agreement_number(text)) == agreement_key(text)
