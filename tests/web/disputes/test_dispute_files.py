"""Files on the customer's dispute pages, through real multipart requests: raised with a dispute
or sent in the thread (files only, text only, or both), listed with their name and size, and
downloaded as attachments. Every refusal (a bad file, too many, too big, a refused dispute)
shows the form again with its reason and changes nothing, stored files and bytes included. A
download is found only through a dispute the session may see: another company's, another
dispute's, an internal note's file is a 404, a file still being scanned a 409."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.app import FORM_ROOM_BYTES
from portal.config import Settings
from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.policy import DEFAULT_LIMITS, UploadLimits
from portal.domain.attachments.states import ScanStatus
from portal.domain.disputes import service
from portal.domain.disputes.models import Dispute, DisputeAttachment, DisputeMessage
from portal.domain.invoicing.models import Invoice
from portal.web.downloads import DOWNLOAD_CSP
from tests.support import attachment_files as files
from tests.support.attachment_files import multipart
from tests.support.disputes import raise_test_dispute, staff_context, uploads
from tests.support.factories import make_contact, make_customer, make_invoice, make_invoice_link, sign_in
from tests.support.fixtures.links import csrf_from

_KEY = re.compile(r'name="request_key" value="([^"]+)"')
PDF = files.tiny_pdf()


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    invoice = make_invoice(db, clock, customer, number="INV-100", total_minor=16_500)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=8_000)
    return customer, clerk, invoice, second


@pytest.fixture
def signed_in(client, acme, clock):
    sign_in(client, acme[1], clock)
    return client


def _state(db, storage) -> tuple[int, ...]:
    """Disputes, held money, messages, file links, stored files and the files in the storage."""
    db.commit()
    db.expire_all()
    return (db.scalar(select(func.count()).select_from(Dispute)),
            db.scalar(select(func.coalesce(func.sum(Invoice.held_minor), 0))),
            db.scalar(select(func.count()).select_from(DisputeMessage)),
            db.scalar(select(func.count()).select_from(DisputeAttachment)),
            db.scalar(select(func.count()).select_from(StoredFile)),
            sum(1 for path in storage.root.rglob("*") if path.is_file()))


def _raise_form(client, invoice, amount: str = "20.00", **fields) -> list[tuple[str, str]]:
    page = client.get("/disputes/new", query_string={"invoice": invoice.public_id})
    assert page.status_code == 200
    return [("csrf_token", csrf_from(page)), ("request_key", _KEY.search(page.get_data(as_text=True)).group(1)),
            ("reason", "damaged"), ("description", fields.get("description", "Two pallets arrived broken.")),
            ("invoice", invoice.public_id), (f"mode-{invoice.public_id}", "amount"),
            (f"amount-{invoice.public_id}", amount)]


def _message_form(client, dispute, body: str) -> list[tuple[str, str]]:
    return [("csrf_token", csrf_from(client.get(f"/disputes/{dispute.public_id}"))), ("body", body)]


def _file_links(html: str) -> dict[str, str]:
    """Download link by file name, as the page lists them."""
    return {name: href for href, name in re.findall(r'<a href="(/disputes/[^"]+/files/[^"]+)">([^<]+)</a>', html)}


def _file(db, name: str) -> StoredFile:
    db.commit()
    return db.scalar(select(StoredFile).where(StoredFile.display_name == name))


def test_the_forms_have_a_multiple_file_input_stating_the_limits(signed_in, db, clock, acme):
    _, clerk, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], amount_text="1.00")
    for path in (f"/disputes/new?invoice={invoice.public_id}", f"/disputes/{dispute.public_id}"):
        html = signed_in.get(path).get_data(as_text=True)
        assert 'enctype="multipart/form-data"' in html
        assert re.search(r'<input type="file" id="[a-z-]+" name="files" multiple accept=".pdf,.png,.jpg,.jpeg,.csv,.xlsx"',
                         html), path
        assert "up to 10 files, 10 MB each and 25 MB together" in html


def test_files_raised_with_a_dispute_are_listed_and_downloaded(signed_in, db, acme):
    _, _, invoice, _ = acme
    response = signed_in.post("/disputes", **multipart(_raise_form(signed_in, invoice), [
        ("delivery note.pdf", PDF), ("pallet.png", files.png())]))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    html = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    links = _file_links(html)
    assert set(links) == {"delivery note.pdf", "pallet.png"} and "1 KB" in html
    download = signed_in.get(links["delivery note.pdf"], buffered=True)
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == 'attachment; filename="delivery note.pdf"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == DOWNLOAD_CSP == "default-src 'none'; sandbox"
    assert "no-store" in download.headers["Cache-Control"]


@pytest.mark.parametrize(("named_files", "message"), [
    ([("logo.svg", files.SVG_WITH_SCRIPT)], "only PDF, PNG, JPEG, CSV and XLSX"),
    ([("fine.pdf", PDF), ("invoice.pdf", files.HTML_PAGE)], "“invoice.pdf” cannot be attached: its content is not PDF"),
    ([("photo.pdf", files.png())], "its content is a PNG image"),
    ([(f"note {n}.pdf", PDF) for n in range(11)], "At most 10 files can be attached at once"),
    ([("fine.pdf", PDF), ("scan.pdf", files.big_pdf(10.5))], "“scan.pdf” is larger than 10 MB"),
    # 25.5 MB of files: under what the request may carry, over what its files may.
    ([(f"part {n}.pdf", files.big_pdf(8.5)) for n in range(3)], "larger than 25 MB together"),
])
def test_a_refused_file_shows_the_raise_form_again_and_changes_nothing(signed_in, db, acme, file_storage,
                                                                        named_files, message):
    _, _, invoice, _ = acme
    form = _raise_form(signed_in, invoice, description="Two pallets arrived broken, photos attached.")
    before = _state(db, file_storage)
    response = signed_in.post("/disputes", **multipart(form, named_files))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html, html[:3000]
    assert 'name="request_key"' in html and "Two pallets arrived broken, photos attached." in html
    assert "Choose your files again" in html  # a browser does not refill a file input
    assert _state(db, file_storage) == before


@pytest.mark.parametrize(("amount", "message"), [("165.01", "at most $165.00 can be disputed"), ("1E+999990", "digits")])
def test_a_refused_dispute_stores_none_of_its_files(signed_in, db, acme, file_storage, amount, message):
    _, _, invoice, _ = acme
    before = _state(db, file_storage)
    response = signed_in.post("/disputes", **multipart(_raise_form(signed_in, invoice, amount), [("note.pdf", PDF)]))
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _state(db, file_storage) == before


def test_a_body_past_what_a_request_may_carry_is_cut_off_with_a_clear_413(signed_in, db, acme, file_storage):
    _, _, invoice, _ = acme
    before = _state(db, file_storage)
    response = signed_in.post("/disputes", **multipart(_raise_form(signed_in, invoice), [
        (f"part {n}.pdf", files.big_pdf(9)) for n in range(3)]))
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "larger than 25 MB together" in html and "at most 10 files of up to 10 MB each" in html
    assert "Nothing was saved" in html
    assert _state(db, file_storage) == before


def test_the_limits_are_the_attachments_areas(app):
    assert UploadLimits.from_settings(Settings()) == DEFAULT_LIMITS
    assert app.extensions["portal"].file_store.limits == DEFAULT_LIMITS
    assert app.config["MAX_CONTENT_LENGTH"] == DEFAULT_LIMITS.max_request_bytes + FORM_ROOM_BYTES


def test_a_message_may_be_files_text_or_both(signed_in, db, clock, acme, file_storage):
    _, clerk, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], amount_text="1.00")
    path = f"/disputes/{dispute.public_id}/messages"
    only_files = signed_in.post(path, **multipart(_message_form(signed_in, dispute, ""), [("signed note.pdf", PDF)]))
    assert only_files.status_code == 303
    only_text = signed_in.post(path, **multipart(_message_form(signed_in, dispute, "The driver signed it."), []))
    assert only_text.status_code == 303
    both = signed_in.post(path, **multipart(_message_form(signed_in, dispute, "And the photo."),
                                            [("pallet.jpg", files.jpeg())]))
    assert both.status_code == 303
    nothing = signed_in.post(path, **multipart(_message_form(signed_in, dispute, "  "), []))
    assert nothing.status_code == 400 and "Write a message, or attach a file." in nothing.get_data(as_text=True)
    html = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    thread = html[html.index('id="thread"'):]
    assert thread.index("signed note.pdf") < thread.index("The driver signed it.") < thread.index("pallet.jpg")
    assert set(_file_links(html)) == {"signed note.pdf", "pallet.jpg"}
    db.commit()
    assert db.scalars(select(DisputeMessage.body).order_by(DisputeMessage.id)).all() == [
        "", "The driver signed it.", "And the photo."]


def test_a_refused_message_keeps_its_text_and_changes_nothing(signed_in, db, clock, acme, file_storage):
    _, clerk, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], amount_text="1.00")
    before = _state(db, file_storage)
    response = signed_in.post(f"/disputes/{dispute.public_id}/messages", **multipart(
        _message_form(signed_in, dispute, "See the attached page."), [("page.pdf", files.HTML_PAGE)]))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "(it looks like: HTML document)" in html and "See the attached page.</textarea>" in html and "Choose your files again" in html
    assert _state(db, file_storage) == before


def test_another_companys_or_another_disputes_file_is_404(signed_in, db, clock, acme, file_storage):
    _, clerk, invoice, second = acme
    own = raise_test_dispute(db, clock, clerk, [invoice], amount_text="1.00", files=uploads(file_storage, ("own.pdf", PDF)))
    other_own = raise_test_dispute(db, clock, clerk, [second], amount_text="1.00",
                                   files=uploads(file_storage, ("other.pdf", PDF)))
    other_company = make_customer(db, clock, name="Other Co")
    stranger = make_contact(db, clock, other_company)
    foreign = raise_test_dispute(db, clock, stranger, [make_invoice(db, clock, other_company)], amount_text="1.00",
                                 files=uploads(file_storage, ("theirs.pdf", PDF)))
    own_file, other_file, foreign_file = (_file(db, name) for name in ("own.pdf", "other.pdf", "theirs.pdf"))
    assert signed_in.get(f"/disputes/{own.public_id}/files/{own_file.public_id}", buffered=True).status_code == 200
    assert signed_in.get(f"/disputes/{other_own.public_id}/files/{other_file.public_id}",
                         buffered=True).status_code == 200
    for dispute, stored in ((foreign, foreign_file), (own, foreign_file), (foreign, own_file), (own, other_file)):
        response = signed_in.get(f"/disputes/{dispute.public_id}/files/{stored.public_id}")
        assert response.status_code == 404 and PDF not in response.data
    before = _state(db, file_storage)
    response = signed_in.post(f"/disputes/{foreign.public_id}/messages", **multipart(
        _message_form(signed_in, own, "Ours now"), [("sneaky.pdf", PDF)]))
    assert response.status_code == 404
    assert _state(db, file_storage) == before


def test_a_link_holder_downloads_only_the_files_of_disputes_on_its_invoices(client, db, clock, acme, file_storage):
    _, clerk, invoice, second = acme
    on_link = raise_test_dispute(db, clock, clerk, [invoice], amount_text="1.00",
                                 files=uploads(file_storage, ("on link.pdf", PDF)))
    on_other = raise_test_dispute(db, clock, clerk, [second], amount_text="1.00",
                                  files=uploads(file_storage, ("elsewhere.pdf", PDF)))
    spanning = raise_test_dispute(db, clock, clerk, [invoice, second], amount_text="1.00",
                                  files=uploads(file_storage, ("both.pdf", PDF)))
    sign_in(client, clerk, clock, link=make_invoice_link(db, clock, clerk, [invoice]))
    assert client.get(f"/disputes/{on_link.public_id}/files/{_file(db, 'on link.pdf').public_id}",
                      buffered=True).status_code == 200
    for dispute, name in ((on_other, "elsewhere.pdf"), (spanning, "both.pdf")):
        assert client.get(f"/disputes/{dispute.public_id}/files/{_file(db, name).public_id}").status_code == 404


def test_an_internal_notes_file_is_never_the_customers(signed_in, db, clock, acme, file_storage):
    _, clerk, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], amount_text="1.00")
    service.reply(staff_context(db, clock), None, dispute.public_id, "Our price list is attached.",
                  files=uploads(file_storage, ("price list.pdf", PDF)))
    service.reply(staff_context(db, clock), None, dispute.public_id, "Margins, for us only.", internal=True,
                  files=uploads(file_storage, ("margins.csv", files.CSV_TEXT)))
    html = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert set(_file_links(html)) == {"price list.pdf"} and "margins.csv" not in html
    reply_file, note_file = _file(db, "price list.pdf"), _file(db, "margins.csv")
    assert signed_in.get(f"/disputes/{dispute.public_id}/files/{reply_file.public_id}", buffered=True).data == PDF
    response = signed_in.get(f"/disputes/{dispute.public_id}/files/{note_file.public_id}")
    assert response.status_code == 404 and files.CSV_TEXT not in response.data


def test_a_file_being_scanned_is_shown_so_and_answers_409_until_judged(make_app, db, clock, acme, file_storage):
    _, clerk, invoice, _ = acme
    # A scanner is configured: the app stores files pending (`scan-pending-files` judges them
    # later; nothing here calls it).
    client = make_app(clamav_address="tcp://127.0.0.1:3310").test_client()
    sign_in(client, clerk, clock)
    response = client.post("/disputes", **multipart(_raise_form(client, invoice), [("note.pdf", PDF)]))
    assert response.status_code == 303
    stored = _file(db, "note.pdf")
    assert stored.scan_status == ScanStatus.PENDING
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Being checked for viruses" in page and _file_links(page) == {}
    path = f"{response.headers['Location']}/files/{stored.public_id}"
    pending = client.get(path)
    assert pending.status_code == 409 and "still being checked" in pending.get_data(as_text=True)
    assert PDF not in pending.data

    stored.scan_status = ScanStatus.INFECTED
    db.commit()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Blocked: malware was found" in page and _file_links(page) == {}
    blocked = client.get(path)
    assert blocked.status_code == 409 and "malware" in blocked.get_data(as_text=True)

    stored.scan_status = ScanStatus.CLEAN
    db.commit()
    assert client.get(path, buffered=True).data == PDF


def test_file_names_are_shown_escaped(signed_in, db, clock, acme, file_storage):
    _, clerk, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], amount_text="1.00", files=uploads(
        file_storage, ("Tom & Jerry's \"notes\" <i>.pdf", PDF)))
    html = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "<i>" not in html and "Tom &amp; Jerry&#39;s _notes_ _i_.pdf" in html
