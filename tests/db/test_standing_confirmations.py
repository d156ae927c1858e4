"""R10 "submit or confirm", R13: a reseller's standing confirmation of bank details on file:
given, replaced, revoked; the workflow sees a reference and the holder, people the masked IBAN."""

from __future__ import annotations

from cashback.db import BankAccounts, BankDetails, Database
from cashback.db.standing_confirmations import StandingConfirmations
from cashback.domain.payout import HolderType
from tests.db.seed import RESELLER_ID, add_reseller

KEY = bytes(range(32))
DETAILS = BankDetails(
    holder_name="Acme Software GmbH",
    holder_type=HolderType.COMPANY,
    iban="DE89 3704 0044 0532 0130 00",
)
NEWER = DETAILS.model_copy(update={"iban": "AT611904300234573201"})


def confirmations(database: Database) -> tuple[StandingConfirmations, BankAccounts]:
    with database.transaction() as session:
        add_reseller(session)
    accounts = BankAccounts(database, KEY)
    return StandingConfirmations(database, accounts), accounts


def test_r10_no_confirmation_means_none(database: Database) -> None:
    standing, _ = confirmations(database)
    assert standing.confirmed_details(RESELLER_ID) is None
    assert standing.of(RESELLER_ID) is None
    assert standing.revoke(RESELLER_ID) is False


def test_r10_r13_confirmed_details_reach_the_workflow_as_a_reference(database: Database) -> None:
    standing, accounts = confirmations(database)
    reference = accounts.store(DETAILS)
    standing.give(RESELLER_ID, reference)

    submission = standing.confirmed_details(RESELLER_ID)
    assert submission is not None
    assert submission.reference == reference
    assert (submission.holder_type, submission.holder_name) == (
        HolderType.COMPANY,
        "Acme Software GmbH",
    )
    assert "DE89" not in submission.model_dump_json()
    shown = standing.of(RESELLER_ID)
    assert shown is not None
    assert shown.masked_iban == "DE89 **** **** **** **30 00"


def test_r10_a_new_confirmation_replaces_the_old_and_revoking_ends_it(database: Database) -> None:
    standing, accounts = confirmations(database)
    standing.give(RESELLER_ID, accounts.store(DETAILS))
    newer = accounts.store(NEWER)
    standing.give(RESELLER_ID, newer)

    submission = standing.confirmed_details(RESELLER_ID)
    assert submission is not None
    assert submission.reference == newer
    assert standing.revoke(RESELLER_ID) is True
    assert standing.confirmed_details(RESELLER_ID) is None


def test_r10_r11_r12_the_final_confirmation_names_standing_details_a_claim_would_take(
    database: Database,
) -> None:
    """R10: the masked IBAN of the standing details when a claim of the company would take
    them; none when the holder is named otherwise (R11) or is an individual (R12)."""
    standing, accounts = confirmations(database)
    assert standing.masked_if_valid(RESELLER_ID, "Acme Software GmbH") is None
    standing.give(RESELLER_ID, accounts.store(DETAILS))
    assert standing.masked_if_valid(RESELLER_ID, "ACME software gmbh") == (
        "DE89 **** **** **** **30 00"
    )
    assert standing.masked_if_valid(RESELLER_ID, "Contoso Ltd") is None
    individual = DETAILS.model_copy(update={"holder_type": HolderType.INDIVIDUAL})
    standing.give(RESELLER_ID, accounts.store(individual))
    assert standing.masked_if_valid(RESELLER_ID, "Acme Software GmbH") is None
