"""API keys for the ERP's machine access to `/api/v1` (migration 0026).

A key is `erpk_<prefix>_<secret>`: the prefix is public (it names the key on the admin page
and in the audit log, and finds the row), the secret is 256 random bits shown once when the
key is made. Only the SHA-256 of the secret is stored: a copy of the database does not let
anyone call the API. Keys are never deleted: revoking one stamps `revoked_at`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.core.types import Base

PREFIX_LENGTH = 12
MAX_NAME_LENGTH = 100


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(f"length(prefix) = {PREFIX_LENGTH}", name="prefix_length"),
        CheckConstraint("length(secret_sha256) = 64", name="secret_hash_length"),
        CheckConstraint("length(scopes) > 0", name="has_scopes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(PREFIX_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    # Hex SHA-256 of the secret part; the secret itself is never stored.
    secret_sha256: Mapped[str] = mapped_column(String(64))
    # Space-separated, from `policy.SCOPES`.
    scopes: Mapped[str] = mapped_column(String(200))
    created_by_staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())
