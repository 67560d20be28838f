"""The staff ERP page: the upload imports a file whole or shows each row's error and changes
nothing; it needs IMPORT_INVOICES, a CSRF token and a file under the size limit; the cash
download needs EXPORT_CASH and gives the next cursor."""

from __future__ import annotations

import csv
import html
import io

import pytest
from sqlalchemy import func, select

from portal.domain.core.models import AuditEntry
from portal.domain.imports.policy import MAX_IMPORT_BYTES
from tests.support.erp import contact_row, customer_row, erp_csv, invoice_rows, table_counts
from tests.support.factories import make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from

GOOD = erp_csv(customer_row(), contact_row(), *invoice_rows())


def _client(app, db, clock, role="supervisor"):
    staff = make_staff(db, clock, role=role)
    client = app.test_client()
    staff_sign_in(client, staff, clock)
    return client


def _upload(client, data: bytes, *, csrf: str | None = None, name: str = "erp.csv"):
    page = client.get("/admin/erp")
    form = {"file": (io.BytesIO(data), name)}
    form["csrf_token"] = csrf if csrf is not None else csrf_from(page)
    return client.post("/admin/erp/import", data=form, content_type="multipart/form-data")


def _text(response) -> str:
    return html.unescape(" ".join(response.get_data(as_text=True).split()))


def test_a_supervisor_imports_a_file_and_sees_the_counts(app, db, clock):
    client = _client(app, db, clock)
    response = _upload(client, GOOD)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/erp"
    assert "erp.csv: 3 created, 0 updated, 0 unchanged." in _text(client.get("/admin/erp"))
    assert table_counts(db)["invoices"] == 1
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "erp.imported")) == 1
    _upload(client, GOOD)
    assert "0 created, 0 updated, 3 unchanged" in _text(client.get("/admin/erp"))


def test_a_bad_file_shows_each_error_with_its_line_and_imports_nothing(app, db, clock):
    client = _client(app, db, clock)
    before = table_counts(db)
    response = _upload(client, erp_csv(customer_row(), *invoice_rows(currency="XYZ"),
                                       contact_row(email="<script>alert(1)</script>")))
    text = _text(response)
    assert response.status_code == 400
    assert "The file was not imported: 2 rows have errors. Nothing was changed." in text
    assert "Line 3: invoice: currency 'XYZ' is not a currency we accept" in text
    assert "Line 5: contact: email" in text and "<script>" not in response.get_data(as_text=True)
    assert table_counts(db) == before


@pytest.mark.parametrize(("role", "status"), [("collector", 403), ("analyst", 403), ("supervisor", 200),
                                              ("admin", 200)])
def test_only_admins_and_supervisors_open_the_page(app, db, clock, role, status):
    client = _client(app, db, clock, role)
    assert client.get("/admin/erp").status_code == status
    assert client.get("/admin/erp/cash.csv").status_code == status


def test_a_collector_cannot_import(app, db, clock):
    client = _client(app, db, clock, "collector")
    token = csrf_from(client.get("/admin/"))  # the sign-out form's
    response = client.post("/admin/erp/import", data={"file": (io.BytesIO(GOOD), "erp.csv"), "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 403 and table_counts(db)["customers"] == 0


def test_an_upload_without_the_csrf_token_is_refused(app, db, clock):
    client = _client(app, db, clock)
    assert _upload(client, GOOD, csrf="not-the-token").status_code == 400
    assert table_counts(db)["customers"] == 0


def test_a_file_above_the_limit_is_refused_unread(app, db, clock):
    client = _client(app, db, clock)
    token = csrf_from(client.get("/admin/erp"))
    # The multipart body written out (in memory: the test client spools file objects to disk).
    body = (f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            '--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            'Content-Type: text/csv\r\n\r\n').encode() + GOOD + b"\r\n" * (MAX_IMPORT_BYTES // 2) + b"\r\n--b--\r\n"
    response = client.post("/admin/erp/import", data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413 and "larger than 8 MB" in _text(response)
    assert table_counts(db)["customers"] == 0


def test_no_file_is_a_clear_error(app, db, clock):
    client = _client(app, db, clock)
    page = client.get("/admin/erp")
    response = client.post("/admin/erp/import", data={"csrf_token": csrf_from(page)},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose the CSV file" in _text(response)


def test_the_cash_download_is_csv_with_the_next_cursor(app, db, clock):
    client = _client(app, db, clock)
    _upload(client, GOOD + erp_csv({"record": "credit_note", "erp_id": "N-1", "invoice_erp_id": "I-1",
                                    "number": "CN-1", "currency": "USD", "amount": "20.00"}).split(b"\r\n", 1)[1])
    response = client.get("/admin/erp/cash.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="cash-since-0-0.csv"'
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert (row["kind"], row["amount"], row["document"], row["invoice_erp_id"]) == ("credit_note", "-20.00", "CN-1",
                                                                                    "I-1")
    assert response.headers["X-Next-Cursor"] == row["cursor"]
    again = client.get("/admin/erp/cash.csv", query_string={"since": row["cursor"]})
    assert again.get_data(as_text=True).splitlines() == [again.get_data(as_text=True).splitlines()[0]]
    assert again.headers["X-Next-Cursor"] == row["cursor"]
    bad = client.get("/admin/erp/cash.csv", query_string={"since": "'; DROP TABLE payments"})
    assert bad.status_code == 400 and "A cursor looks like" in _text(bad)
