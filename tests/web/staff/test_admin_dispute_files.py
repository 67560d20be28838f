"""Files on the staff dispute page: a reply's and a question's reach the customer, an internal
note's stay staff-only; a refused file changes nothing; every file of the dispute downloads at
`/admin/disputes/<id>/files/<file id>` for whoever may view disputes, as an attachment."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.states import ScanStatus
from portal.domain.disputes import service
from portal.domain.disputes.models import DisputeAttachment, DisputeMessage
from portal.domain.staff.states import StaffRole
from portal.web.downloads import DOWNLOAD_CSP
from tests.support import attachment_files as files
from tests.support.attachment_files import multipart
from tests.support.disputes import contact_access, contact_context, raise_test_dispute, uploads
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, sign_in, staff_sign_in
from tests.support.fixtures.links import csrf_from

PDF = files.tiny_pdf()


@pytest.fixture
def case(db, clock, file_storage):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    dispute = raise_test_dispute(db, clock, clerk, [make_invoice(db, clock, customer, number="INV-100")],
                                 files=uploads(file_storage, ("claim photo.png", files.png())))
    db.commit()
    return {"ana": make_staff(db, clock, name="Ana Pereira"), "clerk": clerk, "dispute": dispute}


def _post(client, dispute, action: str, body: str, named_files=()):
    token = csrf_from(client.get(f"/admin/disputes/{dispute.public_id}"))
    return client.post(f"/admin/disputes/{dispute.public_id}/{action}",
                       **multipart([("csrf_token", token), ("body", body)], named_files))


def _state(db, storage) -> tuple[int, ...]:
    db.commit()
    return (db.scalar(select(func.count()).select_from(DisputeMessage)),
            db.scalar(select(func.count()).select_from(DisputeAttachment)),
            db.scalar(select(func.count()).select_from(StoredFile)),
            sum(1 for path in storage.root.rglob("*") if path.is_file()))


def _file(db, name: str) -> StoredFile:
    db.commit()
    return db.scalar(select(StoredFile).where(StoredFile.display_name == name))


def _admin_links(html: str) -> dict[str, str]:
    return {name: href for href, name in re.findall(r'<a href="(/admin/disputes/[^"]+/files/[^"]+)">([^<]+)</a>', html)}


def test_reply_question_and_note_carry_files_and_only_the_notes_stay_with_staff(app, client, db, clock, case):
    dispute = case["dispute"]
    staff_sign_in(client, case["ana"], clock)
    assert _post(client, dispute, "reply", "", [("price list.pdf", PDF)]).status_code == 303
    assert _post(client, dispute, "note", "", [("margins.csv", files.CSV_TEXT)]).status_code == 303
    assert _post(client, dispute, "request-information", "Fill in this sheet, please.",
                 [("counts.xlsx", files.xlsx())]).status_code == 303

    staff_page = client.get(f"/admin/disputes/{dispute.public_id}").get_data(as_text=True)
    assert set(_admin_links(staff_page)) == {"claim photo.png", "price list.pdf", "margins.csv", "counts.xlsx"}
    note = staff_page[staff_page.index("Internal note"):]
    assert note.index("margins.csv") < note.index("Fill in this sheet")
    assert 'enctype="multipart/form-data"' in staff_page and staff_page.count('name="files" multiple') == 3

    customer = app.test_client()
    sign_in(customer, case["clerk"], clock)
    own = customer.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "price list.pdf" in own and "counts.xlsx" in own and "margins.csv" not in own
    for name, allowed in (("price list.pdf", True), ("counts.xlsx", True), ("margins.csv", False)):
        response = customer.get(f"/disputes/{dispute.public_id}/files/{_file(db, name).public_id}", buffered=True)
        assert response.status_code == (200 if allowed else 404), name

    download = client.get(_admin_links(staff_page)["margins.csv"], buffered=True)
    assert download.status_code == 200 and download.data == files.CSV_TEXT
    assert download.headers["Content-Disposition"] == "attachment; filename=margins.csv"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == DOWNLOAD_CSP
    assert download.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("action", ["reply", "note", "request-information"])
def test_a_refused_file_changes_nothing(client, db, clock, case, file_storage, action):
    dispute = case["dispute"]
    staff_sign_in(client, case["ana"], clock)
    before = _state(db, file_storage)
    response = _post(client, dispute, action, "See the attached.", [("fine.pdf", PDF), ("logo.svg", files.SVG_WITH_SCRIPT)])
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "only PDF, PNG, JPEG, CSV and XLSX" in html and "Choose your files again" in html
    assert _state(db, file_storage) == before


def test_a_refused_step_stores_none_of_its_files(client, db, clock, case, file_storage):
    dispute = case["dispute"]
    staff_sign_in(client, case["ana"], clock)
    before = _state(db, file_storage)
    assert _post(client, dispute, "request-information", "  ", [("form.pdf", PDF)]).status_code == 400
    assert _state(db, file_storage) == before
    service.withdraw(contact_context(db, clock, case["clerk"]), contact_access(case["clerk"]), dispute.public_id)
    db.commit()
    before = _state(db, file_storage)
    closed = _post(client, dispute, "reply", "Too late?", [("late.pdf", PDF)])
    assert closed.status_code == 400 and "closed" in closed.get_data(as_text=True)
    assert _post(client, dispute, "request-information", "Which pallet?", [("late.pdf", PDF)]).status_code == 400
    assert _state(db, file_storage) == before


def test_staff_download_needs_the_files_own_dispute(client, db, clock, case, file_storage):
    dispute = case["dispute"]
    customer = make_customer(db, clock)
    other = raise_test_dispute(db, clock, make_contact(db, clock, customer), [make_invoice(db, clock, customer)],
                               files=uploads(file_storage, ("other.pdf", PDF)))
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.COLLECTOR), clock)  # may view, not act
    photo, other_file = _file(db, "claim photo.png"), _file(db, "other.pdf")
    assert client.get(f"/admin/disputes/{dispute.public_id}/files/{photo.public_id}", buffered=True).data == files.png()
    assert client.get(f"/admin/disputes/{dispute.public_id}/files/{other_file.public_id}").status_code == 404
    assert client.get(f"/admin/disputes/{other.public_id}/files/{photo.public_id}").status_code == 404
    assert client.get(f"/admin/disputes/{dispute.public_id}/files/no-such-file").status_code == 404
    before = _state(db, file_storage)
    assert _post(client, dispute, "note", "x", [("note.pdf", PDF)]).status_code == 403
    assert _state(db, file_storage) == before


def test_a_pending_file_is_not_served_to_staff_either(client, db, clock, case):
    dispute = case["dispute"]
    photo = _file(db, "claim photo.png")
    photo.scan_status = ScanStatus.PENDING
    db.commit()
    staff_sign_in(client, case["ana"], clock)
    page = client.get(f"/admin/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "Being checked for viruses" in page and _admin_links(page) == {}
    response = client.get(f"/admin/disputes/{dispute.public_id}/files/{photo.public_id}")
    assert response.status_code == 409 and "still being checked" in response.get_data(as_text=True)
