"""invoices, invoice_counters, invoice_payments: a creditor's e-invoice or credit note per issued
statement, numbered per creditor without gaps, and the payments finance records on them.

Revision ID: settlement_0016
Revises: settlement_0013
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.db import Money

revision: str = "settlement_0016"
down_revision: str | None = "settlement_0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invoice_counters",
        sa.Column("seller_cvr", sa.String(8), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seller_cvr", name="pk_invoice_counters"),
    )
    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("creditor", sa.String(16), nullable=False),
        sa.Column("seller_cvr", sa.String(8), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("document_type", sa.String(16), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_dkk", Money(), nullable=False),
        sa.Column("payable_dkk", Money(), nullable=False),
        sa.Column("parties_version", sa.Integer(), nullable=False),
        sa.Column("terms_version", sa.Integer(), nullable=False),
        sa.Column("corrects", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", name="pk_invoices"),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.statement_id"], name="fk_invoices_statement_id_statements"
        ),
        sa.UniqueConstraint("seller_cvr", "sequence", name="uq_invoices_seller_cvr_sequence"),
        sa.UniqueConstraint("statement_id", "creditor", name="uq_invoices_statement_id_creditor"),
    )
    op.create_index("ix_invoices_programme", "invoices", ["programme_id", "issue_date"])
    op.create_table(
        "invoice_payments",
        sa.Column("payment_id", sa.String(36), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("programme_id", sa.String(64), nullable=False),
        sa.Column("amount_dkk", Money(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("bank_reference", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name="pk_invoice_payments"),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.invoice_id"], name="fk_invoice_payments_invoice_id_invoices"
        ),
        sa.UniqueConstraint(
            "invoice_id", "bank_reference", name="uq_invoice_payments_invoice_id_bank_reference"
        ),
    )
    op.create_index("ix_invoice_payments_invoice_id", "invoice_payments", ["invoice_id"])
    op.create_index("ix_invoice_payments_programme_id", "invoice_payments", ["programme_id"])


def downgrade() -> None:
    op.drop_table("invoice_payments")
    op.drop_table("invoices")
    op.drop_table("invoice_counters")
