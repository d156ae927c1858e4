"""The words people read when a rule refuses or questions something: the reasons of the seller
check (R1, R8), the refusals of identifiers (R1) and of control characters, and the refusals of
impossible arguments (D4, R9). Each is pinned whole: a reseller or an operator acts on it."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError

from cashback.domain.calendar import add_business_days
from cashback.domain.eligibility import (
    ClaimedAgreement,
    EligibilityVerdict,
    LicenceLine,
    LicensingRecord,
    Verdict,
    check_seller,
    decide_eligibility,
    sold_by_another,
)
from cashback.domain.identity import (
    Claimant,
    InvalidIdentifier,
    partner_id,
    seller_identifier,
    vat_id,
)
from cashback.domain.money import Money, cashback_amount
from cashback.domain.names import PlainText
from cashback.domain.offers import LicenceLimits, OfferCriteria

CLAIMANT = Claimant(reseller_id="r-1", legal_name="Acme GmbH", identifiers=("DE136695976",))
RECORD = LicensingRecord(
    agreement_number="OL-1001",
    customer_name="Kunde AG",
    customer_segment="commercial",
    customer_country="DE",
    reseller_name="Acme GmbH",
    sale_date=date(2026, 2, 1),
    lines=(LicenceLine(product="Office", licence_type="new", quantity=10),),
    seller_id="DE136695976",
)


def claimed(claimant: Claimant | None = CLAIMANT) -> ClaimedAgreement:
    return ClaimedAgreement(
        agreement_number="OL-1001",
        customer_name="Kunde AG",
        reseller_name="Acme GmbH",
        claimant=claimant,
    )


def test_r8_the_seller_check_reasons_in_full() -> None:
    assert check_seller(claimed(), RECORD) is None
    unknown = check_seller(claimed(), RECORD.model_copy(update={"seller_id": None}))
    assert unknown is not None
    assert (unknown.code, unknown.rule, unknown.detail) == (
        "seller_unknown",
        "R8",
        "The licensing record of agreement OL-1001 does not name the reseller that sold it; "
        "an operator must check it.",
    )
    unverified = check_seller(claimed(None), RECORD)
    assert unverified is not None
    assert (unverified.code, unverified.rule, unverified.detail) == (
        "claimant_unverified",
        "R1",
        "The claim was submitted before resellers' identities were verified; an operator must "
        "check that the claimant sold the agreement.",
    )
    another = check_seller(claimed(), RECORD.model_copy(update={"seller_id": "12345"}))
    assert another is not None
    assert (another.code, another.rule, another.detail) == (
        "sold_by_another_reseller",
        "R8",
        "According to the licensing records, agreement OL-1001 was not sold by your "
        "organisation; only the reseller that sold an agreement can claim cash back for it.",
    )


@pytest.mark.parametrize(
    ("value", "country", "message"),
    [
        ("DE1", "DE", "'DE1' is too short for a VAT id of DE"),
        (
            "DE12",  # four characters: long enough to be checked
            "DE",
            "DE12 is not a valid VAT id of DE (the number has an invalid length): check the "
            "number on your VAT registration",
        ),
        (
            "FR40303265045",
            "DE",
            "the VAT id starts with FR, but the organisation is registered in DE",
        ),
        (
            "DE136695977",
            "DE",
            "DE136695977 is not a valid VAT id of DE (the number's checksum or check digit is "
            "invalid): check the number on your VAT registration",
        ),
        ("US123", "US", "VAT ids of US cannot be checked here: register with your partner id"),
    ],
)
def test_r1_vat_id_refusals_say_why(value: str, country: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        vat_id(value, country)
    assert str(refused.value) == message


def test_r1_partner_id_refusal_says_what_a_partner_id_is() -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        partner_id("12a")
    assert str(refused.value) == "12a is not a partner id: a partner id has 5 to 10 digits"


def test_r8_seller_identifiers_greek_vat_ids_and_two_letters() -> None:
    """Greece's VAT prefix is EL, its country code GR; two letters alone are a VAT id too short
    to check, not a partner id."""
    assert seller_identifier("EL 094 259 216") == "EL094259216"
    assert vat_id("094259216", "GR") == "EL094259216"
    with pytest.raises(InvalidIdentifier) as refused:
        seller_identifier("DE")
    assert str(refused.value) == "'DE' is too short for a VAT id of DE"


def test_r8_an_empty_identifier_is_no_one() -> None:
    assert not Claimant(reseller_id="r", legal_name="A", identifiers=("",)).sold("")
    assert not Claimant(reseller_id="r", legal_name="A", identifiers=("--",)).sold(" - ")


def test_control_characters_refusal_names_them() -> None:
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(PlainText).validate_python("a\nb\tc\n")
    assert refused.value.errors()[0]["msg"] == (
        "must not contain control characters (U+000A, U+0009): line breaks, tabs and direction "
        "marks have no place in a name or an address; remove them"
    )


def test_d4_r9_impossible_arguments_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"^licences cannot be negative$"):
        cashback_amount(-1, Money(minor_units=100, currency="EUR"))
    with pytest.raises(ValueError, match=r"^business_days cannot be negative$"):
        add_business_days(date(2026, 1, 5), -1, "DE")


CRITERIA = OfferCriteria(
    sale_date_from=date(2026, 1, 1),
    sale_date_to=date(2026, 3, 31),
    products=frozenset({"OFFICE"}),
    licence_types=frozenset({"NEW"}),
    customer_segments=frozenset({"COMMERCIAL"}),
    countries=frozenset({"DE"}),
)
LIMITS = LicenceLimits(min_per_customer=5, max_per_customer=100)


def details(verdict: EligibilityVerdict) -> list[tuple[str, str, str]]:
    return [(reason.code, reason.rule, reason.detail) for reason in verdict.reasons]


def test_r8_an_unknown_agreement_is_for_an_operator() -> None:
    verdict = decide_eligibility(claimed(), None, CRITERIA, LIMITS, 0)
    assert details(verdict) == [
        (
            "agreement_unknown",
            "R8",
            "Agreement OL-1001 is not in the licensing records; an operator must check it.",
        )
    ]


def test_r2_lines_the_offer_does_not_cover_in_full() -> None:
    visio = LicenceLine(product="Visio", licence_type="new", quantity=3)
    verdict = decide_eligibility(
        claimed(), RECORD.model_copy(update={"lines": (visio,)}), CRITERIA, LIMITS, 0
    )
    assert verdict.verdict is Verdict.INELIGIBLE
    assert details(verdict) == [
        (
            "line_not_eligible",
            "R2",
            "3 × Visio (new) is not covered by the offer and is not counted.",
        ),
        ("no_eligible_licences", "R2", "No line of the agreement is covered by the offer."),
    ]


def test_r2_r3_a_failed_criterion_is_judged_on_the_criteria_alone() -> None:
    """R2: sold in France; its 3 covered licences are not counted against R3's minimum of 5, so
    no limit reason is given beside the criterion that failed."""
    record = RECORD.model_copy(
        update={
            "customer_country": "FR",
            "lines": (LicenceLine(product="Office", licence_type="new", quantity=3),),
        }
    )
    verdict = decide_eligibility(claimed(), record, CRITERIA, LIMITS, 0)
    assert (verdict.verdict, verdict.eligible_licences) == (Verdict.INELIGIBLE, 0)
    assert [reason.code for reason in verdict.reasons] == ["country_not_eligible"]


def test_r1_a_reseller_name_that_differs_from_the_registered_one_in_full() -> None:
    other = ClaimedAgreement(
        agreement_number="OL-1001",
        customer_name="Kunde AG",
        reseller_name="Acme Software AG",
        claimant=CLAIMANT,
    )
    verdict = decide_eligibility(other, RECORD, CRITERIA, LIMITS, 0)
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert details(verdict) == [
        (
            "reseller_name_differs",
            "R1",
            "The reseller name on the claim differs from your organisation's registered legal "
            "name (Acme GmbH).",
        )
    ]


def test_r8_only_a_sale_by_another_reseller_forbids_approval() -> None:
    another = decide_eligibility(
        claimed(), RECORD.model_copy(update={"seller_id": "12345"}), CRITERIA, LIMITS, 0
    )
    unknown = decide_eligibility(
        claimed(), RECORD.model_copy(update={"seller_id": None}), CRITERIA, LIMITS, 0
    )
    assert sold_by_another(another)
    assert not sold_by_another(unknown)
    assert [reason.code for reason in unknown.reasons] == ["seller_unknown"]
