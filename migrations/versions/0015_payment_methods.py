"""payment methods: each customer's Stripe Customer, card setups with their consent, saved cards

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

- `stripe_customers`: the Stripe Customer of a portal customer, one each (created once,
  idempotently, on the first save).
- `method_setups`: one row per "save a card" attempt: its SetupIntent, its idempotency key
  (saved before the call) and the consent given (words shown, contact, time, IP, user agent).
- `saved_methods`: the cards saved for off-session use, one per Stripe PaymentMethod; at most
  one default per customer among those not removed (a partial unique index).

New tables only: nothing existing is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa

from portal.domain.core.types import UTCDateTime


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_customers",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_stripe_customers_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_stripe_customers")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_stripe_customers_stripe_customer_id")),
    )
    op.create_table(
        "method_setups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("stripe_setup_intent_id", sa.String(length=255), nullable=True),
        sa.Column("client_secret", sa.String(length=255), nullable=True),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("public_id", sa.String(length=22), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_method_setups_contact_id_contacts")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_method_setups_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_method_setups")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_method_setups_idempotency_key")),
        sa.UniqueConstraint("public_id", name=op.f("uq_method_setups_public_id")),
        sa.UniqueConstraint("stripe_setup_intent_id", name=op.f("uq_method_setups_stripe_setup_intent_id")),
    )
    op.create_index("ix_method_setups_customer_created", "method_setups", ["customer_id", "created_at"], unique=False)
    op.create_table(
        "saved_methods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("setup_id", sa.Integer(), nullable=False),
        sa.Column("stripe_payment_method_id", sa.String(length=255), nullable=False),
        sa.Column("brand", sa.String(length=20), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("saved_by_contact_id", sa.Integer(), nullable=False),
        sa.Column("saved_at", UTCDateTime(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.Column("removed_by_contact_id", sa.Integer(), nullable=True),
        sa.Column("public_id", sa.String(length=22), nullable=False),
        sa.CheckConstraint("exp_month BETWEEN 1 AND 12", name=op.f("ck_saved_methods_exp_month_valid")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_saved_methods_customer_id_customers")),
        sa.ForeignKeyConstraint(["removed_by_contact_id"], ["contacts.id"],
                                name=op.f("fk_saved_methods_removed_by_contact_id_contacts")),
        sa.ForeignKeyConstraint(["saved_by_contact_id"], ["contacts.id"],
                                name=op.f("fk_saved_methods_saved_by_contact_id_contacts")),
        sa.ForeignKeyConstraint(["setup_id"], ["method_setups.id"], name=op.f("fk_saved_methods_setup_id_method_setups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_methods")),
        sa.UniqueConstraint("public_id", name=op.f("uq_saved_methods_public_id")),
        sa.UniqueConstraint("setup_id", name=op.f("uq_saved_methods_setup_id")),
        sa.UniqueConstraint("stripe_payment_method_id", name=op.f("uq_saved_methods_stripe_payment_method_id")),
    )
    op.create_index("ix_saved_methods_customer", "saved_methods", ["customer_id", "removed_at"], unique=False)
    op.create_index(
        "uq_saved_methods_default", "saved_methods", ["customer_id"], unique=True,
        postgresql_where=sa.text("is_default AND removed_at IS NULL"),
        sqlite_where=sa.text("is_default AND removed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_saved_methods_default", table_name="saved_methods")
    op.drop_index("ix_saved_methods_customer", table_name="saved_methods")
    op.drop_table("saved_methods")
    op.drop_index("ix_method_setups_customer_created", table_name="method_setups")
    op.drop_table("method_setups")
    op.drop_table("stripe_customers")
