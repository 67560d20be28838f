"""The customer pages (VIEW_DISPUTES: every staff role): the bounded search, and one customer's
history on one timeline, newest first, each entry linking to its page; another customer's
events never appear, unknown ids are 404, paging is bounded and costs a fixed number of
statements."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.domain.disputes.states import DisputeStatus
from portal.domain.notifications.rendering import RenderedEmail
from portal.domain.notifications.service import enqueue
from portal.domain.refunds.models import Chargeback, Refund
from portal.domain.staff.states import StaffRole
from portal.domain.timeline.queries import PAGE_SIZE
from tests.support.disputes import raise_test_dispute
from tests.support.factories import (
    make_allocated_payment, make_contact, make_customer, make_invoice, make_invoice_link, make_staff, staff_sign_in,
)
from tests.support.plans import make_test_plan
from tests.support.promises import make_test_promise
from tests.web.account.test_account_query_counts import counted_statements

NOTE = RenderedEmail(subject="Your invoices", text="Hello\n", html="")


def _history(db, clock, customer, contact, marker: str):
    """One of everything for `customer`, an hour apart, oldest first."""
    invoice = make_invoice(db, clock, customer, total_minor=10_000, number=f"INV-{marker}")
    clock.advance(hours=1)
    payment = make_allocated_payment(db, clock, customer, [(invoice, 2_500)], status="succeeded")
    payment.reference = f"PAY-{marker}"
    clock.advance(hours=1)
    db.add(Refund(payment_id=payment.id, currency="USD", amount_minor=500, status="succeeded", reason="Damaged box",
                  request_key=f"r-{marker}", idempotency_key=f"r-{marker}", created_at=clock.now(),
                  updated_at=clock.now()))
    clock.advance(hours=1)
    db.add(Chargeback(payment_id=payment.id, stripe_dispute_id=f"dp_{marker}", currency="USD", amount_minor=700,
                      status="open", stripe_status="needs_response", reason="fraudulent", opened_at=clock.now()))
    clock.advance(hours=1)
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="10.00")
    clock.advance(hours=1)
    dispute.status, dispute.resolved_at = DisputeStatus.REJECTED, clock.now()
    clock.advance(hours=1)
    plan = make_test_plan(db, clock, contact, [make_invoice(db, clock, customer, total_minor=9_000)], days=3)
    clock.advance(hours=1)
    make_test_promise(db, clock, contact, [make_invoice(db, clock, customer, total_minor=3_000)], days=5)
    clock.advance(hours=1)
    enqueue(db, clock, kind="reminder", to=contact.email, email=NOTE)
    clock.advance(hours=1)
    link = make_invoice_link(db, clock, contact, [invoice])
    clock.advance(hours=1)
    db.flush()
    return {"payment": payment, "dispute": dispute, "plan": plan, "link": link}


@pytest.fixture
def two_customers(db, clock):
    acme, globex = make_customer(db, clock, name="Acme Tools"), make_customer(db, clock, name="Globex 100% Corp")
    pat, hank = make_contact(db, clock, acme, email="pat@acme.example"), make_contact(db, clock, globex,
                                                                                     email="hank@globex.example")
    objects = _history(db, clock, acme, pat, "ACME")
    _history(db, clock, globex, hank, "GLOBEX")
    db.commit()
    return acme, globex, objects


@pytest.mark.parametrize("role", list(StaffRole))
def test_every_role_reads_the_timeline_newest_first(client, db, clock, two_customers, role):
    acme, _globex, objects = two_customers
    staff_sign_in(client, make_staff(db, clock, role=role), clock)
    response = client.get(f"/admin/customers/{acme.public_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    timeline = html[html.index('id="timeline"'):]
    # An hour apart, newest first; an invoice made with its plan or promise shares its time.
    assert re.findall(r"<strong>(.*?)</strong>", timeline) == [
        "Link issued", "Email", "Invoice issued", "Promise made", "Invoice issued", "Plan proposed",
        "Dispute decided", "Dispute raised", "Chargeback", "Refund", "Payment", "Invoice issued"]
    assert f'href="/admin/payments/{objects["payment"].public_id}">PAY-ACME' in html
    assert f'href="/admin/disputes/{objects["dispute"].public_id}"' in html
    assert f'href="/admin/plans/{objects["plan"].public_id}"' in html
    assert "reminder to pat@acme.example" in html and "INV-ACME" in html
    assert "$5.00" in html and "$7.00" in html  # the refund and the chargeback
    # Nothing of the other customer.
    assert "GLOBEX" not in html and "hank@globex.example" not in html


def test_a_used_link_and_a_decided_promise_show(client, db, clock, two_customers, settings):
    acme, _globex, objects = two_customers
    objects["link"].used_at = clock.now()
    db.commit()
    staff_sign_in(client, make_staff(db, clock), clock)
    html = client.get(f"/admin/customers/{acme.public_id}").get_data(as_text=True)
    assert html.index("<strong>Link used</strong>") < html.index("<strong>Link issued</strong>")


@pytest.mark.parametrize("public_id", ["no-such-customer", "x" * 23, "%00"])
def test_unknown_customers_are_404(client, db, clock, public_id):
    staff_sign_in(client, make_staff(db, clock), clock)
    assert client.get(f"/admin/customers/{public_id}").status_code == 404


def test_the_account_number_leads_to_the_customer(client, db, clock, two_customers):
    acme, _globex, objects = two_customers
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    response = client.get(f"/admin/customers/account/{acme.account_number}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/customers/{acme.public_id}")
    assert client.get("/admin/customers/account/NOPE-1").status_code == 404
    # The dispute and payment pages link there.
    link = f'href="/admin/customers/account/{acme.account_number}"'
    assert link in client.get(f"/admin/disputes/{objects['dispute'].public_id}").get_data(as_text=True)
    assert link in client.get(f"/admin/payments/{objects['payment'].public_id}").get_data(as_text=True)


def test_the_search_finds_by_name_or_account_and_treats_wildcards_as_text(client, db, clock, two_customers):
    acme, globex, _objects = two_customers
    staff_sign_in(client, make_staff(db, clock), clock)
    everyone = client.get("/admin/customers").get_data(as_text=True)
    assert "Acme Tools" in everyone and "Globex 100% Corp" in everyone
    by_name = client.get("/admin/customers?q=acme").get_data(as_text=True)
    assert "Acme Tools" in by_name and "Globex" not in by_name
    by_account = client.get(f"/admin/customers?q={globex.account_number}").get_data(as_text=True)
    assert "Globex 100% Corp" in by_account and "Acme Tools" not in by_account
    percent = client.get("/admin/customers?q=%25").get_data(as_text=True)
    assert "Globex 100% Corp" in percent and "Acme Tools" not in percent
    assert client.get("/admin/customers?q=" + "a" * 101).status_code == 400
    assert client.get("/admin/customers?q=a%0Ab").status_code == 400


def test_paging_is_bounded_and_costs_the_same_statements(engine, client, db, clock):
    customer = make_customer(db, clock)
    contact = make_contact(db, clock, customer)
    make_invoice(db, clock, customer, number="INV-FIRST")
    db.commit()
    staff_sign_in(client, make_staff(db, clock), clock)
    path = f"/admin/customers/{customer.public_id}"
    client.get(path)

    def count(url: str = path) -> int:
        with counted_statements(engine) as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    small = count()
    for n in range(PAGE_SIZE + 10):
        message = enqueue(db, clock, kind="reminder", to=contact.email, email=RenderedEmail(f"Note {n}", "x\n", ""))
        message.created_at = clock.now() + timedelta(seconds=n + 1)  # after the invoice; the clock stays
    db.commit()
    assert count() == small
    first = client.get(path).get_data(as_text=True)
    assert first.count("<strong>Email</strong>") == PAGE_SIZE and 'rel="next"' in first
    assert "INV-FIRST" not in first
    second = client.get(path + "?page=2").get_data(as_text=True)
    assert second.count("<li class=") == 11 and "INV-FIRST" in second and 'rel="next"' not in second
    assert count(path + "?page=2") == small
    assert client.get(path + "?page=99999999").status_code == 200  # out of range: the first page
