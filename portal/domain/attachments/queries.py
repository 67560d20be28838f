"""Looking up stored files. Owners find their files through their own link tables; these
functions only turn ids into rows."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.attachments.models import StoredFile
from portal.domain.core.errors import NotFound


def stored_file(db: Session, public_id: str) -> StoredFile:
    """The file with this public id; `NotFound` otherwise. Whether the actor may see it is the
    owner's check, made before this."""
    found = db.scalar(select(StoredFile).where(StoredFile.public_id == public_id)) if public_id else None
    if found is None:
        raise NotFound()
    return found


def stored_files_by_id(db: Session, ids: Iterable[int]) -> dict[int, StoredFile]:
    """Rows for the given primary keys (one statement, whatever their number)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {row.id: row for row in db.scalars(select(StoredFile).where(StoredFile.id.in_(wanted)))}
