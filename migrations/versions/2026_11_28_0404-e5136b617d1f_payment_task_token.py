"""Payments keep the task token of an activity waiting for a file-exchange answer

Revision ID: e5136b617d1f
Revises: ce2e95a57e6e
Create Date: 2026-11-28 04:04:38.814623+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5136b617d1f"
down_revision: str | None = "ce2e95a57e6e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_token", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("task_token")
