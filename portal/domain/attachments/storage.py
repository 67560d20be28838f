"""Where attachment bytes live: a small protocol (put, open, delete by key) and a local directory.

Keys are made here, from 32 random bytes (URL-safe base64, 43 characters), never from a
file's name: a name cannot choose, guess or climb out of the place its bytes are stored
(SECURITY.md U3). The local directory is outside any static folder (`portal.config` checks
it) and readable by the portal's user only. An S3-compatible store implements the same protocol.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol

KEY_BYTES = 32
_KEY = re.compile(r"[A-Za-z0-9_-]{43}")
CHUNK = 64 * 1024


class InvalidStorageKey(ValueError):
    """A key this store never made (a path, a name, anything but 43 URL-safe characters)."""


def new_storage_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


class FileStorage(Protocol):
    def put(self, key: str, source: BinaryIO) -> None:
        """Store `source` (read from its current position to its end) under `key`."""

    def open(self, key: str) -> BinaryIO:
        """The stored bytes, for reading. `FileNotFoundError` when there are none."""

    def delete(self, key: str) -> None:
        """Forget the bytes under `key`; nothing happens when there are none."""


class LocalDirectoryStorage:
    """Files under `root/<first two key characters>/<key>`, mode 0600 in 0700 directories.

    `put` writes to a temporary name in the same directory and renames it into place, so a
    reader never sees half a file and a crash leaves no file under a real key.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    @classmethod
    def from_settings(cls, settings) -> LocalDirectoryStorage:
        """From `portal.config.Settings.attachments_dir` (duck-typed: the domain does not import it)."""
        if not settings.attachments_dir:
            raise ValueError("ATTACHMENTS_DIR is not set")
        return cls(settings.attachments_dir)

    def path_for(self, key: str) -> Path:
        """The file for `key`. Only keys of the shape `new_storage_key` makes are accepted, so
        no separator or dot can reach the path; the result is checked to be inside `root` all
        the same."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InvalidStorageKey("not a storage key")
        path = (self.root / key[:2] / key).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidStorageKey("storage key outside the storage directory")
        return path

    def put(self, key: str, source: BinaryIO) -> None:
        path = self.path_for(key)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        temporary = path.with_name(f".{key}.{secrets.token_hex(4)}.part")
        # O_EXCL: never write through a file (or a link) someone put there first.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as target:
                shutil.copyfileobj(source, target, CHUNK)
                target.flush()
                os.fsync(target.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        return open(self.path_for(key), "rb")  # noqa: SIM115 - the caller closes it

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)
