"""Database errors reach the logs without the values they were about: not the statement's bound
parameters (`hide_parameters`), and not what PostgreSQL quotes from the row (`DETAIL: Key
(agreement_number)=(...)`, `Failing row contains (...)`, a data error's input). A canary customer
name is written into failing statements; it is in no log line, exception text or traceback."""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cashback.db import Database, LicensingRepository
from cashback.db.tables import LicensingAgreement
from cashback.domain.eligibility import LicenceLine, LicensingRecord
from tests.db.conftest import Backend

CANARY = "Canary Customer Zebrafinch GmbH"
AGREEMENT = "OL-CANARY-ZEBRAFINCH"
log = logging.getLogger("api.claims")  # where the API logs a claim that could not be stored


def _record() -> LicensingRecord:
    return LicensingRecord(
        agreement_number=AGREEMENT,
        customer_name=CANARY,
        customer_segment="commercial",
        customer_country="DE",
        reseller_name=CANARY,
        sale_date=datetime.now(UTC).date(),
        lines=(LicenceLine(product="Office", licence_type="new", quantity=1),),
    )


def _add_past_the_repository(database: Database, record: LicensingRecord) -> None:
    """The agreement's row inserted as it is (the repository would replace one on record)."""
    with database.transaction() as session:
        session.add(
            LicensingAgreement(
                agreement_number=record.agreement_number,
                customer_name=record.customer_name,
                customer_segment=record.customer_segment,
                customer_country=record.customer_country,
                reseller_name=record.reseller_name,
                sale_date=record.sale_date,
                imported_at=datetime.now(UTC),
            )
        )
        session.flush()


def _failures(database: Database, backend: Backend) -> list[DBAPIError]:
    """A unique violation, a NOT NULL violation and (PostgreSQL) a data error, each about the
    canary."""
    failures: list[DBAPIError] = []
    with database.transaction() as session:
        LicensingRepository(session).add_agreement(_record(), imported_at=datetime.now(UTC))
    with pytest.raises(DBAPIError) as duplicate:
        _add_past_the_repository(database, _record())
    failures.append(duplicate.value)
    with pytest.raises(DBAPIError) as missing, database.transaction() as session:
        session.execute(
            text(
                "INSERT INTO licensing_agreements (agreement_number, customer_name, "
                "reseller_name, customer_segment) VALUES (:number, :name, :name, NULL)"
            ),
            {"number": "OL-CANARY-2", "name": CANARY},
        )
    failures.append(missing.value)
    if backend.name == "postgres":
        with pytest.raises(DBAPIError) as data, database.reading() as session:
            session.execute(text("SELECT CAST(:name AS integer)"), {"name": CANARY})
        failures.append(data.value)
    return failures


def test_database_errors_are_logged_without_the_values(
    database: Database, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    failures = _failures(database, backend)
    for error in failures:
        log.error("claim %s could not be stored: %s", "c_canary", error)
        try:
            raise error
        except DBAPIError:
            log.exception("the same, with its traceback")
        shown = "".join(traceback.format_exception(error))
        assert CANARY not in shown, shown
        assert AGREEMENT not in shown, shown
        assert CANARY not in str(error.orig)
    assert len(caplog.records) == 2 * len(failures)
    assert CANARY not in caplog.text
    assert AGREEMENT not in caplog.text
    # What the errors still say is enough to act on: the kind and the constraint or column.
    assert "IntegrityError" in caplog.text
    if backend.name == "postgres":
        assert "violates" in caplog.text  # the constraint's kind and name stay
    print(*(str(error).splitlines()[0] for error in failures), sep="\n")
