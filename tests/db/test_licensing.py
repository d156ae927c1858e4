"""R3: the licences of all claims of an offer for one end customer stay within the offer's
maximum, even when claims race for the last ones; R8: the check reads the licensing records."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from activities.eligibility import (
    ClaimVerdict,
    EligibilityActivities,
    EligibilityRequest,
    LicensingRecords,
)
from cashback.db import Database, LicensingRepository, SqlLicensingRecords
from cashback.db.tables import LicenceReservation, Offer
from cashback.domain.eligibility import ClaimedAgreement, LicenceLine, LicensingRecord, Verdict
from cashback.domain.names import normalise_name
from tests.db.seed import NOW, OFFER_ID, add_claims
from tests.identities import ACME, ACME_VAT_ID

CUSTOMER = "Contoso AG"
CUSTOMER_KEY = normalise_name(CUSTOMER)


def _record(agreement_number: str, *lines: LicenceLine) -> LicensingRecord:
    return LicensingRecord(
        agreement_number=agreement_number,
        customer_name=CUSTOMER,
        customer_segment="Commercial",
        customer_country="DE",
        reseller_name="Acme Software GmbH",
        seller_id=ACME_VAT_ID,
        sale_date=NOW.date(),
        lines=lines or (LicenceLine(product="Office Pro Plus", licence_type="New", quantity=10),),
    )


def _import(database: Database, *records: LicensingRecord) -> None:
    with database.transaction() as session:
        repository = LicensingRepository(session)
        for record in records:
            repository.add_agreement(record, imported_at=NOW)


def test_r8_find_agreement_returns_the_record_with_its_lines(database: Database) -> None:
    record = _record(
        "OL-1",
        LicenceLine(product="Office Pro Plus", licence_type="New", quantity=7),
        LicenceLine(product="Visio", licence_type="Upgrade", quantity=2),
    )
    _import(database, record)
    records: LicensingRecords = SqlLicensingRecords(database)

    assert records.find_agreement("OL-1") == record
    assert records.find_agreement("OL-unknown") is None

    replaced = _record("OL-1")
    _import(database, replaced)  # an operator imports the agreement again
    assert records.find_agreement("OL-1") == replaced


def test_r3_reserving_again_replaces_the_claims_own_reservation(database: Database) -> None:
    with database.transaction() as session:
        add_claims(session, "claim-1", "claim-2")
    records = SqlLicensingRecords(database)
    seen: list[int] = []

    def hold(licences: int) -> Callable[[int], int]:
        def decide(held_by_others: int) -> int:
            seen.append(held_by_others)
            return licences

        return decide

    records.reserve_licences("claim-1", OFFER_ID, CUSTOMER_KEY, hold(30))
    records.reserve_licences("claim-1", OFFER_ID, CUSTOMER_KEY, hold(20))
    records.reserve_licences("claim-2", OFFER_ID, CUSTOMER_KEY, hold(5))

    assert seen == [0, 0, 20]  # a claim never counts against itself
    assert records.held(OFFER_ID, CUSTOMER_KEY) == 25


def test_r3_release_gives_the_licences_back_and_is_idempotent(database: Database) -> None:
    with database.transaction() as session:
        add_claims(session, "claim-1", "claim-2")
    records = SqlLicensingRecords(database)
    records.reserve_licences("claim-1", OFFER_ID, CUSTOMER_KEY, lambda _: 60)
    records.reserve_licences("claim-2", OFFER_ID, CUSTOMER_KEY, lambda _: 40)

    records.release_licences("claim-1")
    records.release_licences("claim-1")
    records.release_licences("claim-never-reserved")

    assert records.held(OFFER_ID, CUSTOMER_KEY) == 40
    with database.reading() as session:
        assert session.scalars(select(LicenceReservation.claim_id)).all() == ["claim-2"]


def test_r3_a_failing_decision_reserves_nothing(database: Database) -> None:
    with database.transaction() as session:
        add_claims(session, "claim-1")
    records = SqlLicensingRecords(database)

    def fail(_: int) -> int:
        raise RuntimeError("the verdict could not be computed")

    with pytest.raises(RuntimeError):
        records.reserve_licences("claim-1", OFFER_ID, CUSTOMER_KEY, fail)
    assert records.held(OFFER_ID, CUSTOMER_KEY) == 0


def test_r3_twenty_claims_race_for_the_last_fifty_licences_and_exactly_five_win(
    database: Database,
) -> None:
    """R3, R8: max 100 per customer, 50 already held; 20 claims of 10 licences each check
    eligibility at the same moment through the real activity: exactly 5 are eligible, and the
    customer's reservations add up to exactly 100."""
    claim_ids = [f"claim-{n:02d}" for n in range(20)]
    with database.transaction() as session:
        add_claims(session, "claim-held", *claim_ids)
    _import(database, *(_record(f"OL-{claim_id}") for claim_id in claim_ids))
    records = SqlLicensingRecords(database)
    records.reserve_licences("claim-held", OFFER_ID, CUSTOMER_KEY, lambda _: 50)
    with database.reading() as session:
        offer = session.get_one(Offer, OFFER_ID)
        criteria, limits = offer.criteria(), offer.limits()
    assert limits.max_per_customer == 100
    activities = EligibilityActivities(records)
    start = threading.Barrier(len(claim_ids))

    def check(claim_id: str) -> ClaimVerdict:
        request = EligibilityRequest(
            claim_id=claim_id,
            offer_id=OFFER_ID,
            claimed=ClaimedAgreement(
                agreement_number=f"OL-{claim_id}",
                customer_name=CUSTOMER,
                reseller_name="Acme Software GmbH",
                claimant=ACME,
            ),
            criteria=criteria,
            limits=limits,
        )
        start.wait(timeout=30)
        return activities.check_claim(request)

    with ThreadPoolExecutor(max_workers=len(claim_ids)) as pool:
        verdicts = list(pool.map(check, claim_ids))

    eligible = [v for v in verdicts if v.eligibility.verdict is Verdict.ELIGIBLE]
    assert len(eligible) == 5
    assert all(v.eligibility.eligible_licences == 10 for v in eligible)
    refused = [v for v in verdicts if v.eligibility.verdict is Verdict.INELIGIBLE]
    assert len(refused) == 15
    assert all("above_maximum_licences" in {r.code for r in v.eligibility.reasons} for v in refused)
    assert records.held(OFFER_ID, CUSTOMER_KEY) == 100


def _check(database: Database, claimed: ClaimedAgreement) -> ClaimVerdict:
    with database.reading() as session:
        offer = session.get_one(Offer, OFFER_ID)
        criteria, limits = offer.criteria(), offer.limits()
    request = EligibilityRequest(
        claim_id="claim-1", offer_id=OFFER_ID, claimed=claimed, criteria=criteria, limits=limits
    )
    return EligibilityActivities(SqlLicensingRecords(database)).check_claim(request)


def test_r8_verdicts_against_the_records_explain_themselves(database: Database) -> None:
    """R8: an agreement unknown to the records and a customer name that differs from the record
    are inconclusive (a person looks); a line outside the offer is left out with its reason."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    _import(
        database,
        _record(
            "OL-1",
            LicenceLine(product="Office Pro Plus", licence_type="New", quantity=10),
            LicenceLine(product="Flight Simulator", licence_type="New", quantity=3),
        ),
    )

    unknown = _check(database, ClaimedAgreement(
        agreement_number="OL-404", customer_name=CUSTOMER, reseller_name="Acme Software GmbH",
        claimant=ACME,
    ))  # fmt: skip
    assert unknown.eligibility.verdict is Verdict.INCONCLUSIVE
    assert [r.code for r in unknown.eligibility.reasons] == ["agreement_unknown"]
    assert "OL-404 is not in the licensing records" in unknown.eligibility.reasons[0].detail

    other_name = _check(database, ClaimedAgreement(
        agreement_number="OL-1", customer_name="Contoso Holding",
        reseller_name="Acme Software GmbH", claimant=ACME,
    ))  # fmt: skip
    assert other_name.eligibility.verdict is Verdict.INCONCLUSIVE
    codes = [r.code for r in other_name.eligibility.reasons]
    assert codes == ["line_not_eligible", "customer_name_differs"]
    assert other_name.eligibility.eligible_licences == 10
    assert other_name.sale_date == NOW.date()
    assert "Flight Simulator" in other_name.eligibility.reasons[0].detail
