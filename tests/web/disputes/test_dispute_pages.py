"""The customer's dispute pages through the test client: raising (whole, lines, several
invoices), every refusal changing nothing, the dispute page, answering and withdrawing, what a
forwarded link's holder may see and raise, paying only the undisputed part, and the pages'
statement counts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.domain.core.money import Money
from portal.domain.disputes import service
from portal.domain.disputes.models import Dispute, DisputeMessage
from portal.domain.disputes.notifications import DisputeMail
from portal.domain.disputes.policy import LineChoice
from portal.domain.invoicing.models import Invoice
from portal.domain.payments.models import Payment
from tests.support import attachment_files as files
from tests.support.disputes import contact_access, contact_context, raise_test_dispute, staff_context, uploads
from tests.support.factories import make_contact, make_customer, make_invoice, make_invoice_link, sign_in
from tests.support.fixtures.links import csrf_from
from tests.web.account.test_account_query_counts import counted_statements

_KEY = re.compile(r'name="request_key" value="([^"]+)"')


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    invoice = make_invoice(db, clock, customer, number="INV-100", lines=[
        ("Widgets", 10, 1_250), ("Freight", 1, 4_000)])  # 165.00
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=8_000)
    return customer, clerk, invoice, second


@pytest.fixture
def signed_in(client, acme, clock):
    sign_in(client, acme[1], clock)
    return client


def _state(db) -> tuple[int, int, int]:
    db.commit()
    db.expire_all()
    return (db.scalar(select(func.count()).select_from(Dispute)),
            db.scalar(select(func.coalesce(func.sum(Invoice.held_minor), 0))),
            db.scalar(select(func.count()).select_from(DisputeMessage)))


def _form(client, invoices, **fields) -> list[tuple[str, str]]:
    page = client.get("/disputes/new", query_string=[("invoice", i.public_id) for i in invoices])
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    form = [("csrf_token", csrf_from(page)), ("request_key", _KEY.search(html).group(1)),
            ("reason", fields.pop("reason", "pricing")),
            ("description", fields.pop("description", "The widgets were priced at the old rate."))]
    for invoice in invoices:
        form.append(("invoice", invoice.public_id))
    form += list(fields.items())
    return form


def _post(client, form):
    return client.post("/disputes", data=MultiDict(form))


def _held(db, invoice) -> int:
    db.commit()
    db.expire_all()
    return db.scalar(select(Invoice.held_minor).where(Invoice.id == invoice.id))


def test_raise_a_dispute_on_two_lines_and_see_it(signed_in, db, acme):
    _, _, invoice, _ = acme
    pid = invoice.public_id
    response = _post(signed_in, _form(signed_in, [invoice], **{
        f"mode-{pid}": "lines", f"line-{pid}": "1", f"quantity-{pid}-1": "2",
    }) + [(f"line-{pid}", "2"), (f"line-amount-{pid}-2", "15.00")])
    assert response.status_code == 303
    page = signed_in.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Received" in html and "Not yet assigned" in html and "$40.00" in html
    assert "Widgets × 2 ($25.00)" in html and "Freight ($15.00)" in html
    assert "Dispute raised" in html
    assert _held(db, invoice) == 4_000
    listing = signed_in.get("/disputes").get_data(as_text=True)
    assert "INV-100" in listing and "Pricing" in listing


def test_the_invoice_page_offers_a_dispute_and_shows_the_disputed_amount(signed_in, db, clock, acme):
    _, clerk, invoice, _ = acme
    html = signed_in.get(f"/invoices/{invoice.public_id}").get_data(as_text=True)
    assert f"/disputes/new?invoice={invoice.public_id}" in html
    raise_test_dispute(db, clock, clerk, [invoice], amount_text="65.00")
    html = signed_in.get(f"/invoices/{invoice.public_id}").get_data(as_text=True)
    assert "Disputed</dt><dd>$65.00" in html and "Pay $100.00" in html
    overview = signed_in.get("/account").get_data(as_text=True)
    assert "Disputed" in overview and "$65.00" in overview
    listing = signed_in.get("/invoices").get_data(as_text=True)
    assert "$65.00 disputed" in listing and "badge-disputed" in listing


def test_one_dispute_over_several_invoices(signed_in, db, acme):
    _, _, invoice, second = acme
    response = _post(signed_in, _form(signed_in, [invoice, second], **{
        f"mode-{invoice.public_id}": "amount", f"amount-{invoice.public_id}": "10.00",
        f"mode-{second.public_id}": "whole"}))
    assert response.status_code == 303
    assert (_held(db, invoice), _held(db, second)) == (1_000, 8_000)
    html = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "INV-100" in html and "INV-200" in html and "$90.00" in html


def test_a_double_submit_creates_one_dispute(signed_in, db, acme):
    _, _, invoice, _ = acme
    form = _form(signed_in, [invoice], **{f"mode-{invoice.public_id}": "amount", f"amount-{invoice.public_id}": "5.00"})
    first, second = _post(signed_in, form), _post(signed_in, form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert _state(db)[:2] == (1, 500)


@pytest.mark.parametrize(("fields", "message"), [
    ({"mode-{pid}": "amount", "amount-{pid}": "165.01"}, "at most $165.00 can be disputed"),
    ({"mode-{pid}": "amount", "amount-{pid}": "1E+999990"}, "as digits"),
    ({"mode-{pid}": "amount", "amount-{pid}": "9" * 5000}, "too long"),
    ({"mode-{pid}": "lines", "line-{pid}": "1", "quantity-{pid}-1": "11"}, "at most that can be disputed"),
    ({"mode-{pid}": "lines", "line-{pid}": "7"}, "not on the invoice"),
    ({"mode-{pid}": "lines"}, "at least one line"),
    ({"mode-{pid}": "sideways"}, "Choose what you dispute"),
    ({"description": "too short"}, "at least 10 characters"),
    ({"description": "x" * 4001}, "at most 4000 characters"),
    ({"description": "Wrong price\u202e on widgets"}, "not allowed"),
    ({"description": "Wrong price\ton widgets"}, "not allowed"),
    ({"reason": "free_money"}, "Choose a reason"),
])
def test_refusals_show_the_form_again_and_change_nothing(signed_in, db, acme, fields, message):
    _, _, invoice, _ = acme
    fields = {name.format(pid=invoice.public_id): value for name, value in fields.items()}
    named = {key: fields.pop(key) for key in ("reason", "description") if key in fields}
    form = _form(signed_in, [invoice], **named, **fields)
    before = _state(db)
    response = _post(signed_in, form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html, html[:3000]
    assert 'name="request_key"' in html  # the form again, to correct
    assert _state(db) == before


def test_control_characters_in_the_description_are_refused_before_anything(signed_in, db, acme):
    _, _, invoice, _ = acme
    before = _state(db)
    form = _form(signed_in, [invoice], description="Wrong price\x00 on widgets")
    assert _post(signed_in, form).status_code == 400
    assert _state(db) == before


def test_another_companys_invoices_and_disputes_are_404(signed_in, db, clock, acme):
    _, _, invoice, _ = acme
    other = make_customer(db, clock)
    stranger = make_contact(db, clock, other)
    foreign_invoice = make_invoice(db, clock, other, number="OTHER-1")
    foreign = raise_test_dispute(db, clock, stranger, [foreign_invoice], amount_text="1.00")
    assert signed_in.get("/disputes/new", query_string={"invoice": foreign_invoice.public_id}).status_code == 404
    form = _form(signed_in, [invoice]) + [("invoice", foreign_invoice.public_id)]
    before = _state(db)
    assert _post(signed_in, form).status_code == 404
    assert signed_in.get(f"/disputes/{foreign.public_id}").status_code == 404
    token = csrf_from(signed_in.get("/disputes/new", query_string={"invoice": invoice.public_id}))
    assert signed_in.post(f"/disputes/{foreign.public_id}/withdraw", data={"csrf_token": token}).status_code == 404
    assert signed_in.post(f"/disputes/{foreign.public_id}/messages",
                          data={"csrf_token": token, "body": "hello"}).status_code == 404
    assert _state(db) == before
    assert "OTHER-1" not in signed_in.get("/disputes").get_data(as_text=True)


def test_a_link_holder_sees_and_raises_disputes_of_the_link_invoices_only(client, db, clock, acme):
    _, clerk, invoice, second = acme
    colleague = make_contact(db, clock, acme[0], email="colleague@acme.example")
    on_link = raise_test_dispute(db, clock, colleague, [invoice], amount_text="1.00")
    on_other = raise_test_dispute(db, clock, colleague, [second], amount_text="1.00")
    spanning = raise_test_dispute(db, clock, colleague, [invoice, second], amount_text="2.00")
    link = make_invoice_link(db, clock, clerk, [invoice])
    sign_in(client, clerk, clock, link=link)
    listing = client.get("/disputes").get_data(as_text=True)
    assert on_link.public_id in listing
    assert on_other.public_id not in listing and spanning.public_id not in listing and "INV-200" not in listing
    assert client.get(f"/disputes/{on_link.public_id}").status_code == 200
    assert client.get(f"/disputes/{on_other.public_id}").status_code == 404
    assert client.get(f"/disputes/{spanning.public_id}").status_code == 404
    assert client.get("/disputes/new", query_string={"invoice": second.public_id}).status_code == 404
    before = _state(db)
    form = _form(client, [invoice]) + [("invoice", second.public_id)]
    assert _post(client, form).status_code == 404
    assert _state(db) == before
    assert _post(client, _form(client, [invoice])).status_code == 303


def test_answering_resumes_the_review_and_withdrawing_releases(signed_in, db, clock, acme, supplier, link_signer):
    _, clerk, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], amount_text="20.00")
    service.request_information(staff_context(db, clock), DisputeMail(supplier, link_signer), dispute.public_id,
                                "Please send the delivery note.")
    service.reply(staff_context(db, clock), DisputeMail(supplier, link_signer), dispute.public_id,
                  "Internal: check the price list of May", internal=True)
    page = signed_in.get(f"/disputes/{dispute.public_id}")
    html = page.get_data(as_text=True)
    assert "Waiting for your answer" in html and "Please send the delivery note." in html
    assert "price list of May" not in html and "Internal note" not in html
    token = csrf_from(page)
    empty = signed_in.post(f"/disputes/{dispute.public_id}/messages", data={"csrf_token": token, "body": "  "})
    assert empty.status_code == 400 and "Write a message" in empty.get_data(as_text=True)
    answer = signed_in.post(f"/disputes/{dispute.public_id}/messages",
                            data={"csrf_token": token, "body": "Delivery note DN-4471\nsigned by Sam"})
    assert answer.status_code == 303
    html = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "Under review" in html and "DN-4471" in html and "You answered" in html
    assert signed_in.post(f"/disputes/{dispute.public_id}/withdraw", data={"csrf_token": token}).status_code == 303
    assert _held(db, invoice) == 0
    html = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "Withdrawn" in html and "Withdraw this dispute" not in html


def test_dispute_text_is_escaped(signed_in, db, clock, acme):
    _, clerk, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], amount_text="1.00",
                                 description="<script>alert(1)</script> is the price")
    service.add_message(contact_context(db, clock, clerk), contact_access(clerk), dispute.public_id,
                        '"><img src=x onerror=alert(2)>')
    html = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_paying_the_full_balance_while_part_is_disputed_is_refused(signed_in, db, clock, acme):
    """Pay the undisputed part now: the held amount is not payable, by the page or the POST."""
    _, clerk, invoice, _ = acme
    raise_test_dispute(db, clock, clerk, [invoice], amount_text="65.00")
    page = signed_in.get("/pay", query_string={"invoice": invoice.public_id})
    html = page.get_data(as_text=True)
    assert 'value="100.00"' in html and "$65.00 disputed, held until resolved" in html
    nonce = re.search(r'name="nonce" value="([^"]+)"', html).group(1)
    form = MultiDict([("csrf_token", csrf_from(page)), ("nonce", nonce), ("card_token", "tok_visa"),
                      ("invoice", invoice.public_id), (f"amount-{invoice.public_id}", "165.00")])
    db.commit()
    payments_before = db.scalar(select(func.count()).select_from(Payment))
    response = signed_in.post("/pay", data=form, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "Invoice INV-100: at most $100.00 can be paid now ($65.00 is disputed and held until the dispute "
        "is resolved).")
    db.commit()
    assert db.scalar(select(func.count()).select_from(Payment)) == payments_before


def test_the_dispute_page_offers_the_rest_of_its_invoices_to_pay(signed_in, db, clock, acme):
    """Disputing part of two invoices: the dispute page offers what is left of both, in one
    payment, and the pay page it links to takes exactly that."""
    _, clerk, invoice, second = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice, second], amount_text="65.00")  # 65.00 on each
    db.commit()
    html = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "the rest of INV-100, INV-200 can be paid now" in html
    link = re.search(r'href="(/pay\?[^"]+)">Pay the rest: \$115\.00</a>', html)  # 100.00 + 15.00
    assert link is not None
    pay = signed_in.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert 'value="100.00"' in pay and 'value="15.00"' in pay


def test_a_dispute_covering_all_that_is_open_offers_nothing_to_pay(signed_in, db, clock, acme):
    _, clerk, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice])
    db.commit()
    html = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "Dispute raised" in html
    assert "/pay?" not in html and "can be paid now" not in html


def test_a_fully_disputed_invoice_cannot_be_paid(signed_in, db, clock, acme):
    _, clerk, invoice, _ = acme
    raise_test_dispute(db, clock, clerk, [invoice])
    html = signed_in.get("/pay", query_string={"invoice": invoice.public_id}).get_data(as_text=True)
    assert 'id="pay-form"' not in html


def test_dispute_pages_cost_the_same_whatever_the_data(app, engine, db, clock, file_storage):
    def account_with(count: int):
        customer = make_customer(db, clock)
        clerk = make_contact(db, clock, customer)
        disputes = []
        for n in range(count):
            invoices = [make_invoice(db, clock, customer, lines=[("A", 2, 1_000), ("B", 1, 500 + n)])
                        for _ in range(1 + n % 2)]
            disputes.append(raise_test_dispute(db, clock, clerk, invoices, lines={
                invoices[0].id: [LineChoice(1, quantity_text="1"), LineChoice(2)]}, amount_text="1.00",
                files=uploads(file_storage, *((f"note {k}.pdf", files.tiny_pdf()) for k in range(1 + n % 3)))))
        for n in range(count // 3):
            service.add_message(contact_context(db, clock, clerk), contact_access(clerk), disputes[-1].public_id,
                                f"Message {n}", files=uploads(file_storage, (f"reply {n}.csv", files.CSV_TEXT)))
        return clerk, disputes[-1]

    def statements(clerk, dispute) -> list[int]:
        client = app.test_client()
        sign_in(client, clerk, clock)
        client.get("/disputes")  # the first request of a session may refresh it
        counted = []
        for path in ("/disputes", f"/disputes/{dispute.public_id}", "/invoices"):
            with counted_statements(engine) as seen:
                assert client.get(path).status_code == 200
            counted.append(len(seen))
        return counted

    small, large = account_with(2), account_with(30)
    assert statements(*small) == statements(*large)


def test_a_credit_waiting_for_approval_shows_the_customer_no_amount(signed_in, db, clock, acme, supplier, link_signer):
    customer, clerk, invoice, second = acme
    dispute = raise_test_dispute(db, clock, clerk, [invoice], amount_text="40.00")
    db.commit()
    service.resolve_accept(staff_context(db, clock), DisputeMail(supplier, link_signer), dispute.public_id,
                           credits={invoice.public_id: Money(3_500, "USD")}, credit_limit=Money(1_000, "USD"))
    db.commit()
    assert dispute.status == "awaiting_approval"
    page = signed_in.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "INV-100: $40.00 disputed" in page  # the history is there, with what was disputed
    assert "$35.00" not in page and "Credit of" not in page
