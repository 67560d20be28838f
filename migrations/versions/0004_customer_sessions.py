"""customer_sessions (revocable sessions) and sign_in_link_requests (one path for every address)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

A session cookie used to be the whole session: signing out cleared it in one browser, and a
copy kept working for up to 12 hours. Each session is now a row the cookie names and every
request checks. "Email me a sign-in link" now only records a request for any address; the
outbox sender resolves it, so known and unknown addresses answer alike.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=False),
        sa.CheckConstraint("scope IN ('account', 'invoices')", name=op.f("ck_customer_sessions_scope_known")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_customer_sessions_contact_id_contacts")),
        sa.ForeignKeyConstraint(["link_id"], ["access_links.id"], name=op.f("fk_customer_sessions_link_id_access_links")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_customer_sessions_token_hash")),
    )
    op.create_index("ix_customer_sessions_contact", "customer_sessions", ["contact_id"], unique=False)
    op.create_table(
        "sign_in_link_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("next_path", sa.String(length=2000), nullable=True),
        sa.Column("requested_at", portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_link_requests")),
    )
    op.create_index("ix_sign_in_link_requests_pending", "sign_in_link_requests", ["resolved_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sign_in_link_requests_pending", table_name="sign_in_link_requests")
    op.drop_table("sign_in_link_requests")
    op.drop_index("ix_customer_sessions_contact", table_name="customer_sessions")
    op.drop_table("customer_sessions")
