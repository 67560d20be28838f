"""`scan-pending-files`: judge the files stored while a scanner is configured (SECURITY.md U5).

For each pending file, oldest first: read its key, commit (`commit_before_outside_call`: no
transaction, and on SQLite no write lock, is held while clamd reads the file), scan, then
record the verdict in a short transaction of its own, only if the file is still pending (two
runs at once judge a file the same way; the second finds nothing left to change).

A scanner that cannot judge leaves the file pending, with the reason and the attempt counted,
and ends the run: the next run (cron, every few minutes) tries again. Fail closed: a pending
file is never served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.scanner import Scanner, ScannerUnavailable
from portal.domain.attachments.states import SCAN_TRANSITIONS, ScanStatus
from portal.domain.attachments.storage import FileStorage
from portal.domain.core.clock import Clock
from portal.domain.core.database import commit_before_outside_call

log = logging.getLogger(__name__)
DEFAULT_BATCH_SIZE = 200
MAX_DETAIL = 300


@dataclass
class ScanReport:
    clean: int = 0
    infected: int = 0
    still_pending: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = f"{self.clean} clean, {self.infected} infected, {self.still_pending} still pending"
        return "; ".join([line, *self.problems])


def scan_pending_files(
    db: Session, clock: Clock, storage: FileStorage, scanner: Scanner, *, batch_size: int = DEFAULT_BATCH_SIZE,
) -> ScanReport:
    report = ScanReport()
    pending = db.execute(
        select(StoredFile.id, StoredFile.public_id, StoredFile.storage_key)
        .where(StoredFile.scan_status == ScanStatus.PENDING)
        .order_by(StoredFile.created_at, StoredFile.id)
        .limit(batch_size)
    ).all()
    commit_before_outside_call(db)
    for index, (file_id, public_id, storage_key) in enumerate(pending):
        try:
            with storage.open(storage_key) as stream:
                verdict = scanner.scan(stream)
        except (ScannerUnavailable, OSError) as error:
            # OSError: the stored bytes could not be read (missing, permissions): no verdict either.
            _record_no_verdict(db, file_id, str(error))
            commit_before_outside_call(db)
            report.problems.append(f"could not scan {public_id}: {error}")
            log.warning("scan of stored file %s could not be made: %s", public_id, error)
            if isinstance(error, ScannerUnavailable):
                # The scanner is down: this file and the rest wait for the next run.
                report.still_pending += len(pending) - index
                break
            report.still_pending += 1
            continue
        status = SCAN_TRANSITIONS.check(
            ScanStatus.PENDING, ScanStatus.INFECTED if verdict.infected else ScanStatus.CLEAN, public_id,
        )
        changed = db.execute(
            update(StoredFile)
            .where(StoredFile.id == file_id, StoredFile.scan_status == ScanStatus.PENDING)
            .values(scan_status=status, scan_detail=verdict.signature[:MAX_DETAIL], scanned_at=clock.now(),
                    scan_attempts=StoredFile.scan_attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        commit_before_outside_call(db)
        if changed and verdict.infected:
            report.infected += 1
            log.warning("stored file %s is infected: %s", public_id, verdict.signature)
        elif changed:
            report.clean += 1
    return report


def _record_no_verdict(db: Session, file_id: int, reason: str) -> None:
    db.execute(
        update(StoredFile)
        .where(StoredFile.id == file_id, StoredFile.scan_status == ScanStatus.PENDING)
        .values(scan_detail=reason[:MAX_DETAIL], scan_attempts=StoredFile.scan_attempts + 1)
        .execution_options(synchronize_session=False)
    )
