"""Re-billing from the staff page of a dispute: the form prefilled from the covered invoice
(a free `<number>-R1`, a due date, the original lines), a corrected invoice issued and the old
one credited, the customer told; every bad input refused with its message and nothing
changed; a sign-in within the last 10 minutes; and the credit limit of the member's role."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.disputes import service
from portal.domain.disputes.jobs import check_holds
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.policy import MAX_CORRECTED_LINES
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.staff.service import TeamDetails, create_team
from portal.domain.staff.states import StaffRole
from tests.support.disputes import raise_test_dispute, staff_context
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from


@pytest.fixture
def case(db, clock):
    ctx = Context(db, clock, Actor.system("test"))
    ana = make_staff(db, clock, name="Ana Pereira")
    desk = create_team(ctx, TeamDetails("Pricing desk", "UTC", "12345", 540, 1020), [ana.id])
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    today = clock.now().date()
    # Net 30, issued 10 days ago: the corrected invoice is prefilled due 30 days from today.
    invoice = make_invoice(db, clock, customer, number="INV-100", po_number="PO-77",
                           issue_date=today - timedelta(days=10), due_date=today + timedelta(days=20),
                           lines=[("Widgets", 10, 1_250), ("Freight", 1, 4_000)])
    large = make_invoice(db, clock, customer, number="INV-200", lines=[("Machines", 2, 50_000)])
    taken = make_invoice(db, clock, customer, number="INV-300", total_minor=7_700)
    other = make_customer(db, clock, name="Other Co")
    foreign = make_invoice(db, clock, other, number="INV-900", total_minor=5_000)
    dispute = raise_test_dispute(db, clock, clerk, [invoice])
    big = raise_test_dispute(db, clock, clerk, [large])
    for d in (dispute, big):
        d.team_id, d.assignee_id = desk.id, ana.id
    db.commit()
    return {"ana": ana, "clerk": clerk, "dispute": dispute, "big": big, "invoice": invoice, "large": large,
            "taken": taken, "foreign": foreign, "customer": customer}


def _form_page(client, dispute):
    return client.get(f"/admin/disputes/{dispute.public_id}/rebill")


def _form(page, invoice, clock, **changes) -> dict:
    """What the browser posts for `invoice` when nothing is changed, with `changes` applied
    (a value of None leaves the field out)."""
    pid = invoice.public_id
    data = {
        "csrf_token": csrf_from(page), "replace": pid, f"number-{pid}": "INV-100-R1",
        f"due-{pid}": (clock.now().date() + timedelta(days=30)).isoformat(),
        f"line-{pid}-0-description": "Widgets", f"line-{pid}-0-quantity": "10", f"line-{pid}-0-price": "12.50",
        f"line-{pid}-1-description": "Freight", f"line-{pid}-1-quantity": "1", f"line-{pid}-1-price": "40.00",
        f"line-{pid}-2-description": "", f"line-{pid}-2-quantity": "", f"line-{pid}-2-price": "",
        "explanation": "",
    }
    for name, value in changes.items():
        name = name.replace("PID", pid)
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def _state(db, dispute) -> tuple:
    """Everything a re-bill changes: the dispute, invoices, lines, ledger entries, outbox."""
    db.commit()
    db.expire_all()
    count = lambda model: db.scalar(select(func.count()).select_from(model))  # noqa: E731
    found = db.scalar(select(Dispute).where(Dispute.id == dispute.id))
    return (found.status, tuple((c.held_minor, c.credited_minor, c.rebilled_invoice_id) for c in found.invoices),
            count(Invoice), count(InvoiceLine), count(InvoiceEntry), count(OutboxMessage),
            tuple(db.execute(select(Invoice.balance_minor, Invoice.held_minor).order_by(Invoice.id)).all()))


def test_the_form_is_prefilled_from_the_invoice(client, db, clock, case):
    staff_sign_in(client, case["ana"], clock)
    page = client.get(f"/admin/disputes/{case['dispute'].public_id}")
    assert f"/admin/disputes/{case['dispute'].public_id}/rebill" in page.get_data(as_text=True)
    html = _form_page(client, case["dispute"]).get_data(as_text=True)
    pid = case["invoice"].public_id
    assert f'name="number-{pid}" value="INV-100-R1"' in html
    assert f'name="due-{pid}" value="{(clock.now().date() + timedelta(days=30)).isoformat()}"' in html
    assert f'name="line-{pid}-0-description" value="Widgets"' in html
    assert f'name="line-{pid}-0-quantity" value="10"' in html and f'name="line-{pid}-0-price" value="12.50"' in html
    assert f'name="line-{pid}-1-price" value="40.00"' in html
    assert f'name="line-{pid}-2-description" value=""' in html  # a blank row to add a line
    assert "re-billing credits $165.00" in html and "$500.00" in html  # what it credits; the analyst's limit

    # A suggestion already taken moves on to the next free number.
    make_invoice(db, clock, case["customer"], number="INV-100-R1", total_minor=100)
    db.commit()
    assert f'name="number-{pid}" value="INV-100-R2"' in _form_page(client, case["dispute"]).get_data(as_text=True)


def test_a_rebill_credits_the_old_invoice_issues_the_corrected_one_and_tells_the_customer(client, db, clock, case):
    dispute, invoice = case["dispute"], case["invoice"]
    staff_sign_in(client, case["ana"], clock)
    page = _form_page(client, dispute)
    # The widgets at the agreed 11.00, the freight removed, a flat-rate freight line added.
    response = client.post(f"/admin/disputes/{dispute.public_id}/rebill", data=_form(
        page, invoice, clock, **{"line-PID-0-price": "11.00", "line-PID-1-remove": "1",
                                 "line-PID-2-description": "Freight, agreed flat rate", "line-PID-2-quantity": "1",
                                 "line-PID-2-price": "20.00", "explanation": "Re-issued at the contract price."}))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/disputes/{dispute.public_id}")

    db.commit()
    db.expire_all()
    found = db.scalar(select(Dispute).where(Dispute.id == dispute.id))
    assert found.status == "rebilled"
    old = db.get(Invoice, invoice.id)
    assert (old.balance_minor, old.held_minor) == (0, 0)
    assert db.scalar(select(InvoiceEntry.amount_minor).where(
        InvoiceEntry.invoice_id == invoice.id, InvoiceEntry.kind == "credit_note")) == -16_500
    corrected = db.scalar(select(Invoice).where(Invoice.number == "INV-100-R1"))
    assert corrected.customer_id == case["customer"].id and corrected.po_number == "PO-77"
    assert corrected.balance_minor == corrected.total_minor == 10 * 1_100 + 2_000
    assert corrected.due_date == clock.now().date() + timedelta(days=30)
    assert [(line.description, line.quantity, line.unit_price_minor) for line in corrected.lines] == [
        ("Widgets", 10, 1_100), ("Freight, agreed flat rate", 1, 2_000)]
    assert found.invoices[0].rebilled_invoice_id == corrected.id and found.invoices[0].credited_minor == 16_500
    [email] = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dispute_resolved")).all()
    assert email.to_address == "clerk@acme.example"
    assert "INV-100-R1" in email.body_text and "Re-issued at the contract price." in email.body_text
    assert check_ledger(db).differences == [] and check_holds(db) == []
    assert "Re-billed" in client.get(f"/admin/disputes/{dispute.public_id}").get_data(as_text=True)


BAD_INPUTS = {
    "a number already taken": ({"number-PID": "INV-300"}, "Invoice number INV-300 is already taken"),
    "no number": ({"number-PID": " "}, "give the corrected invoice a number"),
    "a number with spaces": ({"number-PID": "INV 100"}, "holds only letters, digits"),
    "a price with three decimals": ({"line-PID-0-price": "12.505"}, "USD amounts have 2 decimal places"),
    "a price that is not a number": ({"line-PID-0-price": "twelve"}, "Enter the amount as digits"),
    "a negative price": ({"line-PID-0-price": "-12.50"}, "Enter the amount as digits"),
    "an absurd price": ({"line-PID-0-price": "9" * 15}, "a unit price is at most"),
    "a missing price": ({"line-PID-0-price": ""}, "Invoice INV-100, line 1: Enter an amount"),
    "a quantity of zero": ({"line-PID-0-quantity": "0"}, "the quantity is above zero"),
    "a quantity in exponent form": ({"line-PID-0-quantity": "1e3"}, "enter the quantity as a number"),
    "a huge quantity": ({"line-PID-0-quantity": "5000000"}, "at most 1,000,000"),
    "a line without a description": ({"line-PID-1-description": " "}, "line 2: describe the line"),
    "no lines": ({"line-PID-0-remove": "1", "line-PID-1-remove": "1"}, "needs at least one line"),
    "a due date in the past": ({"due-PID": "2000-01-01"}, "cannot fall due before today"),
    "a due date that is no date": ({"due-PID": "2026-02-30"}, "enter the due date as YYYY-MM-DD"),
    "a due date years ahead": ({"due-PID": "2999-01-01"}, "must fall due within 366 days"),
    "no invoice chosen": ({"replace": None}, "Choose at least one invoice to replace"),
    "a line break in a description": ({"line-PID-0-description": "Widgets\r\nBcc: x@evil.example"},
                                      "one line of plain text"),
    "a tab in the number": ({"number-PID": "INV-100\t-R1"}, "one line of plain text"),
    "a bidirectional override in a description": ({"line-PID-0-description": "Widgets \u202etxt.exe"},
                                                  "one line of plain text"),
    "a description too long": ({"line-PID-0-description": "W" * 501}, "at most 500 characters"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_each_bad_input_is_refused_with_its_message_and_changes_nothing(client, db, clock, case, name):
    dispute, invoice = case["dispute"], case["invoice"]
    changes, message = BAD_INPUTS[name]
    staff_sign_in(client, case["ana"], clock)
    page = _form_page(client, dispute)
    before = _state(db, dispute)
    response = client.post(f"/admin/disputes/{dispute.public_id}/rebill", data=_form(page, invoice, clock, **changes))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _state(db, dispute) == before


def test_a_refused_form_shows_what_was_typed(client, db, clock, case):
    dispute, invoice = case["dispute"], case["invoice"]
    staff_sign_in(client, case["ana"], clock)
    page = _form_page(client, dispute)
    response = client.post(f"/admin/disputes/{dispute.public_id}/rebill", data=_form(
        page, invoice, clock, **{"number-PID": "INV-300", "line-PID-0-price": "11.00", "line-PID-1-remove": "1",
                                 "explanation": "At the contract price."}))
    html = response.get_data(as_text=True)
    pid = invoice.public_id
    assert response.status_code == 400
    assert f'name="number-{pid}" value="INV-300"' in html and f'name="line-{pid}-0-price" value="11.00"' in html
    assert "Freight" not in html  # the removed line stays removed
    assert "At the contract price." in html


def test_another_companys_invoice_or_one_outside_the_dispute_is_refused(client, db, clock, case):
    dispute, invoice = case["dispute"], case["invoice"]
    staff_sign_in(client, case["ana"], clock)
    page = _form_page(client, dispute)
    before = _state(db, dispute)
    for outsider in (case["foreign"], case["taken"]):
        fid = outsider.public_id
        data = _form(page, invoice, clock, replace=fid, **{
            f"number-{fid}": "INV-900-R1", f"due-{fid}": (clock.now().date() + timedelta(days=30)).isoformat(),
            f"line-{fid}-0-description": "Anything", f"line-{fid}-0-quantity": "1", f"line-{fid}-0-price": "1.00"})
        response = client.post(f"/admin/disputes/{dispute.public_id}/rebill", data=data)
        assert response.status_code == 400
        assert "Choose the invoices to replace from the list." in response.get_data(as_text=True)
    assert _state(db, dispute) == before
    assert db.scalar(select(Invoice.balance_minor).where(Invoice.id == case["foreign"].id)) == 5_000


def test_too_many_lines_are_refused(client, db, clock, case):
    dispute, invoice = case["dispute"], case["invoice"]
    staff_sign_in(client, case["ana"], clock)
    page = _form_page(client, dispute)
    extra = {}
    for row in range(MAX_CORRECTED_LINES + 1):
        extra |= {f"line-PID-{row}-description": f"Part {row}", f"line-PID-{row}-quantity": "1",
                  f"line-PID-{row}-price": "1.00"}
    before = _state(db, dispute)
    response = client.post(f"/admin/disputes/{dispute.public_id}/rebill", data=_form(page, invoice, clock, **extra))
    assert response.status_code == 400
    assert f"can have at most {MAX_CORRECTED_LINES} lines" in response.get_data(as_text=True)
    assert _state(db, dispute) == before

    # Exactly the maximum is accepted.
    del extra[f"line-PID-{MAX_CORRECTED_LINES}-description"], extra[f"line-PID-{MAX_CORRECTED_LINES}-quantity"]
    del extra[f"line-PID-{MAX_CORRECTED_LINES}-price"]
    data = _form(page, invoice, clock, **extra)
    assert client.post(f"/admin/disputes/{dispute.public_id}/rebill", data=data).status_code == 303
    db.commit()
    corrected = db.scalar(select(Invoice).where(Invoice.number == "INV-100-R1"))
    assert len(corrected.lines) == MAX_CORRECTED_LINES


def test_nul_in_any_field_is_refused_before_the_view(client, db, clock, case):
    dispute, invoice = case["dispute"], case["invoice"]
    staff_sign_in(client, case["ana"], clock)
    page = _form_page(client, dispute)
    before = _state(db, dispute)
    for field in ("number-PID", "line-PID-0-description", "line-PID-0-price", "explanation"):
        response = client.post(f"/admin/disputes/{dispute.public_id}/rebill",
                               data=_form(page, invoice, clock, **{field: "ab\x00cd"}))
        assert response.status_code == 400, field
        assert "characters that are not allowed" in response.get_data(as_text=True)
    assert _state(db, dispute) == before


def test_rebilling_and_resolving_need_a_recent_sign_in(app, client, db, clock, case):
    dispute, invoice = case["dispute"], case["invoice"]
    staff_sign_in(client, case["ana"], clock)
    page = _form_page(client, dispute)
    data = _form(page, invoice, clock)
    clock.advance(minutes=11)  # the session is live (idle limit 15 min) but the sign-in is not recent
    before = _state(db, dispute)

    stale_form = _form_page(client, dispute)
    assert stale_form.status_code == 302
    location = urlsplit(stale_form.headers["Location"])
    assert location.path == "/admin/confirm-identity"
    assert parse_qs(location.query)["next"] == [f"/admin/disputes/{dispute.public_id}/rebill"]

    stale_post = client.post(f"/admin/disputes/{dispute.public_id}/rebill", data=data)
    assert stale_post.status_code == 302 and "/admin/confirm-identity" in stale_post.headers["Location"]
    # Accepting in full or in part credits too; a form posted from the dispute page comes back to it.
    stale_resolve = client.post(f"/admin/disputes/{dispute.public_id}/resolve", data={
        "csrf_token": data["csrf_token"], "mode": "full"},
        headers={"Referer": f"http://localhost/admin/disputes/{dispute.public_id}"})
    assert stale_resolve.status_code == 302
    assert parse_qs(urlsplit(stale_resolve.headers["Location"]).query)["next"] == [
        f"/admin/disputes/{dispute.public_id}"]
    assert _state(db, dispute) == before

    fresh = app.test_client()
    staff_sign_in(fresh, case["ana"], clock)
    assert fresh.post(f"/admin/disputes/{dispute.public_id}/rebill",
                      data=_form(_form_page(fresh, dispute), invoice, clock)).status_code == 303
    assert _state(db, dispute)[0] == "rebilled"


def test_a_credit_above_the_analysts_limit_is_refused_and_a_supervisor_rebills(app, client, db, clock, case):
    big, large = case["big"], case["large"]
    pid = large.public_id
    changes = {"number-PID": "INV-200-R1", "line-PID-0-description": "Machines", "line-PID-0-quantity": "2",
               "line-PID-0-price": "450.00", "line-PID-1-description": None, "line-PID-1-quantity": None,
               "line-PID-1-price": None}
    staff_sign_in(client, case["ana"], clock)
    before = _state(db, big)
    response = client.post(f"/admin/disputes/{big.public_id}/rebill",
                           data=_form(_form_page(client, big), large, clock, **changes))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Re-billing credits $1,000.00" in html and "credit limit of $500.00" in html
    assert "ask a supervisor" in html
    assert _state(db, big) == before

    supervisor = make_staff(db, clock, role=StaffRole.SUPERVISOR)
    boss = app.test_client()
    staff_sign_in(boss, supervisor, clock)
    page = _form_page(boss, big)
    assert f'name="number-{pid}" value="INV-200-R1"' in page.get_data(as_text=True)
    assert boss.post(f"/admin/disputes/{big.public_id}/rebill",
                     data=_form(page, large, clock, **changes)).status_code == 303
    assert _state(db, big)[0] == "rebilled"
    assert db.scalar(select(Invoice.balance_minor).where(Invoice.number == "INV-200-R1")) == 90_000


def test_an_invoice_with_more_lines_than_a_correction_may_have_says_so(client, db, clock, case):
    many = make_invoice(db, clock, case["customer"], number="INV-400",
                        lines=[(f"Part {n}", 1, 100) for n in range(MAX_CORRECTED_LINES + 5)])
    dispute = raise_test_dispute(db, clock, case["clerk"], [many])
    staff_sign_in(client, case["ana"], clock)
    html = _form_page(client, dispute).get_data(as_text=True)
    assert f"has {MAX_CORRECTED_LINES + 5} lines; a corrected invoice can have at most {MAX_CORRECTED_LINES}" in html
    assert f"line-{many.public_id}-{MAX_CORRECTED_LINES - 1}-description" in html
    assert f"line-{many.public_id}-{MAX_CORRECTED_LINES}-description" not in html


def test_a_closed_dispute_is_not_rebilled(client, db, clock, case):
    dispute, invoice = case["dispute"], case["invoice"]
    service.reject(staff_context(db, clock), None, dispute.public_id, "The price list of May applies.")
    db.commit()
    staff_sign_in(client, case["ana"], clock)
    assert "Re-bill with a corrected invoice" not in client.get(
        f"/admin/disputes/{dispute.public_id}").get_data(as_text=True)
    page = _form_page(client, dispute)
    assert page.status_code == 200 and "can be re-billed while it is received or under review" in page.get_data(
        as_text=True)
    before = _state(db, dispute)
    response = client.post(f"/admin/disputes/{dispute.public_id}/rebill", data=_form(page, invoice, clock))
    assert response.status_code == 400
    assert _state(db, dispute) == before
    assert client.get("/admin/disputes/nosuchdispute/rebill").status_code == 404
