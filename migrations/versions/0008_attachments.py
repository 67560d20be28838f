"""stored_files: attachments' bytes by random key, their checked type and their scan status

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

One row per stored file: where its bytes are (a random storage key, never derived from the
name), its sanitised display name, the content type decided from its content (one of the
allowlist's five), size, SHA-256, the malware scan status (pending, clean, infected,
not_scanned) and who uploaded it. What a file is attached to is kept by its owner's own link
table. A partial index serves `scan-pending-files`, which reads the pending files oldest first.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CONTENT_TYPES = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "image/jpeg",
    "image/png",
    "text/csv",
)
PENDING = "scan_status IN ('pending')"


def upgrade() -> None:
    op.create_table(
        "stored_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=22), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("scan_status", sa.String(length=12), nullable=False),
        sa.Column("scan_detail", sa.String(length=300), nullable=False),
        sa.Column("scan_attempts", sa.Integer(), nullable=False),
        sa.Column("scanned_at", portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uploaded_by_type", sa.String(length=20), nullable=False),
        sa.Column("uploaded_by_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scan_status IN ('pending', 'clean', 'infected', 'not_scanned')",
            name=op.f("ck_stored_files_scan_status_known"),
        ),
        sa.CheckConstraint(
            f"content_type IN ({', '.join(repr(t) for t in CONTENT_TYPES)})",
            name=op.f("ck_stored_files_content_type_allowed"),
        ),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_stored_files_size_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
        sa.UniqueConstraint("public_id", name=op.f("uq_stored_files_public_id")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_stored_files_storage_key")),
    )
    op.create_index(
        "ix_stored_files_pending", "stored_files", ["created_at"], unique=False,
        sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_stored_files_pending", table_name="stored_files")
    op.drop_table("stored_files")
