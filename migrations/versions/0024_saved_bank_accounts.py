"""saved US bank accounts

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01

- `saved_methods` holds US bank accounts as well as cards: `method_type`, the bank's name and
  the account type Stripe reports, `verification_status` (a bank account verified by
  microdeposits waits as `pending_verification` and is never charged before, SECURITY.md P12),
  when it was verified, and the ACH mandate (Stripe's id, when it was accepted).
  `exp_month`/`exp_year` become nullable (a bank account has no expiry; a card must have one).
- `method_setups.mandate_text`: the ACH mandate words shown beside the card words.

On SQLite the `saved_methods` table is rebuilt (batch mode) to relax NOT NULL and add the
CHECKs; its two indexes are dropped first and made again after, as written in 0015.
Existing rows are cards, verified.
"""

from alembic import op
import sqlalchemy as sa
from portal.domain.core.types import UTCDateTime


revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _drop_indexes() -> None:
    op.drop_index("uq_saved_methods_default", table_name="saved_methods")
    op.drop_index("ix_saved_methods_customer", table_name="saved_methods")


def _create_indexes() -> None:
    op.create_index("ix_saved_methods_customer", "saved_methods", ["customer_id", "removed_at"], unique=False)
    op.create_index(
        "uq_saved_methods_default", "saved_methods", ["customer_id"], unique=True,
        postgresql_where=sa.text("is_default AND removed_at IS NULL"),
        sqlite_where=sa.text("is_default AND removed_at IS NULL"),
    )


def upgrade() -> None:
    op.add_column("method_setups", sa.Column("mandate_text", sa.Text(), nullable=True))
    _drop_indexes()
    with op.batch_alter_table("saved_methods", recreate="auto") as batch:
        batch.add_column(sa.Column("method_type", sa.String(length=30), server_default="card", nullable=False))
        batch.add_column(sa.Column("bank_name", sa.String(length=100), server_default="", nullable=False))
        batch.add_column(sa.Column("account_type", sa.String(length=20), server_default="", nullable=False))
        batch.add_column(sa.Column("verification_status", sa.String(length=30), server_default="verified",
                                   nullable=False))
        batch.add_column(sa.Column("verified_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("stripe_mandate_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("mandate_accepted_at", UTCDateTime(), nullable=True))
        batch.alter_column("exp_month", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("exp_year", existing_type=sa.Integer(), nullable=True)
        batch.create_check_constraint(op.f("ck_saved_methods_method_type_valid"),
                                      "method_type IN ('card', 'us_bank_account')")
        batch.create_check_constraint(op.f("ck_saved_methods_card_has_expiry"),
                                      "method_type <> 'card' OR (exp_month IS NOT NULL AND exp_year IS NOT NULL)")
        batch.create_check_constraint(op.f("ck_saved_methods_verification_status_valid"),
                                      "verification_status IN ('verified', 'pending_verification', 'failed')")
        batch.create_check_constraint(op.f("ck_saved_methods_default_is_verified"),
                                      "verification_status = 'verified' OR NOT is_default")
    _create_indexes()


def downgrade() -> None:
    # Bank accounts cannot be cards: they go with this revision (their setups stay).
    op.execute("DELETE FROM saved_methods WHERE method_type <> 'card'")
    _drop_indexes()
    with op.batch_alter_table("saved_methods", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_saved_methods_default_is_verified"), type_="check")
        batch.drop_constraint(op.f("ck_saved_methods_verification_status_valid"), type_="check")
        batch.drop_constraint(op.f("ck_saved_methods_card_has_expiry"), type_="check")
        batch.drop_constraint(op.f("ck_saved_methods_method_type_valid"), type_="check")
        batch.alter_column("exp_year", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("exp_month", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("mandate_accepted_at")
        batch.drop_column("stripe_mandate_id")
        batch.drop_column("verified_at")
        batch.drop_column("verification_status")
        batch.drop_column("account_type")
        batch.drop_column("bank_name")
        batch.drop_column("method_type")
    _create_indexes()
    op.drop_column("method_setups", "mandate_text")
