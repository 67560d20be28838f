"""store_uploads on the real schema: every file of a request checked before any is stored
(U1, U2), names sanitised and bytes under random keys (U3), memory bounded while streaming."""

from __future__ import annotations

import hashlib
import io
import tracemalloc

import pytest
from sqlalchemy import func, select

from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.policy import MB, UploadLimits, UploadRefused
from portal.domain.attachments.queries import stored_file, stored_files_by_id
from portal.domain.attachments.service import Upload, store_uploads
from portal.domain.attachments.states import ScanStatus
from portal.domain.attachments.storage import LocalDirectoryStorage
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.errors import NotFound
from tests.support import attachment_files as files


@pytest.fixture
def storage(tmp_path):
    return LocalDirectoryStorage(tmp_path / "attachments")


@pytest.fixture
def ctx(db, clock):
    return Context(db=db, clock=clock, actor=Actor("contact", "ct_public_1", "203.0.113.9"))


def upload(name: str, data: bytes) -> Upload:
    return Upload(name, io.BytesIO(data))


def stored_bytes(storage) -> list:
    return [path for path in storage.root.rglob("*") if path.is_file()]


def assert_nothing_stored(ctx, storage):
    assert stored_bytes(storage) == []
    assert ctx.db.scalar(select(func.count()).select_from(StoredFile)) == 0


def test_a_request_of_each_kind_is_stored_with_what_the_content_says(ctx, storage, clock):
    pdf, photo, sheet = files.tiny_pdf(), files.jpeg(), files.xlsx()
    rows = store_uploads(ctx, [
        upload("delivery note.pdf", pdf),
        upload("damaged pallet.JPG", photo),
        upload("counts.xlsx", sheet),
        Upload("", io.BytesIO(b"")),  # an empty file field of the form: skipped
    ], storage=storage, scanner_configured=False)
    assert [row.display_name for row in rows] == ["delivery note.pdf", "damaged pallet.JPG", "counts.xlsx"]
    assert [row.content_type for row in rows] == [
        "application/pdf", "image/jpeg", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
    assert [row.size_bytes for row in rows] == [len(pdf), len(photo), len(sheet)]
    assert [row.sha256 for row in rows] == [hashlib.sha256(data).hexdigest() for data in (pdf, photo, sheet)]
    assert {row.scan_status for row in rows} == {ScanStatus.NOT_SCANNED}
    assert {(row.uploaded_by_type, row.uploaded_by_id) for row in rows} == {("contact", "ct_public_1")}
    assert {row.created_at for row in rows} == {clock.now()}
    for row, data in zip(rows, (pdf, photo, sheet), strict=True):
        with storage.open(row.storage_key) as stream:
            assert stream.read() == data
    ctx.db.commit()
    again = stored_file(ctx.db, rows[0].public_id)
    assert again.id == rows[0].id and again.servable
    assert set(stored_files_by_id(ctx.db, [row.id for row in rows])) == {row.id for row in rows}


def test_with_a_scanner_configured_files_start_pending_and_are_not_servable(ctx, storage):
    [row] = store_uploads(ctx, [upload("lines.csv", files.CSV_TEXT)], storage=storage, scanner_configured=True)
    assert row.scan_status == ScanStatus.PENDING
    assert row.servable is False


@pytest.mark.parametrize(("bad", "message"), [
    (upload("invoice.pdf", files.HTML_PAGE), "HTML"),
    (upload("drawing.svg", files.SVG_WITH_SCRIPT), "only PDF, PNG, JPEG, CSV and XLSX"),
    (upload("drawing.png", files.SVG_WITH_SCRIPT), "Scalable Vector Graphics"),
    (upload("a.pdf.html", files.tiny_pdf()), "only PDF, PNG, JPEG, CSV and XLSX"),
    (upload("photo.pdf", files.png()), "content is a PNG image"),
    (upload("figures.xlsx", files.xlsx_bomb(20)), "zip bomb"),
    (upload("photo.png", files.png_claiming(50_000, 50_000)), "too many pixels"),
])
def test_one_refused_file_refuses_the_whole_request_and_stores_nothing(ctx, storage, bad, message):
    good = [upload("first.pdf", files.tiny_pdf()), upload("second.png", files.png())]
    with pytest.raises(UploadRefused, match=message):
        store_uploads(ctx, [*good, bad, upload("last.csv", files.CSV_TEXT)], storage=storage,
                      scanner_configured=False)
    ctx.db.commit()
    assert_nothing_stored(ctx, storage)


def test_an_oversize_file_is_refused_after_reading_one_chunk_past_the_limit(ctx, storage):
    big = files.ZeroStream(50 * MB)

    def refuse():
        with pytest.raises(UploadRefused, match="larger than 10 MB, the most a file may be"):
            store_uploads(ctx, [upload("ok.pdf", files.tiny_pdf()), Upload("big.pdf", big)], storage=storage,
                          scanner_configured=False)

    tracemalloc.start()
    try:
        refuse()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert big.read_bytes <= 10 * MB + 64 * 1024  # streamed, and given up at the limit
    assert peak < 2 * MB  # never held whole
    assert_nothing_stored(ctx, storage)


def test_a_file_exactly_at_the_limit_passes_the_size_check(ctx, storage):
    limits = UploadLimits(max_file_bytes=len(files.tiny_pdf()))
    [row] = store_uploads(ctx, [upload("exact.pdf", files.tiny_pdf())], storage=storage,
                          scanner_configured=False, limits=limits)
    assert row.size_bytes == limits.max_file_bytes
    with pytest.raises(UploadRefused, match="larger than"):
        store_uploads(ctx, [upload("over.pdf", files.tiny_pdf() + b"\n")], storage=storage,
                      scanner_configured=False, limits=limits)


def test_too_many_files_are_refused_before_any_is_read(ctx, storage):
    streams = [io.BytesIO(files.tiny_pdf()) for _ in range(11)]
    with pytest.raises(UploadRefused, match="At most 10 files can be attached at once; this had 11"):
        store_uploads(ctx, [Upload(f"note {n}.pdf", s) for n, s in enumerate(streams)], storage=storage,
                      scanner_configured=False)
    assert all(stream.tell() == 0 for stream in streams)
    assert_nothing_stored(ctx, storage)


def test_a_request_over_the_total_is_refused_though_each_file_is_within_its_limit(ctx, storage):
    # Three files of 9 MB: each under 10 MB, together over 25 MB.
    pdf = files.tiny_pdf()
    nine_mb = pdf[:-6] + b"%" + b" " * (9 * MB - len(pdf)) + b"\n%%EOF\n"
    with pytest.raises(UploadRefused, match="larger than 25 MB together"):
        store_uploads(ctx, [upload(f"part {n}.pdf", nine_mb) for n in range(3)], storage=storage,
                      scanner_configured=False)
    assert_nothing_stored(ctx, storage)
    rows = store_uploads(ctx, [upload(f"part {n}.pdf", nine_mb) for n in range(2)], storage=storage,
                         scanner_configured=False)
    assert [row.size_bytes for row in rows] == [len(nine_mb)] * 2


@pytest.mark.parametrize(("raw", "shown"), [
    ("../../x.pdf", "x.pdf"),
    ("..\\..\\boot.pdf", "boot.pdf"),
    ("report\r\nSet-Cookie: a=b\r\n.pdf", "reportSet-Cookie_ a=b.pdf"),
    ("invoice\u202efdp.pdf", "invoicefdp.pdf"),
    ("nul\x00byte.pdf", "nulbyte.pdf"),
    ("n" * 3000 + ".pdf", "n" * 146 + ".pdf"),
])
def test_hostile_names_are_stored_under_a_random_key_with_a_sanitised_name(ctx, storage, raw, shown):
    [row] = store_uploads(ctx, [upload(raw, files.tiny_pdf())], storage=storage, scanner_configured=False)
    ctx.db.commit()
    assert row.display_name == shown
    [path] = stored_bytes(storage)
    assert path.name == row.storage_key and len(row.storage_key) == 43
    assert path.parent.parent == storage.root
    # The key owes nothing to the name: the same name again gets another key.
    [again] = store_uploads(ctx, [upload(raw, files.tiny_pdf())], storage=storage, scanner_configured=False)
    assert again.display_name == shown and again.storage_key != row.storage_key


@pytest.mark.parametrize("raw", ["\u202e\u202e.pdf", "\r\n", "../..", "   "])
def test_a_name_with_nothing_left_is_refused(ctx, storage, raw):
    with pytest.raises(UploadRefused):
        store_uploads(ctx, [upload(raw, files.tiny_pdf())], storage=storage, scanner_configured=False)
    assert_nothing_stored(ctx, storage)


def test_a_failure_while_storing_removes_what_was_already_put(ctx, storage, monkeypatch):
    real_put = storage.put
    calls = []

    def failing_put(key, source):
        calls.append(key)
        if len(calls) == 2:
            raise OSError("disk full")
        real_put(key, source)

    monkeypatch.setattr(storage, "put", failing_put)
    with pytest.raises(OSError, match="disk full"):
        store_uploads(ctx, [upload("a.pdf", files.tiny_pdf()), upload("b.pdf", files.tiny_pdf())],
                      storage=storage, scanner_configured=False)
    ctx.db.rollback()
    assert_nothing_stored(ctx, storage)


def test_an_unknown_public_id_is_not_found(db):
    with pytest.raises(NotFound):
        stored_file(db, "no-such-file")
    with pytest.raises(NotFound):
        stored_file(db, "")
    assert stored_files_by_id(db, []) == {}
