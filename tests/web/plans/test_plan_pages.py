"""The customer's plan pages through the test client: the form, the schedule and the exact
terms shown before accepting, accepting once per form token, the plan's page, refusals shown
with the form and nothing changed, forwarded-link holders kept out; and /admin/plans for
collectors (the list, cash by week, approve, decline with a reason, pause)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.domain.plans.models import Plan, PlanAgreement
from portal.domain.plans.policy import PlanPolicy
from portal.domain.staff.states import StaffRole
from tests.support.factories import (
    make_contact, make_customer, make_invoice, make_invoice_link, make_staff, sign_in, staff_sign_in,
)
from tests.support.fixtures.links import csrf_from
from tests.support.plans import customer_today, make_test_plan

_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=60_000)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=30_001)
    return customer, clerk, first, second


@pytest.fixture
def signed_in(client, acme, clock):
    sign_in(client, acme[1], clock)
    return client


def _count(db) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(Plan))


def _preview(client, db, clock, clerk, invoices, **fields):
    page = client.get("/plans/new", query_string=[("invoice", i.public_id) for i in invoices])
    assert page.status_code == 200
    data = MultiDict([("csrf_token", csrf_from(page)), *(("invoice", i.public_id) for i in invoices)])
    data.update({"count": "3", "cadence": "monthly", "first": customer_today(db, clock, clerk).isoformat(),
                 "pay_by": "myself", **fields})
    return client.post("/plans/preview", data=data)


def test_the_schedule_and_terms_are_shown_then_accepted_once(signed_in, db, clock, acme):
    _, clerk, first, second = acme
    shown = _preview(signed_in, db, clock, clerk, [first, second])
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "$300.01" in html and "$300.00" in html
    assert "I accept these terms" in html and "INV-100, INV-200 in 3 installments" in html
    accept = MultiDict(_HIDDEN.findall(html))
    answer = signed_in.post("/plans", data=accept)
    assert answer.status_code == 303
    again = signed_in.post("/plans", data=accept)  # a double click
    assert again.status_code == 303 and again.headers["Location"] == answer.headers["Location"]
    assert _count(db) == 1
    plan = db.scalar(select(Plan))
    agreement = db.scalar(select(PlanAgreement))
    assert plan.status == "active" and "INV-100, INV-200 in 3 installments" in agreement.terms_text
    page = signed_in.get(answer.headers["Location"])
    assert page.status_code == 200 and "scheduled" in page.get_data(as_text=True)
    assert "Pay early or pay off the plan ($900.01 left)" in page.get_data(as_text=True)
    assert plan.public_id in signed_in.get("/plans").get_data(as_text=True)


@pytest.mark.parametrize(("fields", "message"), [
    ({"count": "13"}, "between 2 and 12"),
    ({"count": "x"}, "between 2 and 12"),
    ({"cadence": "daily"}, "how often"),
    ({"first": "2026-02-30"}, "does not exist"),
    ({"first": "2020-01-01"}, "in the past"),
    ({"pay_by": "autopay", "card": ""}, "saved cards"),
])
def test_refusals_show_the_form_again_and_change_nothing(signed_in, db, clock, acme, fields, message):
    _, clerk, first, _ = acme
    answer = _preview(signed_in, db, clock, clerk, [first], **fields)
    assert answer.status_code == 400 and message in answer.get_data(as_text=True)
    assert _count(db) == 0


def test_changed_terms_are_refused(signed_in, db, clock, acme):
    _, clerk, first, _ = acme
    accept = MultiDict(_HIDDEN.findall(_preview(signed_in, db, clock, clerk, [first]).get_data(as_text=True)))
    accept["count"] = "4"  # not what the terms shown say
    answer = signed_in.post("/plans", data=accept)
    assert answer.status_code == 400 and "changed since it was shown" in answer.get_data(as_text=True)
    assert _count(db) == 0


def test_a_forwarded_links_holder_cannot_propose_a_plan(client, db, clock, acme):
    _, clerk, first, _ = acme
    sign_in(client, clerk, clock, link=make_invoice_link(db, clock, clerk, [first]))
    assert client.get("/plans/new").status_code == 403
    assert client.get("/plans").status_code == 403


# --- staff ---------------------------------------------------------------------------------------


def test_collectors_list_plans_see_cash_by_week_and_decide_waiting_ones(client, db, clock, acme):
    _, clerk, first, second = acme
    waiting = make_test_plan(db, clock, clerk, [first], count=4, policy=PlanPolicy(max_count=3))
    running = make_test_plan(db, clock, clerk, [second], count=2, cadence="weekly", days=1)
    db.commit()
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.COLLECTOR), clock)
    listing = client.get("/admin/plans").get_data(as_text=True)
    assert running.public_id in listing and waiting.public_id not in listing
    assert "$150.01" in listing and "Cash expected" in listing  # 15 June week: the first installment
    assert waiting.public_id in client.get("/admin/plans?status=pending_approval").get_data(as_text=True)

    page = client.get(f"/admin/plans/{waiting.public_id}")
    assert page.status_code == 200 and "more than 3 installments" in page.get_data(as_text=True)
    token = csrf_from(page)
    refused = client.post(f"/admin/plans/{waiting.public_id}/decline", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 400
    db.expire_all()
    assert db.get(Plan, waiting.id).status == "pending_approval"
    assert client.post(f"/admin/plans/{waiting.public_id}/approve", data={"csrf_token": token}).status_code == 303
    db.expire_all()
    assert db.get(Plan, waiting.id).status == "active"
    assert client.post(f"/admin/plans/{waiting.public_id}/approve", data={"csrf_token": token}).status_code == 400
    assert client.post(f"/admin/plans/{waiting.public_id}/explode", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/plans/{running.public_id}/pause", data={"csrf_token": token}).status_code == 303
    db.expire_all()
    assert db.get(Plan, running.id).status == "paused"


def test_a_counter_proposal_is_sent_by_staff_and_accepted_on_the_plan_page(client, db, clock, acme):
    _, clerk, first, _ = acme
    waiting = make_test_plan(db, clock, clerk, [first], count=6, policy=PlanPolicy(max_count=3))
    db.commit()
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.COLLECTOR), clock)
    token = csrf_from(client.get(f"/admin/plans/{waiting.public_id}"))
    sent = client.post(f"/admin/plans/{waiting.public_id}/counter", data={
        "csrf_token": token, "count": "3", "cadence": "monthly", "first": "2026-07-01",
        "reason": "Three months at most."})
    assert sent.status_code == 303
    sign_in(client, clerk, clock)
    page = client.get(f"/plans/{waiting.public_id}")
    html = page.get_data(as_text=True)
    assert "We propose other terms" in html and "Three months at most." in html and "2026-09-01: $200.00" in html
    digest = re.search(r'name="terms_digest" value="([0-9a-f]{64})"', html).group(1)
    tampered = client.post(f"/plans/{waiting.public_id}/answer",
                           data={"csrf_token": csrf_from(page), "answer": "accept", "terms_digest": "0" * 64})
    assert tampered.status_code == 400
    accepted = client.post(f"/plans/{waiting.public_id}/answer",
                           data={"csrf_token": csrf_from(page), "answer": "accept", "terms_digest": digest})
    assert accepted.status_code == 303
    db.expire_all()
    assert db.get(Plan, waiting.id).status == "active"


def test_the_form_offers_a_verified_bank_account_never_a_pending_one(signed_in, db, clock, acme, fake_gateway):
    """SECURITY.md P12: a bank account waiting for its microdeposits is not offered for
    autopay, and choosing it anyway (a crafted form) is refused with nothing changed."""
    from tests.support.methods import save_bank_account

    _, clerk, first, _ = acme
    verified = save_bank_account(db, clock, fake_gateway, clerk, last4="6789")
    pending = save_bank_account(db, clock, fake_gateway, clerk, microdeposits=True, last4="1111")
    db.commit()
    form = signed_in.get("/plans/new", query_string={"invoice": first.public_id}).get_data(as_text=True)
    assert f'value="{verified.public_id}"' in form and "ending 6789" in form
    assert pending.public_id not in form and "ending 1111" not in form

    refused = _preview(signed_in, db, clock, clerk, [first], pay_by="autopay", card=pending.public_id)
    assert refused.status_code == 400 and "it is not verified" in refused.get_data(as_text=True)
    assert _count(db) == 0

    shown = _preview(signed_in, db, clock, clerk, [first], pay_by="autopay", card=verified.public_id)
    assert shown.status_code == 200
    assert "saved bank account STRIPE TEST BANK checking account ending 6789" in shown.get_data(as_text=True)
    assert signed_in.post("/plans", data=MultiDict(_HIDDEN.findall(shown.get_data(as_text=True)))).status_code == 303
    assert db.scalar(select(Plan)).saved_method_id == verified.id
