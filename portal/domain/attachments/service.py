"""Storing the files of one request, and opening a stored file for download.

`store_uploads` validates the whole request before it stores anything (SECURITY.md U1-U4):

1. at most `max_files` files;
2. each file is streamed in chunks to an anonymous temporary file (never read whole into
   memory), hashing as it goes, and refused as soon as it passes the per-file limit or the
   request passes its total;
3. its name is sanitised and must end with an allowed extension, and its content must be
   that kind (`inspection.inspect_content`: decided by the bytes, not the name or the
   browser's Content-Type, which is ignored);
4. only when every file passed is each one put into the storage under a new random key and
   recorded. A refusal at any step stores nothing, and a failure while storing removes what
   this call had put.

The scan is not made here: a request must not wait on (or hold a transaction across) the
scanner. With a scanner configured the files start `pending` and `scan-pending-files` judges
them after commit; until then they are not served. Without one they are `not_scanned`.

Bytes a call stored belong to rows its caller's transaction may still roll back (a later
refusal in the same request): such bytes are orphans on disk, never reachable (no row names
their random key).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO, Protocol

from portal.domain.attachments.inspection import inspect_content
from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.policy import (
    ALLOWED_CONTENT_TYPES, DEFAULT_LIMITS, FileKind, FileNotServable, UploadLimits, UploadRefused, check_counts, size_text,
    kind_for_name, sanitise_display_name,
)
from portal.domain.attachments.states import ScanStatus
from portal.domain.attachments.storage import FileStorage, new_storage_key
from portal.domain.core.context import Context
from portal.domain.core.errors import NotFound, Text
from portal.domain.core.locales import N_

log = logging.getLogger(__name__)
CHUNK = 64 * 1024


class IncomingFile(Protocol):
    """One uploaded file as the web layer has it (werkzeug's `FileStorage` is one)."""

    filename: str | None
    stream: BinaryIO


@dataclass(frozen=True)
class Upload:
    """An upload built by hand (commands, demo data, tests)."""

    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class FileStore:
    """How this deployment keeps uploads, built once by `create_app`: the storage, whether a
    scanner will judge the files (they start pending then), and the limits of one request."""

    storage: FileStorage
    scanner_configured: bool = False
    limits: UploadLimits = DEFAULT_LIMITS

    def uploads(self, files: Sequence[IncomingFile]) -> Uploads:
        return Uploads(tuple(files), self)


@dataclass(frozen=True)
class Uploads:
    """One request's files, not stored yet, and the store they go to.

    What an owner's service (a dispute, its messages) takes instead of stored rows: it checks
    its own step first (access, state, text, amounts) and calls `save` only once that step will
    happen, so a refused step writes no bytes, and a refused file (`UploadRefused` from
    `store_uploads`) refuses the whole step.
    """

    files: Sequence[IncomingFile]
    store: FileStore

    @property
    def count(self) -> int:
        """The files given (an empty file field of a form sends a part with no name: not a file)."""
        return sum(1 for incoming in self.files if incoming.filename)

    def save(self, ctx: Context) -> list[StoredFile]:
        return store_uploads(ctx, self.files, storage=self.store.storage,
                             scanner_configured=self.store.scanner_configured, limits=self.store.limits)


@dataclass
class _Staged:
    display_name: str
    kind: FileKind
    size: int
    sha256: str
    file: IO[bytes]


def store_uploads(
    ctx: Context,
    files: Sequence[IncomingFile],
    *,
    storage: FileStorage,
    scanner_configured: bool,
    limits: UploadLimits = DEFAULT_LIMITS,
    staging_dir: str | None = None,
) -> list[StoredFile]:
    """Check every file of one request, then store them all; `UploadRefused` stores none.

    Parts with no file name (an empty file field of a form) are skipped. Returns the new
    rows (flushed, in the order given); the caller links them to what they belong to.
    """
    files = [incoming for incoming in files if incoming.filename]
    check_counts(len(files), limits)
    staged: list[_Staged] = []
    try:
        total = 0
        for incoming in files:
            item = _stage(incoming, limits, limits.max_request_bytes - total, staging_dir)
            staged.append(item)
            total += item.size
            inspect_content(item.file, item.size, item.kind, item.display_name, limits)
        return _store(ctx, staged, storage, ScanStatus.PENDING if scanner_configured else ScanStatus.NOT_SCANNED)
    finally:
        for item in staged:
            item.file.close()


def _stage(incoming: IncomingFile, limits: UploadLimits, request_room: int, staging_dir: str | None) -> _Staged:
    name = sanitise_display_name(incoming.filename or "")
    if not name:
        raise UploadRefused(N_("A file's name is made only of characters that are not allowed: rename it and try "
                               "again."))
    kind = kind_for_name(name)
    target = tempfile.TemporaryFile(dir=staging_dir)
    digest = hashlib.sha256()
    size = 0
    try:
        # At most one chunk past the limit is ever read before the refusal.
        while chunk := incoming.stream.read(CHUNK):
            size += len(chunk)
            if size > limits.max_file_bytes:
                raise UploadRefused(N_("“%(name)s” is larger than %(size)s, the most a file may be."),
                                    name=name, size=size_text(limits.max_file_bytes))
            if size > request_room:
                raise UploadRefused(
                    N_("The files are larger than %(size)s together, the most one upload may carry: attach some "
                       "of them in another message."), size=size_text(limits.max_request_bytes),
                )
            digest.update(chunk)
            target.write(chunk)
        target.flush()
    except BaseException:
        target.close()
        raise
    return _Staged(display_name=name, kind=kind, size=size, sha256=digest.hexdigest(), file=target)


def _store(ctx: Context, staged: list[_Staged], storage: FileStorage, status: ScanStatus) -> list[StoredFile]:
    now = ctx.clock.now()
    put: list[str] = []
    rows: list[StoredFile] = []
    try:
        for item in staged:
            key = new_storage_key()
            item.file.seek(0)
            storage.put(key, item.file)
            put.append(key)
            row = StoredFile(
                storage_key=key, display_name=item.display_name, content_type=item.kind.content_type,
                size_bytes=item.size, sha256=item.sha256, scan_status=status, scan_detail="", scan_attempts=0,
                uploaded_by_type=ctx.actor.type, uploaded_by_id=ctx.actor.id, created_at=now,
            )
            ctx.db.add(row)
            rows.append(row)
        ctx.db.flush()
    except BaseException:
        for key in put:
            try:
                storage.delete(key)
            except OSError:  # the original error matters more; the bytes are unreachable anyway
                log.warning("could not remove a stored file after a failed upload")
        raise
    return rows


def refusal_for(stored: StoredFile) -> Text | None:
    """Why `stored` may not be downloaded now, or None when it may."""
    name = stored.display_name
    if stored.scan_status == ScanStatus.PENDING:
        return Text(N_("“%(name)s” is still being checked for viruses. Try again in a few minutes."), name=name)
    if stored.scan_status == ScanStatus.INFECTED:
        return Text(N_("“%(name)s” was found to contain malware and cannot be downloaded."), name=name)
    if not stored.servable or stored.content_type not in ALLOWED_CONTENT_TYPES:
        return Text(N_("“%(name)s” cannot be downloaded."), name=name)
    return None


def open_stored_file(storage: FileStorage, stored: StoredFile) -> BinaryIO:
    """The file's bytes for a download; `FileNotServable` while pending, when infected.

    The caller has already checked that the actor may see the file (through its own link).
    """
    refusal = refusal_for(stored)
    if refusal:
        raise FileNotServable(refusal)
    try:
        return storage.open(stored.storage_key)
    except FileNotFoundError:
        log.error("stored file %s has no bytes in the storage", stored.public_id)
        raise NotFound() from None
