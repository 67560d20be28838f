"""api keys: the ERP's credentials for /api/v1

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01

- `api_keys`: a public prefix, the SHA-256 of the secret (never the secret), a name, the
  scopes, who made it and when, when it was last used and when it was revoked.

One new table: nothing existing changes.
"""

from alembic import op
import sqlalchemy as sa
from portal.domain.core.types import UTCDateTime


revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_by_staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("length(prefix) = 12", name=op.f("ck_api_keys_prefix_length")),
        sa.CheckConstraint("length(secret_sha256) = 64", name=op.f("ck_api_keys_secret_hash_length")),
        sa.CheckConstraint("length(scopes) > 0", name=op.f("ck_api_keys_has_scopes")),
        sa.ForeignKeyConstraint(["created_by_staff_id"], ["staff_members.id"],
                                name=op.f("fk_api_keys_created_by_staff_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
