"""Stored files: what was uploaded, by whom, where its bytes are, and whether it may be served.

Owners (a dispute, a staff reply) keep their own link tables to `stored_files.id`; a file knows
nothing of what it is attached to.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.attachments.policy import ALLOWED_CONTENT_TYPES
from portal.domain.attachments.states import SERVABLE, ScanStatus
from portal.domain.core.states import sql_in
from portal.domain.core.types import Base, PublicIdMixin

PENDING_SQL = sql_in("scan_status", [ScanStatus.PENDING])


def _content_types_check() -> str:
    # Our own constants (checked to be plain MIME types), never user input.
    for content_type in ALLOWED_CONTENT_TYPES:
        if not all(c.isalnum() or c in "/.+-" for c in content_type):
            raise ValueError(f"content type {content_type!r} is not plain")
    return f"content_type IN ({', '.join(repr(t) for t in sorted(ALLOWED_CONTENT_TYPES))})"


class StoredFile(PublicIdMixin, Base):
    __tablename__ = "stored_files"
    __table_args__ = (
        CheckConstraint(sql_in("scan_status", ScanStatus), name="scan_status_known"),
        CheckConstraint(_content_types_check(), name="content_type_allowed"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        # `scan-pending-files` reads the pending files oldest first.
        Index("ix_stored_files_pending", "created_at", sqlite_where=text(PENDING_SQL),
              postgresql_where=text(PENDING_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # 32 random bytes, URL-safe: where the bytes are in the storage; never derived from the name.
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    # Sanitised (policy.sanitise_display_name): no path, controls or bidi overrides.
    display_name: Mapped[str] = mapped_column(String(200))
    # Decided from the content, one of the allowlist's types.
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    scan_status: Mapped[str] = mapped_column(String(12))
    # The signature found, or why the last scan could not judge.
    scan_detail: Mapped[str] = mapped_column(String(300), default="")
    scan_attempts: Mapped[int] = mapped_column(Integer, default=0)
    scanned_at: Mapped[datetime | None]
    # Who uploaded it, as the audit log names actors: ("contact", public id), ("staff", id).
    uploaded_by_type: Mapped[str] = mapped_column(String(20))
    uploaded_by_id: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]

    @property
    def servable(self) -> bool:
        return self.scan_status in SERVABLE
