"""Verified reseller identities (R1), seller ids on licensing records (R8), D1 on normalised
agreement numbers for open and paid claims only

Existing resellers become pending (an operator adds their VAT id or partner id and approves
them, see docs/operators.md); their users confirm their addresses again, operators' addresses
count as confirmed. Existing records and claims get their normalised agreement number; two open
claims of one offer whose numbers differ only in case or separators (allowed before) keep their
place, the later one's key marked with its claim id, and are listed in the migration's log.

Revision ID: ba20d212a900
Revises: 10c729fe6421
Create Date: 2026-12-01 15:07:14.779529+00:00
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ba20d212a900"
down_revision: str | None = "10c729fe6421"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


log = logging.getLogger("alembic.runtime.migration")
OPEN = "status NOT IN ('REJECTED', 'CANCELLED')"


def _key(number: str) -> str:
    # cashback.domain.agreements.agreement_key as of this revision (frozen here).
    text = "".join(c if c.isascii() else "-" for c in unicodedata.normalize("NFKC", number).upper())
    return "".join(re.split(r"[^0-9A-Z]+", text))


def _fill_keys(table: str, id_column: str, scope: str | None) -> None:
    connection = op.get_bind()
    columns = f"{id_column}, agreement_number" + (f", {scope}, status" if scope else "")
    rows = connection.execute(sa.text(f"SELECT {columns} FROM {table} ORDER BY 1")).all()
    taken: set[tuple[str, str]] = set()
    for row in rows:
        key = _key(row[1])[:64]
        if scope and row[3] not in ("REJECTED", "CANCELLED"):
            if (row[2], key) in taken:
                log.warning("D1: claim %s duplicates an open claim's agreement number", row[0])
                key = f"{key[:40]}#{row[0]}"
            taken.add((row[2], key))
        connection.execute(
            sa.text(f"UPDATE {table} SET agreement_key = :key WHERE {id_column} = :id"),
            {"key": key, "id": row[0]},
        )


def upgrade() -> None:
    op.create_table(
        "email_confirmations",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_confirmations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_email_confirmations")),
    )
    with op.batch_alter_table("email_confirmations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_confirmations_user_id"), ["user_id"], unique=False
        )

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_key", sa.String(length=64), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_claims_offer_id_agreement_number"), type_="unique")
    _fill_keys("claims", "id", "offer_id")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.alter_column("agreement_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(
            "uq_claims_open_agreement",
            ["offer_id", "agreement_key"],
            unique=True,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )

    with op.batch_alter_table("licensing_agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seller_id", sa.String(length=32), nullable=True))
    _fill_keys("licensing_agreements", "agreement_number", None)
    with op.batch_alter_table("licensing_agreements", schema=None) as batch_op:
        batch_op.alter_column("agreement_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(
            batch_op.f("ix_licensing_agreements_agreement_key"), ["agreement_key"], unique=False
        )

    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vat_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("partner_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="pending", nullable=False)
        )
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.Text(), server_default="", nullable=False))
        batch_op.create_unique_constraint(batch_op.f("uq_resellers_partner_id"), ["partner_id"])
        batch_op.create_unique_constraint(batch_op.f("uq_resellers_vat_id"), ["vat_id"])
        batch_op.create_check_constraint(
            "approved_has_identifier",
            "status <> 'approved' OR vat_id IS NOT NULL OR partner_id IS NOT NULL",
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_confirmed_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE users SET email_confirmed_at = created_at WHERE role = 'operator'")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_confirmed_at")

    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.drop_constraint("approved_has_identifier", type_="check")
        batch_op.drop_constraint(batch_op.f("uq_resellers_vat_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_resellers_partner_id"), type_="unique")
        batch_op.drop_column("review_note")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("status")
        batch_op.drop_column("partner_id")
        batch_op.drop_column("vat_id")

    with op.batch_alter_table("licensing_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licensing_agreements_agreement_key"))
        batch_op.drop_column("seller_id")
        batch_op.drop_column("agreement_key")

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_claims_open_agreement",
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_claims_offer_id_agreement_number"), ["offer_id", "agreement_number"]
        )
        batch_op.drop_column("agreement_key")

    with op.batch_alter_table("email_confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_confirmations_user_id"))

    op.drop_table("email_confirmations")
