"""Payment runs (R14, D5): SEPA credit transfer files of the orders due, released by a second
operator; the bank's answers (pain.002, camt.054) imported once; payments carry their
EndToEndId, the run that holds them and an escalated reason code.

Revision ID: 20261207_i14_payment_runs
Revises: 20261207_i13_budgets
Create Date: 2026-12-07 06:25:04.524398+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_i14_payment_runs"
down_revision: str | None = "20261207_i13_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("imported_by", sa.String(length=320), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_bank_files_sha256")),
    )
    op.create_table(
        "payment_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("debtor_iban", sa.String(length=34), nullable=False),
        sa.Column("open_account", sa.String(length=34), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("execution_date", sa.Date(), nullable=False),
        sa.Column("number_of_transactions", sa.Integer(), nullable=False),
        sa.Column("control_sum_minor_units", sa.BigInteger(), nullable=False),
        sa.Column("file_key", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("claims_key", sa.String(length=255), nullable=False),
        sa.Column("claims_sha256", sa.String(length=64), nullable=False),
        sa.Column("prepared_by", sa.String(length=320), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(length=320), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "control_sum_minor_units > 0", name=op.f("ck_payment_runs_control_sum_positive")
        ),
        sa.CheckConstraint(
            "number_of_transactions > 0", name=op.f("ck_payment_runs_transactions_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_runs")),
        sa.UniqueConstraint("message_id", name=op.f("uq_payment_runs_message_id")),
        sa.UniqueConstraint("open_account", name=op.f("uq_payment_runs_open_account")),
    )
    op.create_table(
        "payment_run_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("amount_minor_units", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=8), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bank_file_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bank_file_id"],
            ["bank_files.id"],
            name=op.f("fk_payment_run_entries_bank_file_id_bank_files"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_run_entries_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["payment_runs.id"], name=op.f("fk_payment_run_entries_run_id_payment_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_run_entries")),
        sa.UniqueConstraint(
            "run_id", "payment_id", name=op.f("uq_payment_run_entries_run_id_payment_id")
        ),
    )
    with op.batch_alter_table("payment_run_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_run_entries_end_to_end_id"), ["end_to_end_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payment_run_entries_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("end_to_end_id", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("run_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("escalation_code", sa.String(length=8), nullable=True))
        batch_op.create_index(batch_op.f("ix_payments_run_id"), ["run_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_payments_end_to_end_id"), ["end_to_end_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_run_id_payment_runs"), "payment_runs", ["run_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_payments_run_id_payment_runs"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_payments_end_to_end_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_payments_run_id"))
        batch_op.drop_column("escalation_code")
        batch_op.drop_column("run_id")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("end_to_end_id")

    with op.batch_alter_table("payment_run_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_run_entries_run_id"))
        batch_op.drop_index(batch_op.f("ix_payment_run_entries_end_to_end_id"))

    op.drop_table("payment_run_entries")
    op.drop_table("payment_runs")
    op.drop_table("bank_files")
