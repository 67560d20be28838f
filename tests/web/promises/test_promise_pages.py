"""The customer's promise pages through the test client, and the staff list: the button on
the invoice list, the form, making a promise (once per form token), refusals shown with the
form and nothing changed, the promise on the invoice list and page, moving and cancelling,
what a forwarded link's holder may do, and /admin/promises for collectors."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.domain.promises.models import Promise
from portal.domain.promises.states import PromiseStatus
from portal.domain.staff.states import StaffRole
from tests.support.disputes import raise_test_dispute
from tests.support.factories import (
    add_invoice_entry, make_contact, make_customer, make_invoice, make_invoice_link, make_staff, sign_in,
    staff_sign_in,
)
from tests.support.fixtures.links import csrf_from
from tests.support.promises import customer_today, make_test_promise

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


def _count(db) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(Promise))


def _form(client, invoices, *, days=7, today=None, **fields) -> MultiDict:
    page = client.get("/promises/new", query_string=[("invoice", i.public_id) for i in invoices])
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    form = [("csrf_token", csrf_from(page)), ("request_key", _KEY.search(html).group(1)),
            ("date", fields.pop("date", (today + timedelta(days=days)).isoformat())),
            ("method", fields.pop("method", "ach")), ("note", fields.pop("note", "Paid in Friday's run"))]
    form += [("invoice", i.public_id) for i in invoices]
    return MultiDict(form)


def test_the_invoice_list_offers_a_promise_beside_dispute_and_pay(signed_in):
    html = signed_in.get("/invoices").get_data(as_text=True)
    assert 'formaction="/promises/new"' in html and "Promise to pay" in html
    assert html.index("Dispute selected") < html.index("Promise to pay") < html.index("Pay selected")


def test_promising_two_invoices_shows_the_promise_on_the_account(signed_in, db, clock, acme):
    _, clerk, first, second = acme
    today = customer_today(db, clock, clerk)
    form = _form(signed_in, [first, second], today=today)
    response = signed_in.post("/promises", data=form)
    assert response.status_code == 303
    assert _count(db) == 1
    promise = db.scalar(select(Promise))
    assert response.headers["Location"] == f"/promises/{promise.public_id}"
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Promise to pay $245.00" in page and "ACH bank transfer" in page and "Paid in Friday&#39;s run" in page
    assert "INV-100" in page and "INV-200" in page and "2 moves left" in page
    label = f"Promised for {promise.promised_date:%d %b}"
    assert label in signed_in.get("/invoices").get_data(as_text=True)
    invoice_page = signed_in.get(f"/invoices/{first.public_id}").get_data(as_text=True)
    assert label in invoice_page and "/promises/new?invoice=" not in invoice_page
    listing = signed_in.get("/promises").get_data(as_text=True)
    assert "INV-100, INV-200" in listing and "Promised" in listing
    # The same form again (a double click, a reload): the same promise.
    again = signed_in.post("/promises", data=form)
    assert again.headers["Location"] == response.headers["Location"] and _count(db) == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("date", "", "Choose the date you will pay"),
    ("date", "2026-02-30", "That date does not exist"),
    ("date", "15/07/2026", "Choose the date you will pay"),
    ("date", "1" * 5000, "Choose the date you will pay"),
    ("method", "cash", "from the list"),
    ("note", "two\r\nlines", "one line of plain text"),
    ("note", "tab\there", "one line of plain text"),
])
def test_bad_input_shows_the_form_again_and_changes_nothing(signed_in, db, clock, acme, field, value, message):
    _, clerk, first, _ = acme
    form = MultiDict([(k, value if k == field else v)
                      for k, v in _form(signed_in, [first], today=customer_today(db, clock, clerk)).items(multi=True)])
    response = signed_in.post("/promises", data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html.replace("&#39;", "'") and 'action="/promises"' in html
    assert _count(db) == 0


def test_a_nul_anywhere_is_refused_before_the_view(signed_in, db, clock, acme):
    _, clerk, first, _ = acme
    form = _form(signed_in, [first], today=customer_today(db, clock, clerk))
    form.setlist("note", ["nul\x00"])
    response = signed_in.post("/promises", data=form)
    assert response.status_code == 400 and "control characters" in response.get_data(as_text=True)
    assert _count(db) == 0


def test_a_date_outside_the_policy_is_refused(signed_in, db, clock, acme):
    _, clerk, first, _ = acme
    today = customer_today(db, clock, clerk)
    for days in (0, 31):
        response = signed_in.post("/promises", data=_form(signed_in, [first], today=today, days=days))
        assert response.status_code == 400
    assert _count(db) == 0


def test_a_disputed_invoice_cannot_be_promised(signed_in, db, clock, acme):
    _, clerk, first, second = acme
    raise_test_dispute(db, clock, clerk, [second])
    db.commit()
    form_page = signed_in.get("/promises/new", query_string=[("invoice", first.public_id),
                                                             ("invoice", second.public_id)])
    html = form_page.get_data(as_text=True)
    assert "Disputed: it can be promised once the dispute ends." in html
    assert f'name="invoice" value="{second.public_id}"' not in html  # only INV-100 is carried
    forged = _form(signed_in, [first], today=customer_today(db, clock, clerk))
    forged.add("invoice", second.public_id)
    response = signed_in.post("/promises", data=forged)
    assert response.status_code == 400 and "INV-200 is disputed" in response.get_data(as_text=True)
    assert _count(db) == 0


def test_another_company_s_invoice_is_a_404(signed_in, db, clock, acme):
    _, clerk, first, _ = acme
    theirs = make_invoice(db, clock, make_customer(db, clock, name="Bravo Corp"), number="BRAVO-9")
    db.commit()
    assert signed_in.get("/promises/new", query_string={"invoice": theirs.public_id}).status_code == 404
    form = _form(signed_in, [first], today=customer_today(db, clock, clerk))
    form.add("invoice", theirs.public_id)
    assert signed_in.post("/promises", data=form).status_code == 404
    assert _count(db) == 0


def test_moving_and_cancelling(signed_in, db, clock, acme):
    _, clerk, first, _ = acme
    promise = make_test_promise(db, clock, clerk, [first])
    db.commit()
    path = f"/promises/{promise.public_id}"
    today = customer_today(db, clock, clerk)
    token = csrf_from(signed_in.get(path))
    for days in (9, 11):
        assert signed_in.post(f"{path}/move", data={"csrf_token": token,
                                                     "date": (today + timedelta(days=days)).isoformat()}).status_code == 303
    page = signed_in.get(path).get_data(as_text=True)
    assert "cannot be moved again" in page and f"first promised for {promise.original_date:%d %b %Y}" in page
    refused = signed_in.post(f"{path}/move", data={"csrf_token": token, "date": (today + timedelta(days=12)).isoformat()})
    assert refused.status_code == 400 and "cannot be moved again" in refused.get_data(as_text=True)
    assert signed_in.post(f"{path}/cancel", data={"csrf_token": token}).status_code == 303
    db.expire_all()
    assert db.get(Promise, promise.id).status == PromiseStatus.CANCELLED
    assert "Promised for" not in signed_in.get("/invoices").get_data(as_text=True)
    assert signed_in.post(f"{path}/cancel", data={"csrf_token": token}).status_code == 400


def test_a_forwarded_link_promises_its_invoices_and_sees_only_their_promises(client, db, clock, acme):
    _, clerk, first, second = acme
    hidden = make_test_promise(db, clock, clerk, [second])
    link = make_invoice_link(db, clock, clerk, [first])
    sign_in(client, clerk, clock, link=link)
    assert client.get(f"/promises/{hidden.public_id}").status_code == 404
    assert client.get("/promises/new", query_string={"invoice": second.public_id}).status_code == 404
    response = client.post("/promises", data=_form(client, [first], today=customer_today(db, clock, clerk)))
    assert response.status_code == 303
    listing = client.get("/promises").get_data(as_text=True)
    assert "INV-100" in listing and "INV-200" not in listing


def test_the_staff_list_puts_broken_promises_first_with_each_customer_s_counts(client, db, clock, acme, supplier,
                                                                                link_signer):
    from portal.domain.promises.jobs import check_promises
    from portal.domain.promises.notifications import PromiseMail
    from tests.support.promises import POLICY

    customer, clerk, first, second = acme
    third = make_invoice(db, clock, customer, number="INV-300")
    kept = make_test_promise(db, clock, clerk, [first], days=2)
    make_test_promise(db, clock, clerk, [second], days=2)
    add_invoice_entry(db, clock, first, "payment", -16_500)
    clock.advance(days=6)
    check_promises(db, clock, PromiseMail(supplier, link_signer), POLICY)
    make_test_promise(db, clock, clerk, [third], days=5)
    db.commit()
    assert kept.status == PromiseStatus.KEPT

    staff_sign_in(client, make_staff(db, clock, role=StaffRole.COLLECTOR), clock)
    html = client.get("/admin/promises").get_data(as_text=True)
    assert html.index("INV-200") < html.index("INV-300") < html.index("INV-100")  # broken, open, kept
    assert html.count("1 / 1") == 3  # Acme: one kept, one broken, on each row
    only_broken = client.get("/admin/promises?status=broken").get_data(as_text=True)
    assert "INV-200" in only_broken and "INV-100" not in only_broken and "INV-300" not in only_broken
    assert client.get("/admin/promises?status=nonsense&page=x").status_code == 200


def test_analysts_do_not_see_the_promise_list(client, db, clock):
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.ANALYST), clock)
    assert client.get("/admin/promises").status_code == 403


def test_the_note_and_the_company_name_render_escaped(client, db, clock):
    from markupsafe import escape

    script, attribute = "<script>alert(1)</script>", '"><img src=x onerror=alert(2)>'
    customer = make_customer(db, clock, name=f"Acme {script}")
    clerk = make_contact(db, clock, customer)
    promise = make_test_promise(db, clock, clerk, [make_invoice(db, clock, customer)], note=f"Run {script}{attribute}")
    sign_in(client, clerk, clock)
    customer_page = client.get(f"/promises/{promise.public_id}").get_data(as_text=True)
    staff = make_staff(db, clock, role=StaffRole.SUPERVISOR)
    staff_client = client.application.test_client()
    staff_sign_in(staff_client, staff, clock)
    staff_page = staff_client.get("/admin/promises").get_data(as_text=True)
    for page in (customer_page, staff_page):
        assert script not in page and attribute not in page
    assert str(escape(promise.note)) in customer_page and str(escape(customer.name)) in staff_page
