"""The read model: what people read of a claim, on its row (projected by its workflow's
activities); indexes for the operators' lists. Claims already running get their projection from
their next step, or at once with `python -m api.cli project-claims`.

Revision ID: 362bf67c0c64
Revises: ba20d212a900
Create Date: 2026-12-01 15:46:09.699000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "362bf67c0c64"
down_revision: str | None = "ba20d212a900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("projected_sequence", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("review_deadline", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("verdict", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("verdict_reasons", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(sa.Column("eligible_licences", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("escalated", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("decided_by", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("final_confirmation_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("payout_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("payout_due", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("payout_overdue", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("paid_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("bank_reference", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("bank_return_code", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("outcome_reasons", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(sa.Column("bank_details_ref", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_claims_created_at", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_claims_offer_status", ["offer_id", "status", "reseller_id"], unique=False
        )
        batch_op.create_index(
            "ix_claims_status_created_at", ["status", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_claims_status_review_deadline", ["status", "review_deadline", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("ix_claims_status_review_deadline")
        batch_op.drop_index("ix_claims_status_created_at")
        batch_op.drop_index("ix_claims_offer_status")
        batch_op.drop_index("ix_claims_created_at")
        batch_op.drop_column("bank_details_ref")
        batch_op.drop_column("outcome_reasons")
        batch_op.drop_column("bank_return_code")
        batch_op.drop_column("bank_reference")
        batch_op.drop_column("paid_on")
        batch_op.drop_column("payout_overdue")
        batch_op.drop_column("payout_due")
        batch_op.drop_column("payout_date")
        batch_op.drop_column("respond_by")
        batch_op.drop_column("final_confirmation_on")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("escalated")
        batch_op.drop_column("eligible_licences")
        batch_op.drop_column("verdict_reasons")
        batch_op.drop_column("verdict")
        batch_op.drop_column("review_deadline")
        batch_op.drop_column("projected_sequence")
