"""payments.gateway_call_until: a claim on an attempt while Stripe is being called

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

No transaction stays open while Stripe answers, so a concurrent post of the same pay form can
no longer wait on the payment's row lock: it sees this claim and answers "in progress".
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy on SQLite), so the payments table keeps its triggers.
    op.add_column("payments", sa.Column("gateway_call_until", portal.domain.core.types.UTCDateTime(timezone=True),
                                        nullable=True))


def downgrade() -> None:
    op.drop_column("payments", "gateway_call_until")
