"""R13: bank details are encrypted at rest; only the masked IBAN is ever stored in the clear,
and workflows carry a reference."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import text

from cashback.claims import BankDetailsSubmission
from cashback.db import BankAccounts, BankDetails, Database, UnknownBankAccount, mask_iban
from cashback.db.bank_accounts import BankDetailsUnreadable
from cashback.domain.payout import HolderType
from tests.db.conftest import Backend

KEY = bytes(range(32))
CANARY_IBAN = "GB33BUKB20201555555555"  # a valid IBAN no other test uses
CANARY_HOLDER = "Canary Holder Kft"
DETAILS = BankDetails(
    holder_name="Acme Software GmbH",
    holder_type=HolderType.COMPANY,
    iban="DE89 3704 0044 0532 0130 00",
    bic="COBADEFFXXX",
)


def test_r13_masked_iban_is_the_only_form_shown(database: Database) -> None:
    accounts = BankAccounts(database, KEY)
    reference = accounts.store(DETAILS)

    assert accounts.masked(reference) == "DE89 **** **** **** **30 00"
    assert accounts.reveal(reference) == DETAILS.model_copy(
        update={"iban": "DE89370400440532013000"}
    )
    assert "DE89370400440532013000" not in repr(DETAILS)  # nor in logs of the model
    assert CANARY_HOLDER not in repr(DETAILS.model_copy(update={"holder_name": CANARY_HOLDER}))


def test_r13_canary_iban_never_appears_in_clear_in_the_database(
    database: Database, backend: Backend
) -> None:
    canary = BankDetails(
        holder_name=CANARY_HOLDER, holder_type=HolderType.COMPANY, iban=CANARY_IBAN, bic="BUKBGB22"
    )
    reference = BankAccounts(database, KEY).store(canary)
    forbidden = [CANARY_IBAN.encode(), CANARY_HOLDER.encode(), b"BUKBGB22"]
    forbidden += [value.hex().encode() for value in forbidden]  # bytea printed as hex

    if backend.sqlite_file is not None:
        # Pages not yet checkpointed live in the write-ahead log: read both files.
        files = [backend.sqlite_file, backend.sqlite_file.with_name("cashback.db-wal")]
        stored = b"".join(path.read_bytes() for path in files if path.exists())
    else:
        with database.reading() as session:
            stored = "\n".join(
                session.scalars(text("SELECT b::text FROM bank_accounts AS b")).all()
            ).encode()

    assert reference.encode() in stored
    assert b"GB33 **** " in stored
    for plain in forbidden:
        assert plain not in stored


def test_r13_details_open_only_with_their_key(database: Database) -> None:
    reference = BankAccounts(database, KEY).store(DETAILS)

    with pytest.raises(BankDetailsUnreadable):
        BankAccounts(database, os.urandom(32)).reveal(reference)
    with pytest.raises(BankDetailsUnreadable):
        BankAccounts(database, os.urandom(32), key_id="2").reveal(reference)
    with pytest.raises(UnknownBankAccount):
        BankAccounts(database, KEY).masked("ba_unknown")
    with pytest.raises(ValueError, match="32 bytes"):
        BankAccounts(database, b"short")


def test_r13_key_rotation_reseals_old_rows_under_the_new_key(database: Database) -> None:
    reference = BankAccounts(database, KEY, key_id="2025").store(DETAILS)
    new_key = os.urandom(32)
    rotating = BankAccounts(database, new_key, key_id="2026", retired_keys={"2025": KEY})

    assert rotating.reveal(reference) == BankAccounts(database, KEY, key_id="2025").reveal(
        reference
    )
    assert rotating.reseal() == 1
    assert rotating.reseal() == 0
    assert BankAccounts(database, new_key, key_id="2026").reveal(reference).holder_name == (
        DETAILS.holder_name
    )
    with pytest.raises(BankDetailsUnreadable):
        BankAccounts(database, KEY, key_id="2025").reveal(reference)


def test_r13_a_ciphertext_does_not_open_on_another_row(database: Database) -> None:
    accounts = BankAccounts(database, KEY)
    first, second = accounts.store(DETAILS), accounts.store(DETAILS)
    with database.transaction() as session:
        session.execute(
            text(
                "UPDATE bank_accounts SET nonce = (SELECT nonce FROM bank_accounts WHERE "
                "reference = :first), ciphertext = (SELECT ciphertext FROM bank_accounts "
                "WHERE reference = :first) WHERE reference = :second"
            ),
            {"first": first, "second": second},
        )
    with pytest.raises(BankDetailsUnreadable):
        accounts.reveal(second)


@given(st.from_regex(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}", fullmatch=True))
def test_r13_masked_iban_shows_at_most_eight_characters(iban: str) -> None:
    masked = mask_iban(iban)
    compact = masked.replace(" ", "")
    assert len(compact) == len(iban)
    assert compact[:4] == iban[:4]
    assert compact[-4:] == iban[-4:]
    assert set(compact[4:-4]) == {"*"}


def test_r13_invalid_details_are_not_repeated_in_error_messages() -> None:
    """R13: a validation error names the field, not the value the reseller typed."""
    with pytest.raises(ValidationError) as raised:
        BankDetails(holder_name=CANARY_HOLDER, holder_type=HolderType.COMPANY, iban=CANARY_IBAN * 3)
    assert "iban" in str(raised.value)
    assert CANARY_IBAN not in str(raised.value)
    with pytest.raises(ValidationError) as raised:
        BankDetailsSubmission(
            reference="", holder_type=HolderType.COMPANY, holder_name=CANARY_HOLDER
        )
    assert CANARY_HOLDER not in str(raised.value)
