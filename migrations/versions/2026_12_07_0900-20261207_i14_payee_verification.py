"""Verification of Payee (issue 14, part 3): the bank's last answer per bank-details reference
and name checked, and the claims waiting for an operator's decision on the payee (VoP NOAP).

Revision ID: 20261207_i14_payee_verification
Revises: 20261207_i16_sign_in_throttle
Create Date: 2026-12-07 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_i14_payee_verification"
down_revision: str | None = "20261207_i16_sign_in_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payee_verifications",
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("checked_name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reference"],
            ["bank_accounts.reference"],
            name=op.f("fk_payee_verifications_reference_bank_accounts"),
        ),
        sa.PrimaryKeyConstraint("reference", "checked_name", name=op.f("pk_payee_verifications")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "awaiting_payee_decision", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_column("awaiting_payee_decision")
    op.drop_table("payee_verifications")
