"""Files with disputes, through the dispute service on the real schema: raised with a dispute,
sent with a customer's message, a staff reply, a question or an internal note; linked where
they were sent; stored only once the dispute step is accepted, so a refused step (or a refused
file) leaves no row and no bytes; and the read models show each file where the reader may see
it, an internal note's to staff only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.policy import UploadRefused
from portal.domain.attachments.states import ScanStatus
from portal.domain.core.errors import InvalidTransition, NotFound
from portal.domain.core.models import AuditEntry
from portal.domain.disputes import queries, service
from portal.domain.customers.models import Customer
from portal.domain.disputes.models import Dispute, DisputeAttachment
from portal.domain.disputes.notifications import DisputeMail
from portal.domain.disputes.policy import DisputeRefused, InvoiceChoice
from portal.domain.notifications.models import OutboxMessage
from tests.support import attachment_files as files
from tests.support.disputes import contact_access, contact_context, raise_test_dispute, staff_context, uploads
from tests.support.factories import make_contact, make_customer, make_invoice


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    invoice = make_invoice(db, clock, customer, number="INV-1", total_minor=16_500)
    return clerk, invoice


def _pdf(storage, name: str = "delivery note.pdf", **kwargs):
    return uploads(storage, (name, files.tiny_pdf()), **kwargs)


def _links(db, dispute) -> list[tuple[str, int | None, str]]:
    """(file name, message id, uploader type) of each of the dispute's links, in order."""
    return [tuple(row) for row in db.execute(
        select(StoredFile.display_name, DisputeAttachment.message_id, StoredFile.uploaded_by_type)
        .join(StoredFile, StoredFile.id == DisputeAttachment.file_id)
        .where(DisputeAttachment.dispute_id == dispute.id).order_by(DisputeAttachment.id)
    )]


def _stored(db, storage) -> tuple[int, int, int]:
    """(stored file rows, link rows, files in the storage)."""
    return (db.scalar(select(func.count()).select_from(StoredFile)),
            db.scalar(select(func.count()).select_from(DisputeAttachment)),
            sum(1 for path in storage.root.rglob("*") if path.is_file()))


def test_files_raised_with_a_dispute_are_linked_to_it_and_audited(db, clock, acme, file_storage):
    clerk, invoice = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], files=uploads(
        file_storage, ("delivery note.pdf", files.tiny_pdf()), ("pallet.png", files.png())))
    assert _links(db, dispute) == [("delivery note.pdf", None, "contact"), ("pallet.png", None, "contact")]
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "dispute.raised")).one()
    assert audit.after["files"] == db.scalars(select(StoredFile.public_id).order_by(StoredFile.id)).all()
    assert _stored(db, file_storage) == (2, 2, 2)


def test_the_same_form_token_twice_stores_its_files_once(db, clock, acme, file_storage):
    clerk, invoice = acme
    ctx, access = contact_context(db, clock, clerk), contact_access(clerk)
    kwargs = dict(reason_code="pricing", description="Price is not what we agreed", request_key="k" * 24,
                  choices=[InvoiceChoice(invoice.public_id, "whole")])
    first = service.raise_dispute(ctx, access, files=_pdf(file_storage), **kwargs)
    second = service.raise_dispute(ctx, access, files=_pdf(file_storage), **kwargs)
    assert first.id == second.id
    assert _stored(db, file_storage) == (1, 1, 1)


@pytest.mark.parametrize("problem", ["amount", "description", "reason", "foreign invoice"])
def test_a_refused_dispute_stores_none_of_its_files(db, clock, acme, file_storage, problem):
    clerk, invoice = acme
    stranger_invoice = make_invoice(db, clock, make_customer(db, clock), number="OTHER-1")
    choice = InvoiceChoice(invoice.public_id, "amount", amount_text="165.01" if problem == "amount" else "1.00")
    choices = [choice, InvoiceChoice(stranger_invoice.public_id, "whole")] if problem == "foreign invoice" else [choice]
    with pytest.raises((DisputeRefused, NotFound)):
        service.raise_dispute(
            contact_context(db, clock, clerk), contact_access(clerk), choices=choices, request_key="k" * 24,
            reason_code="free_money" if problem == "reason" else "pricing",
            description="short" if problem == "description" else "Price is not what we agreed",
            files=_pdf(file_storage))
    assert _stored(db, file_storage) == (0, 0, 0)


def test_a_refused_file_refuses_the_whole_dispute(db, clock, acme, file_storage):
    clerk, invoice = acme
    with pytest.raises(UploadRefused, match="HTML"):
        raise_test_dispute(db, clock, clerk, [invoice], files=uploads(
            file_storage, ("fine.pdf", files.tiny_pdf()), ("invoice.pdf", files.HTML_PAGE)))
    assert _stored(db, file_storage) == (0, 0, 0)
    assert db.scalar(select(func.count()).select_from(Dispute)) == 0


def test_a_customer_message_may_be_only_files(db, clock, acme, file_storage):
    clerk, invoice = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice])
    message = service.add_message(contact_context(db, clock, clerk), contact_access(clerk), dispute.public_id, "  ",
                                  files=_pdf(file_storage, "signed note.pdf"))
    assert message.body == ""
    assert _links(db, dispute) == [("signed note.pdf", message.id, "contact")]
    with pytest.raises(DisputeRefused, match="Write a message, or attach a file"):
        service.add_message(contact_context(db, clock, clerk), contact_access(clerk), dispute.public_id, " ")


def test_a_message_refused_for_its_dispute_stores_no_file(db, clock, acme, file_storage):
    clerk, invoice = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice])
    stranger = make_contact(db, clock, make_customer(db, clock))
    with pytest.raises(NotFound):
        service.add_message(contact_context(db, clock, stranger), contact_access(stranger), dispute.public_id,
                            "Ours now", files=_pdf(file_storage))
    service.withdraw(contact_context(db, clock, clerk), contact_access(clerk), dispute.public_id)
    with pytest.raises(DisputeRefused, match="closed"):
        service.add_message(contact_context(db, clock, clerk), contact_access(clerk), dispute.public_id,
                            "One more thing", files=_pdf(file_storage))
    with pytest.raises(InvalidTransition):
        service.request_information(staff_context(db, clock), None, dispute.public_id, "Which note?",
                                    files=_pdf(file_storage))
    with pytest.raises(DisputeRefused, match="closed"):
        service.reply(staff_context(db, clock), None, dispute.public_id, "Too late", files=_pdf(file_storage))
    assert _stored(db, file_storage) == (0, 0, 0)


def test_staff_files_go_with_the_reply_question_or_note_they_were_sent_with(db, clock, acme, file_storage):
    clerk, invoice = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], files=_pdf(file_storage, "claim.pdf"))
    staff = staff_context(db, clock)
    reply = service.reply(staff, None, dispute.public_id, "", files=_pdf(file_storage, "price list.pdf"))
    note = service.reply(staff, None, dispute.public_id, "", internal=True, files=_pdf(file_storage, "margin.pdf"))
    service.request_information(staff, None, dispute.public_id, "Fill in this form, please.",
                                files=uploads(file_storage, ("form.csv", files.CSV_TEXT)))
    links = _links(db, dispute)
    assert [(name, kind) for name, _, kind in links] == [
        ("claim.pdf", "contact"), ("price list.pdf", "staff"), ("margin.pdf", "staff"), ("form.csv", "staff")]
    assert [message_id for _, message_id, _ in links][:3] == [None, reply.id, note.id]

    customer_page = queries.dispute_page(db, contact_access(clerk), dispute.public_id)
    assert [f.name for f in customer_page.files] == ["claim.pdf"]
    assert [[f.name for f in m.files] for m in customer_page.messages] == [["price list.pdf"], ["form.csv"]]
    staff_page = queries.staff_dispute_page(db, dispute.public_id)
    assert [[f.name for f in m.files] for m in staff_page.messages] == [["price list.pdf"], ["margin.pdf"], ["form.csv"]]
    assert staff_page.messages[1].internal

    note_file = db.scalar(select(StoredFile).where(StoredFile.display_name == "margin.pdf"))
    with pytest.raises(NotFound):
        queries.dispute_file(db, contact_access(clerk), dispute.public_id, note_file.public_id)
    assert queries.staff_dispute_file(db, dispute.public_id, note_file.public_id).id == note_file.id


def test_a_question_still_needs_words_and_a_reply_or_note_needs_words_or_files(db, clock, acme, file_storage):
    clerk, invoice = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice])
    staff = staff_context(db, clock)
    with pytest.raises(DisputeRefused, match="Write a message"):
        service.request_information(staff, None, dispute.public_id, " ", files=_pdf(file_storage))
    for internal in (False, True):
        with pytest.raises(DisputeRefused, match="Write a message, or attach a file"):
            service.reply(staff, None, dispute.public_id, "", internal=internal)
    assert _stored(db, file_storage) == (0, 0, 0)


def test_a_file_is_found_only_through_its_own_dispute_and_a_reader_who_may_see_it(db, clock, acme, file_storage):
    clerk, invoice = acme
    second = make_invoice(db, clock, db.get(Customer, clerk.customer_id), number="INV-2", total_minor=5_000)
    on_first = raise_test_dispute(db, clock, clerk, [invoice], files=_pdf(file_storage, "first.pdf"))
    on_second = raise_test_dispute(db, clock, clerk, [second], files=_pdf(file_storage, "second.pdf"))
    first_file, second_file = (db.scalar(select(StoredFile).where(StoredFile.display_name == name))
                               for name in ("first.pdf", "second.pdf"))
    access = contact_access(clerk)
    assert queries.dispute_file(db, access, on_first.public_id, first_file.public_id).id == first_file.id
    with pytest.raises(NotFound):  # a file of the company's other dispute, asked through this one
        queries.dispute_file(db, access, on_first.public_id, second_file.public_id)
    link_holder = contact_access(clerk, [invoice])
    assert queries.dispute_file(db, link_holder, on_first.public_id, first_file.public_id).id == first_file.id
    with pytest.raises(NotFound):
        queries.dispute_file(db, link_holder, on_second.public_id, second_file.public_id)
    stranger = make_contact(db, clock, make_customer(db, clock))
    with pytest.raises(NotFound):
        queries.dispute_file(db, contact_access(stranger), on_first.public_id, first_file.public_id)
    for bad in ("", "x" * 23, None):
        with pytest.raises(NotFound):
            queries.dispute_file(db, access, on_first.public_id, bad)


def test_the_pages_tell_a_pending_file_from_a_blocked_one(db, clock, acme, file_storage):
    clerk, invoice = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], files=uploads(
        file_storage, ("a.pdf", files.tiny_pdf()), ("b.pdf", files.tiny_pdf("B")), scanner_configured=True))
    first, second = db.scalars(select(StoredFile).order_by(StoredFile.id)).all()
    assert first.scan_status == second.scan_status == ScanStatus.PENDING
    second.scan_status = ScanStatus.INFECTED
    db.flush()
    shown = queries.dispute_page(db, contact_access(clerk), dispute.public_id).files
    assert [(f.name, f.pending, f.blocked, f.size) for f in shown] == [
        ("a.pdf", True, False, "1 KB"), ("b.pdf", False, True, "1 KB")]


def test_the_customers_email_names_the_files_sent_and_carries_none(db, clock, acme, file_storage, supplier,
                                                                    link_signer):
    clerk, invoice = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice])
    mail = DisputeMail(supplier, link_signer)
    service.reply(staff_context(db, clock), mail, dispute.public_id, "", files=uploads(
        file_storage, ("price list.pdf", files.tiny_pdf()), ("counts.csv", files.CSV_TEXT)))
    service.request_information(staff_context(db, clock), mail, dispute.public_id, "Sign this, please.",
                                files=_pdf(file_storage, "form.pdf"))
    service.reply(staff_context(db, clock), mail, dispute.public_id, "Noted, thank you.")
    emails = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert "Files on the dispute page: price list.pdf, counts.csv" in emails[0].body_text
    assert "Sign this, please.\n\nFiles on the dispute page: form.pdf" in emails[1].body_text
    assert "Files on the dispute page" not in emails[2].body_text
