"""Standing confirmations: a reseller confirms the bank details on file for later claims (R10)

Revision ID: 10c729fe6421
Revises: e5136b617d1f
Create Date: 2026-11-28 05:16:23.921326+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "10c729fe6421"
down_revision: str | None = "e5136b617d1f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "standing_confirmations",
        sa.Column("reseller_id", sa.String(length=64), nullable=False),
        sa.Column("bank_details_ref", sa.String(length=64), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_details_ref"],
            ["bank_accounts.reference"],
            name=op.f("fk_standing_confirmations_bank_details_ref_bank_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"],
            ["resellers.id"],
            name=op.f("fk_standing_confirmations_reseller_id_resellers"),
        ),
        sa.PrimaryKeyConstraint("reseller_id", name=op.f("pk_standing_confirmations")),
    )


def downgrade() -> None:
    op.drop_table("standing_confirmations")
