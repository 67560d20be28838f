"""payments.link_id, payments.payment_token, stripe_events.payload

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02

- payments.link_id: declines are counted per invoice link as well as per contact and customer.
- payments.payment_token: the ConfirmationToken (or card token) of an attempt's first call,
  resent on every retry so Stripe's idempotency check sees the same parameters.
- stripe_events.payload: the body of a money-moving event not handled yet, kept for replay.
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch copy on SQLite), so the tables keep their triggers. link_id
    # has no foreign key for the same reason: it is only counted, never joined.
    op.add_column("payments", sa.Column("link_id", sa.Integer(), nullable=True))
    op.add_column("payments", sa.Column("payment_token", sa.String(length=255), nullable=True))
    op.add_column("stripe_events", sa.Column("payload", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("stripe_events", "payload")
    op.drop_column("payments", "payment_token")
    op.drop_column("payments", "link_id")
