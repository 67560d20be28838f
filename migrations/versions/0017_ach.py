"""US bank account payments: the mandate accepted, the verification page, what the bank said

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01

- `bank_debits`: one row per ACH Direct Debit attempt (keyed by its payment): the mandate words
  shown and who accepted them, when and from where; Stripe's microdeposit verification page;
  the failure or return code and when the account was marked unusable.

A new table only: nothing existing is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa

from portal.domain.core.types import UTCDateTime


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_debits",
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("mandate_text", sa.Text(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("verification_url", sa.String(length=500), nullable=True),
        sa.Column("return_code", sa.String(length=80), nullable=False),
        sa.Column("returned_at", UTCDateTime(), nullable=True),
        sa.Column("unusable_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_bank_debits_contact_id_contacts")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_bank_debits_payment_id_payments")),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_bank_debits")),
    )


def downgrade() -> None:
    op.drop_table("bank_debits")
