"""What claims in flight rely on in the domain's models: they cannot change after they were
taken (frozen), their wire values stay, and their bounds are where the rules put them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import cashback.domain
from cashback.domain.eligibility import (
    LicenceLine,
    LicensingRecord,
    Verdict,
    check_criteria,
)
from cashback.domain.offers import LicenceLimits, OfferCriteria
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.policy import ProgramPolicy
from cashback.domain.reseller import Language


def domain_models() -> list[type[BaseModel]]:
    """Every pydantic model defined in cashback/domain/."""
    found: list[type[BaseModel]] = []
    for module_info in pkgutil.iter_modules(cashback.domain.__path__):
        module = importlib.import_module(f"cashback.domain.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseModel) and cls.__module__ == module.__name__:
                found.append(cls)
    return sorted(found, key=lambda cls: cls.__qualname__)


def test_the_domain_has_the_models_this_file_guards() -> None:
    assert {cls.__name__ for cls in domain_models()} >= {
        "Claimant",
        "ClaimPeriod",
        "ClaimedAgreement",
        "EligibilityVerdict",
        "LicenceLimits",
        "LicenceLine",
        "LicensingRecord",
        "Money",
        "OfferCriteria",
        "ProgramPolicy",
        "Reason",
        "ResellerSnapshot",
    }


@pytest.mark.parametrize("model", domain_models(), ids=lambda cls: cls.__name__)
def test_d3_domain_models_are_frozen(model: type[BaseModel]) -> None:
    """A claim's snapshot (offer, reseller, policy, records, verdict) is what it was when taken:
    no field of a domain model can be assigned afterwards."""
    instance = model.model_construct()
    field = next(iter(model.model_fields))
    with pytest.raises(ValidationError, match="frozen"):
        setattr(instance, field, None)


def test_wire_values_of_verdicts_and_bank_detail_judgements() -> None:
    """R8, R11, R12: stored in histories and rows, shown to operators."""
    assert [v.value for v in Verdict] == ["eligible", "ineligible", "inconclusive"]
    assert [j.value for j in BankDetailsJudgement] == [
        "valid",
        "individual_account",
        "name_mismatch",
    ]
    assert [h.value for h in HolderType] == ["company", "individual"]
    assert [lang.value for lang in Language] == ["de", "en"]


def test_r2_a_licence_line_has_at_least_one_licence() -> None:
    assert LicenceLine(product="Office", licence_type="new", quantity=1).quantity == 1
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        LicenceLine(product="Office", licence_type="new", quantity=0)


@pytest.mark.parametrize("field", ["min_per_customer", "max_per_customer"])
def test_r3_licence_limits_are_bounded_above_by_a_billion(field: str) -> None:
    limits: dict[str, Any] = {"min_per_customer": 1, "max_per_customer": 10**9}
    assert getattr(LicenceLimits(**(limits | {field: 10**9})), field) == 10**9
    with pytest.raises(ValidationError, match="less than or equal to 1000000000"):
        LicenceLimits(**(limits | {field: 10**9 + 1}))


def test_policy_time_scale_may_shorten_but_never_stretch_the_program() -> None:
    assert ProgramPolicy(time_scale=1).time_scale == 1
    assert ProgramPolicy(time_scale=0.001).time_scale == 0.001
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        ProgramPolicy(time_scale=1.001)
    with pytest.raises(ValidationError, match="greater than 0"):
        ProgramPolicy(time_scale=0)


def test_r2_every_criterion_reason_names_rule_r2() -> None:
    """R2: the reasons of an agreement that fails every criterion, each with its rule tag."""
    record = LicensingRecord(
        agreement_number="OL-1",
        customer_name="Kunde AG",
        customer_segment="government",
        customer_country="FR",
        reseller_name="Acme GmbH",
        sale_date=date(2025, 1, 1),
        lines=(LicenceLine(product="Visio", licence_type="upgrade", quantity=3),),
    )
    criteria = OfferCriteria(
        sale_date_from=date(2026, 1, 1),
        sale_date_to=date(2026, 3, 31),
        products=frozenset({"OFFICE"}),
        licence_types=frozenset({"new"}),
        customer_segments=frozenset({"commercial"}),
        countries=frozenset({"DE"}),
    )
    assert [(r.code, r.rule) for r in check_criteria(record, criteria)] == [
        ("sale_date_outside_window", "R2"),
        ("country_not_eligible", "R2"),
        ("segment_not_eligible", "R2"),
        ("line_not_eligible", "R2"),
    ]
