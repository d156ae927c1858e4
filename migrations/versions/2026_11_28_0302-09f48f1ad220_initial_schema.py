"""Initial schema

Resellers and users, offers, licensing records, claims and their timeline, notices sent,
encrypted bank accounts, payments, licence reservations (R3).

Revision ID: 09f48f1ad220
Revises:
Create Date: 2026-11-28 03:02:14.599513+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "09f48f1ad220"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_accounts",
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("masked_iban", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_bank_accounts")),
    )
    op.create_table(
        "licensing_agreements",
        sa.Column("agreement_number", sa.String(length=64), nullable=False),
        sa.Column("customer_name", sa.String(length=255), nullable=False),
        sa.Column("customer_segment", sa.String(length=64), nullable=False),
        sa.Column("customer_country", sa.String(length=2), nullable=False),
        sa.Column("reseller_name", sa.String(length=255), nullable=False),
        sa.Column("sale_date", sa.Date(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agreement_number", name=op.f("pk_licensing_agreements")),
    )
    op.create_table(
        "offers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sale_date_from", sa.Date(), nullable=False),
        sa.Column("sale_date_to", sa.Date(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("licence_types", sa.JSON(), nullable=False),
        sa.Column("customer_segments", sa.JSON(), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("min_per_customer", sa.Integer(), nullable=False),
        sa.Column("max_per_customer", sa.Integer(), nullable=False),
        sa.Column("claim_opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rate_minor_units", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("terms_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "claim_closes_at > claim_opens_at", name=op.f("ck_offers_claim_period_ordered")
        ),
        sa.CheckConstraint(
            "max_per_customer >= min_per_customer", name=op.f("ck_offers_limits_ordered")
        ),
        sa.CheckConstraint(
            "min_per_customer >= 1", name=op.f("ck_offers_min_per_customer_positive")
        ),
        sa.CheckConstraint("rate_minor_units >= 0", name=op.f("ck_offers_rate_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    op.create_table(
        "resellers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("company_name", sa.String(length=255), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resellers")),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("reseller_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("agreement_number", sa.String(length=64), nullable=False),
        sa.Column("customer_name", sa.String(length=255), nullable=False),
        sa.Column("reseller_name_on_agreement", sa.String(length=255), nullable=False),
        sa.Column("terms_accepted_version", sa.String(length=64), nullable=False),
        sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_object_key", sa.String(length=512), nullable=False),
        sa.Column("invoice_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_minor_units", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor_units >= 0", name=op.f("ck_claims_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_claims_offer_id_offers")
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_claims_reseller_id_resellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_claims_idempotency_key")),
        sa.UniqueConstraint(
            "offer_id", "agreement_number", name=op.f("uq_claims_offer_id_agreement_number")
        ),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_claims_workflow_id")),
    )
    op.create_index(op.f("ix_claims_reseller_id"), "claims", ["reseller_id"])
    op.create_table(
        "customer_licence_locks",
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("customer_key", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_customer_licence_locks_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("offer_id", "customer_key", name=op.f("pk_customer_licence_locks")),
    )
    op.create_table(
        "licensing_agreement_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agreement_number", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=128), nullable=False),
        sa.Column("licence_type", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "quantity >= 1", name=op.f("ck_licensing_agreement_lines_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["agreement_number"],
            ["licensing_agreements.agreement_number"],
            name=op.f("fk_licensing_agreement_lines_agreement_number_licensing_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licensing_agreement_lines")),
        sa.UniqueConstraint(
            "agreement_number",
            "position",
            name=op.f("uq_licensing_agreement_lines_agreement_number_position"),
        ),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reseller_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role = 'operator' OR reseller_id IS NOT NULL",
            name=op.f("ck_users_reseller_user_has_reseller"),
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_users_reseller_id_resellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_reseller_id"), "users", ["reseller_id"])
    op.create_table(
        "claim_timeline",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_timeline_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_timeline")),
        sa.UniqueConstraint(
            "claim_id", "sequence", name=op.f("uq_claim_timeline_claim_id_sequence")
        ),
    )
    op.create_table(
        "licence_reservations",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("customer_key", sa.String(length=255), nullable=False),
        sa.Column("licences", sa.Integer(), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "licences >= 0", name=op.f("ck_licence_reservations_licences_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_licence_reservations_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_licence_reservations_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_licence_reservations")),
    )
    op.create_index(
        "ix_licence_reservations_offer_customer",
        "licence_reservations",
        ["offer_id", "customer_key"],
    )
    op.create_table(
        "notices_sent",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_notices_sent_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices_sent")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notices_sent_idempotency_key")),
    )
    op.create_index(op.f("ix_notices_sent_claim_id"), "notices_sent", ["claim_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor_units", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("bank_details_ref", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bank_reference", sa.String(length=128), nullable=True),
        sa.Column("return_code", sa.String(length=8), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_minor_units > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["bank_details_ref"],
            ["bank_accounts.reference"],
            name=op.f("fk_payments_bank_details_ref_bank_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_payments_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_idempotency_key")),
    )
    op.create_index(op.f("ix_payments_claim_id"), "payments", ["claim_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payments_claim_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_notices_sent_claim_id"), table_name="notices_sent")
    op.drop_table("notices_sent")
    op.drop_index("ix_licence_reservations_offer_customer", table_name="licence_reservations")
    op.drop_table("licence_reservations")
    op.drop_table("claim_timeline")
    op.drop_index(op.f("ix_users_reseller_id"), table_name="users")
    op.drop_table("users")
    op.drop_table("licensing_agreement_lines")
    op.drop_table("customer_licence_locks")
    op.drop_index(op.f("ix_claims_reseller_id"), table_name="claims")
    op.drop_table("claims")
    op.drop_table("resellers")
    op.drop_table("offers")
    op.drop_table("licensing_agreements")
    op.drop_table("bank_accounts")
