"""D7, D8: offer budgets (each approval's commitment, who set or topped up a budget, claims
waiting for a top-up) and the offer's decision policy (at the deadline, or at once when
conclusive).

Revision ID: 20261207_i13_budgets
Revises: 362bf67c0c64
Create Date: 2026-12-07 06:10:39.688202+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_i13_budgets"
down_revision: str | None = "362bf67c0c64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offer_budget_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(length=320), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("amount_minor_units", sa.BigInteger(), nullable=False),
        sa.Column("budget_minor_units", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_offer_budget_changes_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_budget_changes")),
    )
    with op.batch_alter_table("offer_budget_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_offer_budget_changes_offer_id"), ["offer_id"], unique=False
        )

    op.create_table(
        "budget_commitments",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor_units", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "amount_minor_units >= 0", name=op.f("ck_budget_commitments_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_budget_commitments_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_budget_commitments_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_budget_commitments")),
    )
    with op.batch_alter_table("budget_commitments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_budget_commitments_offer_state", ["offer_id", "state"], unique=False
        )

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("awaiting_budget", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget_minor_units", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "decision_policy",
                sa.String(length=32),
                server_default="at_the_deadline",
                nullable=False,
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_offers_budget_not_negative"), "budget_minor_units >= 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_offers_budget_not_negative"), type_="check")
        batch_op.drop_column("decision_policy")
        batch_op.drop_column("budget_minor_units")

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_column("awaiting_budget")

    with op.batch_alter_table("budget_commitments", schema=None) as batch_op:
        batch_op.drop_index("ix_budget_commitments_offer_state")

    op.drop_table("budget_commitments")
    with op.batch_alter_table("offer_budget_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_budget_changes_offer_id"))

    op.drop_table("offer_budget_changes")
