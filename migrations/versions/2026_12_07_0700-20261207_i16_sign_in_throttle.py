"""The sign-in throttle in the database (issue 16): failed sign-ins per key, shared by every
API process.

Revision ID: 20261207_i16_sign_in_throttle
Revises: 20261207_i17_webhooks
Create Date: 2026-12-07 07:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_i16_sign_in_throttle"
down_revision: str | None = "20261207_i17_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        op.f("ix_sign_in_failures_last_failed_at"), "sign_in_failures", ["last_failed_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_failures_last_failed_at"), table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
