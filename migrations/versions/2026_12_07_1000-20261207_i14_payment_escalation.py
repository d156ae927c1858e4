"""An ambiguous bank answer to a payout (issue 14, part 2): the claims waiting for the operators
to enter the bank's result, as the read model shows them.

Revision ID: 20261207_i14_payment_escalation
Revises: 20261207_i14_payee_verification
Create Date: 2026-12-07 10:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_i14_payment_escalation"
down_revision: str | None = "20261207_i14_payee_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "awaiting_payment_result", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_column("awaiting_payment_result")
