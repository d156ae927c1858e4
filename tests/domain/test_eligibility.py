"""R8: the automatic eligibility verdict against the offer's criteria (R2) and limits (R3)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain.eligibility import (
    ClaimedAgreement,
    EligibilityVerdict,
    LicenceLine,
    LicensingRecord,
    Verdict,
    check_criteria,
    check_licence_limits,
    decide_eligibility,
    eligible_licences,
)
from cashback.domain.identity import Claimant
from cashback.domain.offers import LicenceLimits, OfferCriteria

CRITERIA = OfferCriteria(
    sale_date_from=date(2026, 1, 1),
    sale_date_to=date(2026, 3, 31),
    products=frozenset({"OFFICE-STD", "VISIO"}),
    licence_types=frozenset({"OLP"}),
    customer_segments=frozenset({"COMMERCIAL", "EDUCATION"}),
    countries=frozenset({"DE", "AT"}),
)
LIMITS = LicenceLimits(min_per_customer=5, max_per_customer=100)
ACME_VAT_ID = "DE136695976"
CLAIMANT = Claimant(reseller_id="r_acme", legal_name="Acme GmbH", identifiers=(ACME_VAT_ID,))
CLAIMED = ClaimedAgreement(
    agreement_number="OL-1001",
    customer_name="Kunde AG",
    reseller_name="Acme GmbH",
    claimant=CLAIMANT,
)

limit_pairs = st.tuples(
    st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=200)
).map(lambda pair: LicenceLimits(min_per_customer=pair[0], max_per_customer=pair[0] + pair[1]))


def _record(**overrides: Any) -> LicensingRecord:
    fields: dict[str, Any] = {
        "agreement_number": "OL-1001",
        "customer_name": "Kunde AG",
        "customer_segment": "commercial",
        "customer_country": "DE",
        "reseller_name": "ACME G.m.b.H.",
        "seller_id": ACME_VAT_ID,
        "sale_date": date(2026, 2, 15),
        "lines": (LicenceLine(product="office-std", licence_type="olp", quantity=20),),
    }
    fields.update(overrides)
    return LicensingRecord.model_validate(fields)


def _codes(verdict: EligibilityVerdict) -> list[str]:
    return [reason.code for reason in verdict.reasons]


# --- R2: criteria ----------------------------------------------------------------------------


def test_r2_record_meeting_every_criterion_has_no_reasons() -> None:
    """R2: an agreement inside the window, region, segment, with covered lines: no reasons."""
    assert check_criteria(_record(), CRITERIA) == []


@pytest.mark.parametrize("sale_date", [date(2026, 1, 1), date(2026, 3, 31)])
def test_r2_sale_date_window_is_inclusive(sale_date: date) -> None:
    """R2: the first and last day of the sale-date window are inside it."""
    assert check_criteria(_record(sale_date=sale_date), CRITERIA) == []


@pytest.mark.parametrize("sale_date", [date(2025, 12, 31), date(2026, 4, 1)])
def test_r2_sale_date_outside_window(sale_date: date) -> None:
    """R2: a sale a day before or after the window fails the sale-date criterion."""
    reasons = check_criteria(_record(sale_date=sale_date), CRITERIA)
    assert [(r.code, r.rule) for r in reasons] == [("sale_date_outside_window", "R2")]


def test_r2_region_segment_and_product_criteria() -> None:
    """R2: wrong country, wrong segment and an uncovered line each give their own reason."""
    assert [r.code for r in check_criteria(_record(customer_country="FR"), CRITERIA)] == [
        "country_not_eligible"
    ]
    assert [r.code for r in check_criteria(_record(customer_segment="charity"), CRITERIA)] == [
        "segment_not_eligible"
    ]
    line = LicenceLine(product="project", licence_type="olp", quantity=3)
    assert [r.code for r in check_criteria(_record(lines=(line,)), CRITERIA)] == [
        "line_not_eligible"
    ]


def test_r2_codes_compare_case_insensitively() -> None:
    """R2: record values in other case or with stray spaces still meet the criteria."""
    record = _record(
        customer_country="de",
        customer_segment=" Education ",
        lines=(LicenceLine(product=" Visio ", licence_type="Olp", quantity=4),),
    )
    assert check_criteria(record, CRITERIA) == []
    assert eligible_licences(record, CRITERIA) == 4


def test_r2_only_covered_lines_count() -> None:
    """R2: licences count only on lines whose product AND licence type the offer covers."""
    record = _record(
        lines=(
            LicenceLine(product="office-std", licence_type="olp", quantity=20),
            LicenceLine(product="visio", licence_type="olp", quantity=7),
            LicenceLine(product="office-std", licence_type="select", quantity=50),
            LicenceLine(product="project", licence_type="olp", quantity=9),
        )
    )
    assert eligible_licences(record, CRITERIA) == 27


# --- R3: licence limits ----------------------------------------------------------------------


def test_r3_limits_examples() -> None:
    """R3: 5..100 per customer: 4 is below, 5 and 100 are inside, 101 is above."""
    assert [r.code for r in check_licence_limits(4, 0, LIMITS)] == ["below_minimum_licences"]
    assert check_licence_limits(5, 0, LIMITS) == []
    assert check_licence_limits(100, 0, LIMITS) == []
    assert [r.code for r in check_licence_limits(101, 0, LIMITS)] == ["above_maximum_licences"]


def test_r3_limits_count_all_claims_of_the_customer_together() -> None:
    """R3 [ours]: earlier claims for the same customer count: 3 more after 2 reach the minimum,
    30 more after 80 exceed the maximum, and the reason says how many are still available."""
    assert check_licence_limits(3, 2, LIMITS) == []
    reasons = check_licence_limits(30, 80, LIMITS)
    assert [(r.code, r.rule) for r in reasons] == [("above_maximum_licences", "R3")]
    assert "(20 still available)" in reasons[0].detail
    assert "(0 still available)" in check_licence_limits(1, 150, LIMITS)[0].detail


def test_r3_no_licences_gives_no_limit_reason() -> None:
    """R3: with no eligible licence there is nothing to count (the R2 reasons say why)."""
    assert check_licence_limits(0, 0, LIMITS) == []
    assert check_licence_limits(0, 500, LIMITS) == []


@settings(max_examples=200, deadline=None)
@given(
    licences=st.integers(min_value=1, max_value=400),
    already=st.integers(min_value=0, max_value=400),
    limits=limit_pairs,
)
def test_r3_total_within_limits_iff_no_reason(
    licences: int, already: int, limits: LicenceLimits
) -> None:
    """R3: the customer's total (this claim included) lies in [min, max] iff there is no reason;
    otherwise exactly one R3 reason, naming the side that was broken."""
    total = licences + already
    reasons = check_licence_limits(licences, already, limits)
    within = limits.min_per_customer <= total <= limits.max_per_customer
    assert (reasons == []) == within
    if not within:
        assert len(reasons) == 1
        assert reasons[0].rule == "R3"
        expected = (
            "below_minimum_licences"
            if total < limits.min_per_customer
            else "above_maximum_licences"
        )
        assert reasons[0].code == expected


# --- R8: the verdict -------------------------------------------------------------------------


def test_r8_eligible_claim() -> None:
    """R8: record found, criteria met, limits kept, names identical after normalising (R11)."""
    verdict = decide_eligibility(CLAIMED, _record(), CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.ELIGIBLE
    assert verdict.is_conclusive
    assert verdict.eligible_licences == 20
    assert verdict.reasons == ()


def test_r8_unknown_agreement_is_inconclusive() -> None:
    """R8, R9: an agreement missing from the licensing records needs a person."""
    verdict = decide_eligibility(CLAIMED, None, CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert not verdict.is_conclusive
    assert verdict.eligible_licences == 0
    assert [(r.code, r.rule) for r in verdict.reasons] == [("agreement_unknown", "R8")]
    assert "OL-1001" in verdict.reasons[0].detail


def test_r8_failed_criterion_is_ineligible_with_no_licences() -> None:
    """R8, R2: a sale outside the window makes the claim ineligible; nothing is counted."""
    record = _record(sale_date=date(2025, 6, 1))
    verdict = decide_eligibility(CLAIMED, record, CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.INELIGIBLE
    assert verdict.is_conclusive
    assert verdict.eligible_licences == 0
    assert _codes(verdict) == ["sale_date_outside_window"]


def test_r8_no_covered_line_is_ineligible() -> None:
    """R8, R2: an agreement whose lines the offer does not cover is ineligible."""
    record = _record(lines=(LicenceLine(product="project", licence_type="olp", quantity=30),))
    verdict = decide_eligibility(CLAIMED, record, CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.INELIGIBLE
    assert _codes(verdict) == ["line_not_eligible", "no_eligible_licences"]


def test_r8_uncovered_lines_are_reported_but_do_not_fail_the_claim() -> None:
    """R8, R2: covered lines count, uncovered ones are only reported."""
    record = _record(
        lines=(
            LicenceLine(product="office-std", licence_type="olp", quantity=20),
            LicenceLine(product="project", licence_type="olp", quantity=9),
        )
    )
    verdict = decide_eligibility(CLAIMED, record, CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.ELIGIBLE
    assert verdict.eligible_licences == 20
    assert _codes(verdict) == ["line_not_eligible"]


@pytest.mark.parametrize(
    ("already", "code"), [(0, "below_minimum_licences"), (97, "above_maximum_licences")]
)
def test_r8_r3_limits_broken_is_ineligible(already: int, code: str) -> None:
    """R8, R3: 4 licences alone are below the minimum of 5; after 97 others they exceed 100."""
    record = _record(lines=(LicenceLine(product="visio", licence_type="olp", quantity=4),))
    verdict = decide_eligibility(CLAIMED, record, CRITERIA, LIMITS, already_claimed=already)
    assert verdict.verdict is Verdict.INELIGIBLE
    assert verdict.eligible_licences == 0
    assert _codes(verdict) == [code]


@pytest.mark.parametrize(
    ("claimed", "code", "rule"),
    [
        (
            CLAIMED.model_copy(update={"customer_name": "Andere AG"}),
            "customer_name_differs",
            "R8",
        ),
        (CLAIMED.model_copy(update={"reseller_name": "Acme AG"}), "reseller_name_differs", "R1"),
    ],
)
def test_r8_names_differing_from_the_record_are_inconclusive(
    claimed: ClaimedAgreement, code: str, rule: str
) -> None:
    """R8, R1: a claim whose customer name differs from the record, or whose typed reseller
    name differs from the claimant's registered legal name, needs a person (never an automatic
    approval); the licences it would carry are still reported."""
    verdict = decide_eligibility(claimed, _record(), CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert not verdict.is_conclusive
    assert verdict.eligible_licences == 20
    assert [(r.code, r.rule) for r in verdict.reasons] == [(code, rule)]


def test_r8_r1_the_typed_reseller_name_is_no_identity() -> None:
    """R1, R8: typing the record's reseller name does not make the claimant its seller: the
    record names another seller, so the claim is ineligible."""
    other = Claimant(reseller_id="r_other", legal_name="Acme GmbH", identifiers=("DE129273398",))
    claimed = CLAIMED.model_copy(update={"claimant": other})
    verdict = decide_eligibility(claimed, _record(), CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.INELIGIBLE
    assert _codes(verdict) == ["sold_by_another_reseller"]


def test_r8_an_agreement_sold_by_another_reseller_is_judged_on_that_alone() -> None:
    """R8: an agreement sold by someone else is ineligible with that one reason, which names
    no one and tells nothing of the record (customer, reseller, seller id), even when the
    record would fail criteria too; no licence is counted."""
    record = _record(seller_id="DE129273398", customer_name="Geheim AG", customer_country="FR")
    claimed = CLAIMED.model_copy(update={"customer_name": "Geheim AG"})
    verdict = decide_eligibility(claimed, record, CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.INELIGIBLE
    assert verdict.eligible_licences == 0
    assert [(r.code, r.rule) for r in verdict.reasons] == [("sold_by_another_reseller", "R8")]
    detail = verdict.reasons[0].detail
    for secret in ("Geheim", "ACME", "129273398", "FR"):
        assert secret not in detail


@pytest.mark.parametrize("written", ["DE136695976", "de 136 695 976", "DE-136.695.976"])
def test_r8_the_seller_id_matches_however_it_is_written(written: str) -> None:
    """R8: the record's seller id is compared in its canonical form."""
    verdict = decide_eligibility(
        CLAIMED, _record(seller_id=written), CRITERIA, LIMITS, already_claimed=0
    )
    assert verdict.verdict is Verdict.ELIGIBLE


def test_r8_a_partner_id_identifies_the_seller_too() -> None:
    """R1, R8: a record may name the seller by the program's partner id."""
    claimant = CLAIMANT.model_copy(update={"identifiers": (ACME_VAT_ID, "4711042")})
    claimed = CLAIMED.model_copy(update={"claimant": claimant})
    verdict = decide_eligibility(
        claimed, _record(seller_id="4711042"), CRITERIA, LIMITS, already_claimed=0
    )
    assert verdict.verdict is Verdict.ELIGIBLE


@pytest.mark.parametrize(
    ("claimed", "record", "code"),
    [
        (CLAIMED, _record(seller_id=None), "seller_unknown"),
        (CLAIMED.model_copy(update={"claimant": None}), _record(), "claimant_unverified"),
    ],
)
def test_r8_r1_when_the_seller_cannot_be_told_a_person_looks(
    claimed: ClaimedAgreement, record: LicensingRecord, code: str
) -> None:
    """R8, R1: a record without a seller id, or a claim submitted before identities were
    verified, is inconclusive: never approved automatically."""
    verdict = decide_eligibility(claimed, record, CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert _codes(verdict) == [code]


@settings(max_examples=200, deadline=None)
@given(
    own=st.lists(st.from_regex(r"[0-9]{5,10}", fullmatch=True), max_size=2),
    seller=st.from_regex(r"[0-9]{5,10}", fullmatch=True),
    typed=st.sampled_from(["Acme GmbH", "ACME G.m.b.H.", "Someone Else AG"]),
)
def test_r8_never_eligible_unless_the_claimant_sold_it(
    own: list[str], seller: str, typed: str
) -> None:
    """R8, R1: whatever names are typed, a claim is ELIGIBLE only when the record's seller id
    is one of the claimant's verified identifiers."""
    claimant = CLAIMANT.model_copy(update={"identifiers": tuple(own)})
    claimed = CLAIMED.model_copy(update={"claimant": claimant, "reseller_name": typed})
    verdict = decide_eligibility(
        claimed, _record(seller_id=seller), CRITERIA, LIMITS, already_claimed=0
    )
    if verdict.verdict is Verdict.ELIGIBLE:
        assert seller in own


def test_r8_ineligible_wins_over_name_differences() -> None:
    """R8: a claim that fails a criterion is ineligible, even if its names also differ."""
    claimed = CLAIMED.model_copy(update={"customer_name": "Andere AG"})
    record = _record(customer_country="FR")
    verdict = decide_eligibility(claimed, record, CRITERIA, LIMITS, already_claimed=0)
    assert verdict.verdict is Verdict.INELIGIBLE
    assert _codes(verdict) == ["country_not_eligible"]


@settings(max_examples=200, deadline=None)
@given(
    quantities=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=4),
    covered=st.lists(st.booleans(), min_size=4, max_size=4),
    already=st.integers(min_value=0, max_value=150),
    limits=limit_pairs,
    in_region=st.booleans(),
)
def test_r8_r3_verdict_is_consistent_with_the_limits(
    quantities: list[int],
    covered: list[bool],
    already: int,
    limits: LicenceLimits,
    in_region: bool,
) -> None:
    """R8, R2, R3: ELIGIBLE exactly when the criteria hold, some licence is covered and the total
    lies within the limits; an ineligible verdict always says why and counts no licence."""
    lines = tuple(
        LicenceLine(
            product="visio" if covered[i] else "project", licence_type="olp", quantity=quantity
        )
        for i, quantity in enumerate(quantities)
    )
    record = _record(lines=lines, customer_country="AT" if in_region else "US")
    verdict = decide_eligibility(CLAIMED, record, CRITERIA, limits, already_claimed=already)
    licences = sum(q for q, c in zip(quantities, covered, strict=False) if c)
    within = limits.min_per_customer <= licences + already <= limits.max_per_customer
    if in_region and licences > 0 and within:
        assert verdict.verdict is Verdict.ELIGIBLE
        assert verdict.eligible_licences == licences
    else:
        assert verdict.verdict is Verdict.INELIGIBLE
        assert verdict.eligible_licences == 0
        assert verdict.reasons
    assert all(reason.rule in {"R2", "R3", "R8"} for reason in verdict.reasons)
