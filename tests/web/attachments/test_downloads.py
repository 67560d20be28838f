"""Downloads (U1, U3, U5): always an attachment with an RFC 6266 name, the stored type with
nosniff, a sandboxing CSP, no caching; nothing while pending or infected.

The dispute pages own the real routes; here a route registered on the test app calls
`download_response` as they do."""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from flask import send_file
from werkzeug.http import parse_options_header

from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.queries import stored_file
from portal.domain.attachments.service import Upload, store_uploads
from portal.domain.attachments.states import ScanStatus
from portal.domain.attachments.storage import LocalDirectoryStorage
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.web.context import db as request_db
from portal.web.downloads import DOWNLOAD_CSP, download_response
from tests.support import attachment_files as files


@pytest.fixture
def storage(tmp_path):
    return LocalDirectoryStorage(tmp_path / "attachments")


@pytest.fixture
def client(make_app, storage):
    app = make_app()

    def download(public_id: str):
        return download_response(stored_file(request_db(), public_id), storage)

    app.add_url_rule("/test/files/<public_id>", "test_download", download)
    return app.test_client()


@pytest.fixture
def store(db, clock, storage):
    def store_one(name: str, data: bytes, *, status: ScanStatus | None = None) -> StoredFile:
        ctx = Context(db=db, clock=clock, actor=Actor("staff", "7"))
        [row] = store_uploads(ctx, [Upload(name, io.BytesIO(data))], storage=storage, scanner_configured=False)
        if status is not None:
            row.scan_status = status
        db.flush()
        return row

    return store_one


def get(client, row: StoredFile, **kwargs):
    # buffered: the body is read and the response closed, as a WSGI server closes it (the
    # stored file is closed with it).
    return client.get(f"/test/files/{row.public_id}", buffered=True, **kwargs)


def test_a_pdf_is_served_as_an_attachment_with_every_protective_header(client, store):
    row = store("delivery note.pdf", files.tiny_pdf())
    response = get(client, row)
    assert response.status_code == 200
    assert response.data == files.tiny_pdf()
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Length"] == str(len(files.tiny_pdf()))
    assert response.headers.getlist("Content-Disposition") == ['attachment; filename="delivery note.pdf"']
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == DOWNLOAD_CSP == "default-src 'none'; sandbox"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "ETag" not in response.headers and "Last-Modified" not in response.headers


@pytest.mark.parametrize(("name", "data", "content_type"), [
    ("lines.csv", "März;3\n".encode("latin-1"), "text/csv"),  # no charset claimed
    ("photo.jpeg", files.jpeg(), "image/jpeg"),
    ("scan.png", files.png(), "image/png"),
    ("figures.xlsx", files.xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
])
def test_each_kind_is_served_with_its_stored_type_only(client, store, name, data, content_type):
    response = get(client, store(name, data))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.data == data


def test_a_non_ascii_name_gets_an_ascii_filename_and_an_rfc5987_filename_star(client, store):
    name = "Überweisung März 請求書.pdf"
    response = get(client, store(name, files.tiny_pdf()))
    disposition = response.headers["Content-Disposition"]
    assert disposition == (
        f'attachment; filename="Uberweisung Marz .pdf"; filename*=UTF-8\'\'{quote(name, safe="!#$&+-.^_`|~")}'
    )
    assert disposition.isascii()


@pytest.mark.parametrize("raw", [
    "report\r\nSet-Cookie: portal_session=stolen\r\n.pdf",
    "report\nX-Injected: yes\n.pdf",
    "report\u202efdp.pdf",
    "../../etc/report.pdf",
    "report\x00\x1b[2J.pdf",
])
def test_hostile_names_cannot_add_a_header_or_a_path(client, store, raw):
    row = store(raw, files.tiny_pdf())
    response = get(client, row)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers and "X-Injected" not in response.headers
    [disposition] = response.headers.getlist("Content-Disposition")
    assert not any(c in disposition for c in "\r\n\x00\x1b\u202e/\\")
    assert parse_options_header(disposition) == ("attachment", {"filename": row.display_name})


def test_a_row_written_with_a_line_break_by_other_means_still_gives_a_safe_header(client, store, db):
    row = store("plain.pdf", files.tiny_pdf())
    row.display_name = 'evil"\r\nSet-Cookie: a=b.pdf'
    db.flush()
    response = get(client, row)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Content-Disposition"] == 'attachment; filename="evil_Set-Cookie_ a=b.pdf"'


def test_werkzeug_itself_refuses_a_line_break_in_a_download_name(make_app):
    """Why names are sanitised before they reach send_file: it raises (a 500) rather than
    sending a broken header."""
    app = make_app()
    with app.test_request_context("/"), pytest.raises(ValueError, match="newline"):
        send_file(io.BytesIO(b"x"), mimetype="application/pdf", as_attachment=True, download_name="a\r\nb.pdf")


@pytest.mark.parametrize(("status", "code", "message"), [
    (ScanStatus.PENDING, 409, "is still being checked for viruses"),
    (ScanStatus.INFECTED, 409, "was found to contain malware and cannot be downloaded"),
    (ScanStatus.CLEAN, 200, None),
    (ScanStatus.NOT_SCANNED, 200, None),
])
def test_only_clean_or_unscanned_files_are_served(client, store, status, code, message):
    row = store("eicar.csv", b"sku,qty\n" + files.EICAR + b"\n", status=status)
    response = get(client, row)
    assert response.status_code == code
    if message:
        assert message in response.get_data(as_text=True)
        assert "attachment" not in response.headers.get("Content-Disposition", "")
        assert files.EICAR not in response.data
        json = get(client, row, headers={"Accept": "application/json"})
        assert json.status_code == 409 and message in json.get_json()["error"]
    else:
        assert response.data.endswith(files.EICAR + b"\n")


def test_an_unknown_file_is_not_found(client):
    assert client.get("/test/files/nothing-here").status_code == 404


def test_bytes_missing_from_the_storage_are_not_found(client, store, storage):
    row = store("gone.pdf", files.tiny_pdf())
    storage.delete(row.storage_key)
    assert get(client, row).status_code == 404
