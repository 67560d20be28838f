"""Uploads through a real multipart request (werkzeug's FileStorage is what routes pass to
`store_uploads`): U1 and U2 answered 400/413 with nothing stored, U3 names kept harmless, the
browser's Content-Type ignored. The dispute pages own the real upload routes."""

from __future__ import annotations

import io

import pytest
from flask import request
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.policy import MB
from portal.domain.attachments.service import store_uploads
from portal.domain.attachments.storage import LocalDirectoryStorage
from portal.domain.core.audit import Actor
from portal.web.context import request_context
from tests.support import attachment_files as files


@pytest.fixture
def storage(tmp_path):
    return LocalDirectoryStorage(tmp_path / "attachments")


@pytest.fixture
def client(make_app, storage):
    app = make_app()
    # This test app only: its one upload route stands in for the dispute pages' forms, which
    # carry their own CSRF tokens. (Exempting the view would change the shared CSRFProtect.)
    app.config["WTF_CSRF_ENABLED"] = False

    def upload():
        ctx = request_context(Actor("contact", "ct_public_1"))
        rows = store_uploads(ctx, request.files.getlist("files"), storage=storage, scanner_configured=False)
        return {"files": [[row.display_name, row.content_type] for row in rows]}

    app.add_url_rule("/test/uploads", "test_upload", upload, methods=["POST"])
    return app.test_client()


def post(client, *parts):
    # Encoded here, in memory: the test client would spool a large body to a temporary file
    # that nothing closes.
    fields = MultiDict([("files", FileStorage(stream, filename=name, content_type=content_type))
                        for stream, name, content_type in parts])
    boundary, body = encode_multipart(fields)
    return client.post("/test/uploads", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       headers={"Accept": "application/json"})


def count(db) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(StoredFile))


def stored_bytes(storage) -> list:
    return [path for path in storage.root.rglob("*") if path.is_file()]


def test_files_posted_by_a_browser_are_stored_by_their_content(client, db, storage):
    response = post(
        client,
        (io.BytesIO(files.tiny_pdf()), "delivery note.pdf", "application/pdf"),
        # The browser's word is ignored: this PNG is sent as a PDF, and stored as a PNG.
        (io.BytesIO(files.png()), "../../pallet.png", "application/pdf"),
        (io.BytesIO(files.CSV_TEXT), "short\u202evsc.csv", "text/html"),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["files"] == [
        ["delivery note.pdf", "application/pdf"], ["pallet.png", "image/png"], ["shortvsc.csv", "text/csv"]]
    assert count(db) == 3 and len(stored_bytes(storage)) == 3


@pytest.mark.parametrize(("part", "message"), [
    ((io.BytesIO(files.HTML_PAGE), "invoice.pdf", "application/pdf"), "HTML"),
    ((io.BytesIO(files.SVG_WITH_SCRIPT), "logo.svg", "image/svg+xml"), "only PDF, PNG, JPEG, CSV and XLSX"),
    ((io.BytesIO(files.tiny_pdf()), "a.pdf.html", "application/pdf"), "only PDF, PNG, JPEG, CSV and XLSX"),
    ((io.BytesIO(files.png()), "photo.pdf", "application/pdf"), "content is a PNG image"),
])
def test_a_refused_file_answers_400_with_its_reason_and_stores_nothing(client, db, storage, part, message):
    response = post(client, (io.BytesIO(files.tiny_pdf()), "fine.pdf", "application/pdf"), part)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert count(db) == 0 and stored_bytes(storage) == []


def test_eleven_files_are_refused(client, db, storage):
    parts = [(io.BytesIO(files.tiny_pdf()), f"n{n}.pdf", "application/pdf") for n in range(11)]
    response = post(client, *parts)
    assert response.status_code == 400
    assert "At most 10 files" in response.get_json()["error"]
    assert count(db) == 0 and stored_bytes(storage) == []


def test_a_request_body_over_25_mb_is_refused_with_413_before_the_view(client, db, storage):
    big = b"%PDF-1.4\n" + b" " * (9 * MB) + b"\n%%EOF\n"
    parts = [(io.BytesIO(big), f"part {n}.pdf", "application/pdf") for n in range(3)]
    response = post(client, *parts)
    assert response.status_code == 413
    assert count(db) == 0 and stored_bytes(storage) == []


def test_one_file_over_10_mb_in_a_request_under_25_mb_is_refused(client, db, storage):
    eleven = b"%PDF-1.4\n" + b" " * (11 * MB) + b"\n%%EOF\n"
    response = post(client, (io.BytesIO(files.tiny_pdf()), "fine.pdf", "application/pdf"),
                    (io.BytesIO(eleven), "scan.pdf", "application/pdf"))
    assert response.status_code == 400
    assert "“scan.pdf” is larger than 10 MB" in response.get_json()["error"]
    assert count(db) == 0 and stored_bytes(storage) == []
