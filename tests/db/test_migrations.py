"""The schema comes from the Alembic migrations, and the migrations agree with the models."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from cashback.db import make_engine, upgrade_to_head
from cashback.db.migrate import alembic_config
from cashback.db.tables import Base
from tests.db.conftest import Backend


def test_upgrade_to_head_builds_every_table_on_an_empty_database(empty_backend: Backend) -> None:
    engine = make_engine(empty_backend.url)
    try:
        assert inspect(engine).get_table_names() == []
        upgrade_to_head(empty_backend.url)
        upgrade_to_head(empty_backend.url)  # at head already: nothing to do
        tables = set(inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_backend: Backend) -> None:
    """Autogenerate finds nothing to migrate: the migrations build exactly the models' schema."""
    engine = make_engine(empty_backend.url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_the_schema(empty_backend: Backend) -> None:
    engine = make_engine(empty_backend.url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def _migrate(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _timeline_entry(connection: Connection, claim_id: str, at: str) -> None:
    """A row that refers to its claim (SQLite rebuilds the claims table under it)."""
    connection.execute(text(
        "INSERT INTO claim_timeline (claim_id, sequence, at, actor, event, reason)"
        f" VALUES ('{claim_id}', 1, '{at}', 'system', 'status_changed', '')"
    ))  # fmt: skip


def test_r1_d1_existing_resellers_wait_for_approval_and_agreement_numbers_are_normalised(
    empty_backend: Backend,
) -> None:
    """R1: the migration to verified identities leaves existing organisations pending and
    their users unconfirmed (operators count as confirmed); D1: existing claims and records get
    their normalised agreement number, and two open claims whose numbers differ only in case
    (allowed before) both stay, the later one marked, while the new rule holds from then on."""
    engine = make_engine(empty_backend.url)
    try:
        _migrate(engine, "10c729fe6421")
        at = "2026-11-30 10:00:00"
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO resellers (id, company_name, country, language, email, created_at)"
                f" VALUES ('r1', 'Acme GmbH', 'DE', 'de', 'a@acme.example', '{at}')"
            ))  # fmt: skip
            for user, reseller, role in (("a@acme.example", "'r1'", "reseller"),
                                         ("olga@program.example", "NULL", "operator")):  # fmt: skip
                connection.execute(text(
                    "INSERT INTO users (reseller_id, email, password_hash, role, created_at)"
                    f" VALUES ({reseller}, '{user}', 'x', '{role}', '{at}')"
                ))  # fmt: skip
            connection.execute(text(
                "INSERT INTO offers (id, name, sale_date_from, sale_date_to, products, "
                "licence_types, customer_segments, countries, min_per_customer, "
                "max_per_customer, claim_opens_at, claim_closes_at, rate_minor_units, currency, "
                "terms_version, created_at) VALUES ('o1', 'Offer', '2026-01-01', '2026-12-31', "
                f"'[]', '[]', '[]', '[]', 1, 10, '{at}', '2026-12-31 00:00:00', 100, 'EUR', "
                f"'v1', '{at}')"
            ))  # fmt: skip
            for claim, number, status in (("c1", "ol-1", "UNDER_REVIEW"),
                                          ("c2", "OL 1", "UNDER_REVIEW"),
                                          ("c3", "OL–1", "REJECTED")):  # fmt: skip
                connection.execute(text(
                    "INSERT INTO claims (id, workflow_id, idempotency_key, reseller_id, offer_id,"
                    " agreement_number, customer_name, reseller_name_on_agreement,"
                    " terms_accepted_version, terms_accepted_at, invoice_object_key,"
                    " invoice_sha256, status, created_at, updated_at) VALUES"
                    f" ('{claim}', 'w-{claim}', 'k-{claim}', 'r1', 'o1', '{number}', 'C',"
                    f" 'Acme GmbH', 'v1', '{at}', 'i', 's', '{status}', '{at}', '{at}')"
                ))  # fmt: skip
                _timeline_entry(connection, claim, at)
            connection.execute(text(
                "INSERT INTO licensing_agreements (agreement_number, customer_name,"
                " customer_segment, customer_country, reseller_name, sale_date, imported_at)"
                f" VALUES ('ol demo 4', 'C', 'commercial', 'DE', 'Acme GmbH', '2026-03-01', '{at}')"
            ))  # fmt: skip

        upgrade_to_head(engine)

        with engine.connect() as connection:
            organisation = connection.execute(
                text("SELECT status, vat_id, partner_id FROM resellers")
            ).one()
            assert list(organisation) == ["pending", None, None]
            confirmed: dict[str, object] = dict(
                connection.execute(text("SELECT role, email_confirmed_at FROM users")).all()
            )
            assert confirmed["reseller"] is None
            assert confirmed["operator"] is not None
            keys: dict[str, str] = dict(
                connection.execute(text("SELECT id, agreement_key FROM claims")).all()
            )
            assert keys == {"c1": "OL1", "c2": "OL1#c2", "c3": "OL1"}
            record = connection.execute(
                text("SELECT agreement_key, seller_id FROM licensing_agreements")
            ).one()
            assert list(record) == ["OLDEMO4", None]
        with pytest.raises(IntegrityError), engine.begin() as connection:  # D1 from now on
            connection.execute(text("UPDATE claims SET agreement_key = 'OL1' WHERE id = 'c2'"))
    finally:
        engine.dispose()
