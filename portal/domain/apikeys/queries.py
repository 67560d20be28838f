"""The admin page's list of API keys (never their secrets: only hashes are stored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.apikeys.models import ApiKey
from portal.domain.staff.models import StaffMember


@dataclass(frozen=True)
class ApiKeyRow:
    prefix: str
    name: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def api_key_list(db: Session) -> list[ApiKeyRow]:
    rows = db.execute(select(ApiKey, StaffMember.name).join(StaffMember, StaffMember.id == ApiKey.created_by_staff_id)
                      .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc()))
    return [ApiKeyRow(key.prefix, key.name, key.scopes.split(), staff_name, key.created_at, key.last_used_at,
                      key.revoked_at) for key, staff_name in rows]
