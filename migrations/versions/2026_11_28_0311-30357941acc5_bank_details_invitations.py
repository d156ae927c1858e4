"""Bank details invitations: one-time, expiring links to the secure page (R13)

Revision ID: 30357941acc5
Revises: 09f48f1ad220
Create Date: 2026-11-28 03:11:44.936323+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "30357941acc5"
down_revision: str | None = "09f48f1ad220"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_details_invitations",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("notice_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_bank_details_invitations_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_bank_details_invitations")),
    )
    with op.batch_alter_table("bank_details_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_details_invitations_claim_id"), ["claim_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_details_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_details_invitations_claim_id"))

    op.drop_table("bank_details_invitations")
