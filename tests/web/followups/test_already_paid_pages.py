"""The clerk's "There's a problem" and "We already paid it" through the test client, and the
staff's match / not found: the menu beside "Pay", the form and its refusals (nothing changed),
the invoice showing "Payment reported, being matched", the staff queue and page, matching
through the ledger (the invoice paid, the sums right), not found asking the clerk, the clerk's
answer with a file reopening it, and what a forwarded link's holder and another company get."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.domain.attachments.models import StoredFile
from portal.domain.core.clock import today_in
from markupsafe import escape

from portal.domain.followups.models import Followup, FollowupFile
from portal.domain.followups.notifications import FollowupMail
from portal.domain.followups.service import answer_followup, ask_customer
from portal.domain.followups.states import FollowupStatus
from portal.domain.ledger.jobs import check_ledger
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import Payment
from portal.domain.staff.states import StaffRole
from tests.support import attachment_files as files
from tests.support.attachment_files import multipart
from tests.support.disputes import contact_access, contact_context, staff_context
from tests.support.factories import (
    make_contact, make_customer, make_invoice, make_invoice_link, make_staff, sign_in, staff_sign_in,
)
from tests.support.fixtures.links import csrf_from
from tests.support.followups import report_test_payment

_KEY = re.compile(r'name="request_key" value="([^"]+)"')


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=16_500)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=8_000)
    return customer, clerk, first, second


@pytest.fixture
def signed_in(client, acme, clock):
    sign_in(client, acme[1], clock)
    return client


def _today(clock, contact):
    return today_in(clock, contact.customer.timezone)


def _form(client, invoices, **fields) -> list[tuple[str, str]]:
    page = client.get("/problems/new/already-paid", query_string=[("invoice", i.public_id) for i in invoices])
    assert page.status_code == 200, page.get_data(as_text=True)
    form = [("csrf_token", csrf_from(page)), ("request_key", _KEY.search(page.get_data(as_text=True)).group(1))]
    defaults = {"paid_on": fields.pop("today").isoformat(), "amount": "165.00", "method": "wire",
                "reference": "WIRE-991", "note": ""}
    defaults.update(fields)
    return form + list(defaults.items()) + [("invoice", i.public_id) for i in invoices]


def _count(db, model=Followup) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(model))


def test_every_open_invoice_offers_a_problem_beside_pay_and_the_menu_lists_six_answers(signed_in, acme):
    _, _, first, _ = acme
    page = signed_in.get(f"/invoices/{first.public_id}").get_data(as_text=True)
    assert "There's a problem" in page and f"/problems?invoice={first.public_id}" in page
    assert 'id="problem-selected"' in signed_in.get("/invoices").get_data(as_text=True)
    menu = signed_in.get("/problems", query_string={"invoice": first.public_id}).get_data(as_text=True)
    for path in ("/problems/new/already-paid", "/problems/new/po", "/problems/new/approval",
                 "/problems/new/contact", "/disputes/new", "/plans/new"):
        assert f'{path}?invoice={first.public_id}' in menu
    assert menu.count('class="button secondary problem-answer"') == 6


def test_reporting_a_payment_with_its_remittance_shows_it_being_matched(db, clock, signed_in, acme):
    _, clerk, first, _ = acme
    form = _form(signed_in, [first], today=_today(clock, clerk))
    response = signed_in.post("/problems/already-paid",
                              **multipart(form, [("remittance.pdf", files.tiny_pdf("Remittance WIRE-991"))]))
    assert response.status_code == 303
    followup = db.scalar(select(Followup))
    assert followup.details == {"paid_on": _today(clock, clerk).isoformat(), "amount_minor": 16_500,
                                "currency": "USD", "method": "wire", "reference": "WIRE-991"}
    assert _count(db, FollowupFile) == 1
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "remittance.pdf" in page and "We&#39;re on it" in page
    assert "Payment reported, being matched" in signed_in.get(f"/invoices/{first.public_id}").get_data(as_text=True)
    assert "Payment reported, being matched" in signed_in.get("/invoices").get_data(as_text=True)
    # The same form posted again (a double submit) finds the first report.
    again = signed_in.post("/problems/already-paid", **multipart(form, [("remittance.pdf", files.tiny_pdf())]))
    assert again.headers["Location"] == response.headers["Location"]
    assert (_count(db), _count(db, FollowupFile)) == (1, 1)


def test_the_overview_shows_an_overdue_invoice_being_matched(db, clock, signed_in, acme):
    customer, clerk, _, _ = acme
    today = _today(clock, clerk)
    late = make_invoice(db, clock, customer, number="INV-LATE", due_date=today - timedelta(days=20),
                        issue_date=today - timedelta(days=50))
    report_test_payment(db, clock, clerk, [late])
    db.commit()
    overview = signed_in.get("/account").get_data(as_text=True)
    assert "INV-LATE" in overview and "Payment reported, being matched" in overview


@pytest.mark.parametrize(("fields", "message"), [
    ({"amount": "165.001"}, "USD amounts have 2 decimal places"),
    ({"amount": "-5"}, "Enter the amount as digits"),
    ({"amount": "1" * 40}, "The amount can be at most 32 characters"),
    ({"amount": "9999999.00"}, "more than these invoices&#39; balance"),
    ({"amount": "1E+999990"}, "Enter the amount as digits"),
    ({"amount": "0"}, "Enter the amount you paid"),
    ({"paid_on": "+1"}, "The payment date cannot be in the future"),
    ({"paid_on": "-400"}, "within the last 365 days"),
    ({"paid_on": "2026-02-30"}, "That date does not exist"),
    ({"method": "bitcoin"}, "Choose how you paid"),
    ({"reference": ""}, "Enter the payment&#39;s reference"),
    ({"reference": "WIRE\r\nBcc: x@evil.example"}, "one line of plain text"),
    ({"note": "a\x00b"}, ""),  # NUL: refused by the app before any view (A14)
    ({"request_key": "short"}, "This form has expired"),
])
def test_bad_input_is_refused_with_the_form_and_nothing_changes(db, clock, signed_in, acme, fields, message):
    _, clerk, first, _ = acme
    today = _today(clock, clerk)
    if fields.get("paid_on", "").startswith(("+", "-")):
        fields = {**fields, "paid_on": (today + timedelta(days=int(fields["paid_on"]))).isoformat()}
    form = MultiDict(_form(signed_in, [first], today=today))
    for name, value in fields.items():
        form[name] = value
    response = signed_in.post("/problems/already-paid", data=form)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _count(db) == 0


def test_a_link_holder_reports_on_its_invoices_only_and_another_company_is_a_404(db, clock, client, acme):
    customer, clerk, first, second = acme
    link = make_invoice_link(db, clock, clerk, [first])
    sign_in(client, clerk, clock, scope="invoices", link=link)
    assert client.get("/problems", query_string={"invoice": second.public_id}).status_code == 404
    assert client.get("/problems/new/already-paid", query_string={"invoice": second.public_id}).status_code == 404
    form = MultiDict(_form(client, [first], today=_today(clock, clerk)))
    form.add("invoice", second.public_id)
    assert client.post("/problems/already-paid", data=form).status_code == 404
    other = make_customer(db, clock, name="Globex")
    foreign = make_invoice(db, clock, other, number="GLX-1")
    assert client.get("/problems", query_string={"invoice": foreign.public_id}).status_code == 404
    # A report about the link's invoice and one about another of the company's invoices.
    mine = report_test_payment(db, clock, clerk, [first])
    theirs = report_test_payment(db, clock, clerk, [second])
    db.commit()
    assert client.get(f"/problems/{mine.public_id}").status_code == 200
    assert client.get(f"/problems/{theirs.public_id}").status_code == 404
    other_clerk = make_contact(db, clock, other, email="ap@globex.example")
    globex = report_test_payment(db, clock, other_clerk, [foreign])
    db.commit()
    for path in (f"/problems/{globex.public_id}", f"/problems/{globex.public_id}/files/x"):
        assert client.get(path).status_code == 404
    assert client.post(f"/problems/{globex.public_id}/answer", data={"csrf_token": csrf_from(
        client.get(f"/problems/{mine.public_id}")), "text": "hi"}).status_code == 404


def test_posting_without_the_csrf_token_is_refused(db, clock, signed_in, acme):
    _, clerk, first, _ = acme
    form = [(k, v) for k, v in _form(signed_in, [first], today=_today(clock, clerk)) if k != "csrf_token"]
    assert signed_in.post("/problems/already-paid", data=MultiDict(form)).status_code == 400
    assert _count(db) == 0


def _staff(db, clock, client, role=StaffRole.COLLECTOR):
    member = make_staff(db, clock, role=role, name="Casey Cash")
    staff_sign_in(client, member, clock)
    return member


def test_staff_match_records_the_payment_through_the_ledger_and_the_clerk_is_told(db, clock, app, signed_in, acme):
    _, clerk, first, second = acme
    followup = report_test_payment(db, clock, clerk, [first, second], amount_text="200.00")
    db.commit()
    staff_client = app.test_client()
    _staff(db, clock, staff_client)
    queue = staff_client.get("/admin/followups?scope=all").get_data(as_text=True)
    assert followup.public_id in queue and "Payment reported: match it" in queue
    page = staff_client.get(f"/admin/followups/{followup.public_id}")
    assert "WIRE-20261130-77" in page.get_data(as_text=True) and "Acme Corp" in page.get_data(as_text=True)
    token = csrf_from(page)
    response = staff_client.post(f"/admin/followups/{followup.public_id}/match",
                                 data={"csrf_token": token, "amount": "200.00", "bank_reference": "BOA-5521"})
    assert response.status_code == 303, response.get_data(as_text=True)
    db.expire_all()
    payment = db.scalar(select(Payment))
    assert (payment.method, payment.status, payment.amount_minor) == ("offline_wire", "succeeded", 20_000)
    assert re.fullmatch(r"PAY-\d{4}-\d{6}", payment.reference)
    assert sorted((a.invoice_id, a.amount_minor) for a in payment.allocations) == [(first.id, 16_500),
                                                                                  (second.id, 3_500)]
    assert check_ledger(db).is_consistent
    db.refresh(first)
    db.refresh(second)
    assert (first.balance_minor, second.balance_minor) == (0, 4_500)
    assert db.get(Followup, followup.id).status == FollowupStatus.RESOLVED
    mail = db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "followup_update"))
    assert mail.to_address == "clerk@acme.example" and payment.reference in mail.body_text
    # The payment is on the clerk's pages like any other; a second match is refused.
    history = signed_in.get("/payments").get_data(as_text=True)
    assert payment.reference in history
    assert payment.reference in signed_in.get(f"/payments/{payment.public_id}").get_data(as_text=True)
    receipt = signed_in.get(f"/payments/{payment.public_id}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    assert "wire transfer" in signed_in.get(f"/invoices/{first.public_id}").get_data(as_text=True)
    supervisor = app.test_client()
    staff_sign_in(supervisor, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    assert payment.reference in supervisor.get(f"/admin/payments/{payment.public_id}").get_data(as_text=True)
    again = staff_client.post(f"/admin/followups/{followup.public_id}/match",
                              data={"csrf_token": token, "amount": "1.00"})
    assert again.status_code == 400 and "already closed" in again.get_data(as_text=True)
    assert _count(db, Payment) == 1


@pytest.mark.parametrize(("amount", "message"), [
    ("300.00", "more than is open"), ("1.234", "2 decimal places"), ("-1", "Enter the amount as digits"),
    ("0", "more than zero"),
])
def test_a_bad_match_amount_changes_nothing(db, clock, app, acme, amount, message):
    _, clerk, first, _ = acme
    followup = report_test_payment(db, clock, clerk, [first])
    db.commit()
    staff_client = app.test_client()
    _staff(db, clock, staff_client)
    token = csrf_from(staff_client.get(f"/admin/followups/{followup.public_id}"))
    response = staff_client.post(f"/admin/followups/{followup.public_id}/match",
                                 data={"csrf_token": token, "amount": amount})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _count(db, Payment) == 0


def test_not_found_asks_the_clerk_whose_answer_with_a_file_reopens_it(db, clock, app, signed_in, acme):
    _, clerk, first, _ = acme
    followup = report_test_payment(db, clock, clerk, [first])
    db.commit()
    staff_client = app.test_client()
    _staff(db, clock, staff_client)
    token = csrf_from(staff_client.get(f"/admin/followups/{followup.public_id}"))
    assert staff_client.post(f"/admin/followups/{followup.public_id}/not-found",
                             data={"csrf_token": token, "text": "Please send your bank's confirmation."}
                             ).status_code == 303
    db.expire_all()
    assert db.get(Followup, followup.id).status == FollowupStatus.WAITING
    mail = db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "followup_update"))
    assert "bank's confirmation" in mail.body_text and f"/problems/{followup.public_id}" in mail.body_text
    page = signed_in.get(f"/problems/{followup.public_id}")
    assert "Please send your bank&#39;s confirmation." in page.get_data(as_text=True)
    for bad in ("", "x" * 2001):
        assert signed_in.post(f"/problems/{followup.public_id}/answer",
                              data={"csrf_token": csrf_from(page), "text": bad}).status_code == 400
    answered = signed_in.post(f"/problems/{followup.public_id}/answer", **multipart(
        [("csrf_token", csrf_from(page)), ("text", "Attached.")], [("confirmation.pdf", files.tiny_pdf())]))
    assert answered.status_code == 303
    db.expire_all()
    assert db.get(Followup, followup.id).status == FollowupStatus.OPEN
    staff_page = staff_client.get(f"/admin/followups/{followup.public_id}").get_data(as_text=True)
    assert "confirmation.pdf" in staff_page
    stored = db.get(StoredFile, db.scalar(select(FollowupFile.file_id)))
    download = staff_client.get(f"/admin/followups/{followup.public_id}/files/{stored.public_id}")
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")
    assert download.get_data() == files.tiny_pdf()
    download.close()


def test_staff_without_the_permission_and_customers_do_not_reach_the_queues(db, clock, app, signed_in, acme):
    _, clerk, first, _ = acme
    followup = report_test_payment(db, clock, clerk, [first])
    db.commit()
    assert signed_in.get("/admin/followups").status_code in (302, 403)
    staff_client = app.test_client()
    _staff(db, clock, staff_client, role=StaffRole.COLLECTOR)
    assert staff_client.get("/admin/followups/report").status_code == 403  # VIEW_REPORTS: supervisors
    assert staff_client.get(f"/admin/followups/{followup.public_id}").status_code == 200
    assert staff_client.get("/admin/followups/nope").status_code == 404


def test_what_clerks_and_staff_type_renders_escaped_on_both_sides(db, clock, app, supplier, signed_in, acme):
    """A12 for follow-ups: the reference, the clerk's answer and staff's question."""
    script, attribute = "<script>alert(1)</script>", '"><img src=x onerror=alert(2)>'
    _, clerk, first, _ = acme
    followup = report_test_payment(db, clock, clerk, [first], reference=f"W {script}")
    member = make_staff(db, clock, role=StaffRole.COLLECTOR)
    ask_customer(staff_context(db, clock, member), followup, member.id, f"Send {attribute}",
                 FollowupMail(supplier))
    answer_followup(contact_context(db, clock, clerk), contact_access(clerk), followup.public_id,
                    text=f"Here {script}")
    db.commit()
    staff_client = app.test_client()
    staff_sign_in(staff_client, member, clock)
    for body in (signed_in.get(f"/problems/{followup.public_id}").get_data(as_text=True),
                 staff_client.get(f"/admin/followups/{followup.public_id}").get_data(as_text=True)):
        assert script not in body and attribute not in body
        assert str(escape(f"W {script}")) in body and str(escape(f"Here {script}")) in body
        assert str(escape(f"Send {attribute}")) in body

