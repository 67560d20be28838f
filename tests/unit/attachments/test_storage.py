"""U3: bytes are kept under random keys in a directory only the portal's user can read; no
key, name or path can reach outside it."""

from __future__ import annotations

import io
import stat

import pytest

from portal.domain.attachments.storage import InvalidStorageKey, LocalDirectoryStorage, new_storage_key


def test_keys_are_32_random_bytes_url_safe():
    keys = {new_storage_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(len(key) == 43 and key.replace("-", "").replace("_", "").isalnum() for key in keys)


def test_put_open_delete_round_trip_with_restrictive_permissions(tmp_path):
    storage = LocalDirectoryStorage(tmp_path / "attachments")
    key = new_storage_key()
    storage.put(key, io.BytesIO(b"%PDF-1.4 bytes"))
    with storage.open(key) as stored:
        assert stored.read() == b"%PDF-1.4 bytes"
    path = storage.path_for(key)
    assert path.parent.parent == storage.root and path.name == key
    assert stat.S_IMODE(storage.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [key]  # no temporary file left behind
    storage.delete(key)
    storage.delete(key)  # twice is fine
    with pytest.raises(FileNotFoundError):
        storage.open(key)


def test_an_existing_directory_is_made_private(tmp_path):
    (tmp_path / "open").mkdir(mode=0o777)
    storage = LocalDirectoryStorage(tmp_path / "open")
    assert stat.S_IMODE(storage.root.stat().st_mode) == 0o700


@pytest.mark.parametrize("key", [
    "../../etc/passwd", "/etc/passwd", "..", ".", "", "a" * 42, "a" * 44, "a" * 41 + "/b",
    "a" * 41 + "..", "x.pdf", "a" * 42 + "\x00", "a" * 42 + "\n", "ä" * 43, None, 12,
])
def test_anything_but_a_key_this_store_made_is_refused(tmp_path, key):
    storage = LocalDirectoryStorage(tmp_path)
    for action in (lambda: storage.open(key), lambda: storage.delete(key), lambda: storage.put(key, io.BytesIO(b"x"))):
        with pytest.raises(InvalidStorageKey):
            action()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_put_leaves_nothing(tmp_path):
    storage = LocalDirectoryStorage(tmp_path)

    class Broken(io.BytesIO):
        def read(self, *_args):
            raise OSError("disk went away")

    key = new_storage_key()
    with pytest.raises(OSError, match="disk went away"):
        storage.put(key, Broken())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
