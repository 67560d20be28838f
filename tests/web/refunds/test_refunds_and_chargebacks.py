"""Staff refunds and card chargebacks (SECURITY.md P13, P14), through the staff pages and the
real webhook endpoint with events built and signed like Stripe's.

The app talks to the in-process fake gateway (idempotent by key like Stripe; localstripe sends
no refund or dispute events). After every sequence `check_ledger` agrees with the balances."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.models import AuditEntry
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.service import post_entry
from portal.domain.ledger.states import EntryKind
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import StripeEvent
from portal.domain.refunds.jobs import replay_unprocessed_events, resend_unanswered_refunds
from portal.domain.refunds.models import Chargeback, Refund
from portal.domain.staff import policy
from portal.domain.staff.states import StaffRole
from tests.support.disputes import raise_test_dispute
from tests.support.factories import make_allocated_payment, make_customer, make_invoice, make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from
from tests.support.fixtures.stripe import dispute_object, refund_object, stripe_event
from tests.support.paying import balance, counts, make_company, post_event

_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


@pytest.fixture
def company(db, clock):
    return make_company(db, clock, 12_500, 8_000)


@pytest.fixture
def paid(db, clock, company):
    """Both invoices paid in full by one settled card payment (205.00)."""
    first, second = company.invoices
    payment = make_allocated_payment(db, clock, company.customer, [(first, 12_500), (second, 8_000)],
                                     status="succeeded")
    payment.stripe_payment_intent_id = "pi_settled000001"
    payment.reference = "PAY-2026-900001"
    for invoice, amount in ((first, 12_500), (second, 8_000)):
        post_entry(db, invoice_id=invoice.id, kind=EntryKind.PAYMENT, amount_minor=-amount, payment_id=payment.id,
                   reference="ch_settled000001", at=clock.now())
    payment.settled_at = clock.now()
    db.commit()
    return payment


@pytest.fixture
def supervisor(db, clock):
    return make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Sam Supervisor")


@pytest.fixture
def staff_client(app, supervisor, clock):
    client = app.test_client()
    staff_sign_in(client, supervisor, clock)
    return client


def _page(client, payment):
    response = client.get(f"/admin/payments/{payment.public_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _form(page, amount: str, reason: str = "Goods returned") -> dict:
    return {"csrf_token": csrf_from(page), "form_token": _TOKEN.search(page.get_data(as_text=True)).group(1),
            "amount": amount, "reason": reason}


def _refunds(db):
    db.commit()
    db.expire_all()
    return db.scalars(select(Refund).order_by(Refund.id)).all()


def _balances(db, company):
    return [balance(db, invoice) for invoice in company.invoices]


def _ledger_agrees(db):
    db.commit()
    report = check_ledger(db)
    assert report.is_consistent, [str(d) for d in report.differences]


def _now(clock) -> int:
    return int(clock.now().timestamp())


def _send(client, clock, type_, obj, event_id=None):
    payload = stripe_event(type_, obj, event_id=event_id, created=_now(clock))
    response = post_event(client, payload, _now(clock))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _counts(db):
    db.commit()
    db.expire_all()
    return {**counts(db), "refunds": db.scalar(select(func.count()).select_from(Refund)),
            "chargebacks": db.scalar(select(func.count()).select_from(Chargeback))}


# --- P14: once per request ------------------------------------------------------------------


def test_a_part_refund_reopens_the_invoices_in_allocation_order(staff_client, db, paid, company, fake_gateway):
    page = _page(staff_client, paid)
    response = staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=_form(page, "150.00"))
    assert response.status_code == 303
    [refund] = _refunds(db)
    assert refund.status == "succeeded" and refund.amount_minor == 15_000 and refund.stripe_refund_id
    assert _balances(db, company) == [12_500, 2_500]  # the first invoice fully, then 25.00 of the second
    assert "Nothing left to refund" not in _page(staff_client, paid).get_data(as_text=True)
    _ledger_agrees(db)


def test_double_submit_makes_one_refund(staff_client, db, paid, company, fake_gateway):
    form = _form(_page(staff_client, paid), "205.00")
    first = staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=form)
    second = staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=form)
    assert (first.status_code, second.status_code) == (303, 303)
    assert len(_refunds(db)) == 1 and fake_gateway.refund_calls == 1
    assert _balances(db, company) == [12_500, 8_000]
    # L1: who refunded, what and why; then what Stripe said.
    [refund] = _refunds(db)
    trail = db.execute(select(AuditEntry.action, AuditEntry.actor_type, AuditEntry.after)
                       .where(AuditEntry.object_id == refund.public_id).order_by(AuditEntry.id)).all()
    assert [(action, actor) for action, actor, _ in trail] == [("refund.requested", "staff"),
                                                               ("refund.succeeded", "staff")]
    assert trail[0][2]["reason"] == "Goods returned" and trail[0][2]["amount_minor"] == 20_500
    _ledger_agrees(db)


@pytest.mark.postgres_only
def test_five_concurrent_submits_of_one_form_make_one_refund(app, staff_client, db, clock, paid, company, supervisor,
                                                             fake_gateway):
    """P14 under a race: Stripe answers the first submit only once the four others have had their
    answer ("being sent", nothing waits behind a lock while Stripe answers)."""
    fake_gateway.refund_answer_when = threading.Event()
    form = _form(_page(staff_client, paid), "80.00")
    clients, forms = [], []
    for _ in range(5):  # five tabs of the same page: each its own CSRF token, one form token
        client = app.test_client()
        staff_sign_in(client, supervisor, clock)
        clients.append(client)
        forms.append({**form, "csrf_token": csrf_from(_page(client, paid))})
    url = f"/admin/payments/{paid.public_id}/refund"
    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [pool.submit(c.post, url, data=f) for c, f in zip(clients, forms, strict=True)]
        answered = []
        for future in as_completed(futures, timeout=60):
            answered.append(future)
            if len(answered) == 4:
                fake_gateway.refund_answer_when.set()
        codes = sorted(f.result().status_code for f in futures)
    assert codes == [303] + [503] * 4
    assert [c.post(url, data=f).status_code for c, f in zip(clients, forms, strict=True)] == [303] * 5
    assert fake_gateway.refund_calls == 1 and len(_refunds(db)) == 1
    assert _balances(db, company) == [8_000, 0]
    _ledger_agrees(db)


def test_a_refund_event_before_the_create_answer_is_recorded_is_deferred(app, db, clock, paid, supervisor):
    """Stripe may report the refund before our create call recorded its id: 503, nothing kept,
    so Stripe delivers it again."""
    refund = Refund(payment_id=paid.id, staff_id=supervisor.id, currency="USD", amount_minor=1_000,
                    status="requested", reason="Returned", request_key="k" * 32, idempotency_key="i" * 64,
                    failure_reason="", created_at=clock.now(), updated_at=clock.now())
    db.add(refund)
    db.commit()
    obj = refund_object("re_notstoredyet1", "succeeded", 1_000, "USD", payment_intent=paid.stripe_payment_intent_id,
                        reference=refund.public_id)
    payload = stripe_event("refund.updated", obj, created=_now(clock))
    before = _counts(db)
    assert post_event(app.test_client(), payload, _now(clock)).status_code == 503
    assert _counts(db) == before


def test_a_timeout_after_stripe_refunded_is_retried_with_the_same_key(staff_client, db, paid, company, fake_gateway):
    fake_gateway.refund_unavailable_after_create = 1
    form = _form(_page(staff_client, paid), "50.00")
    first = staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=form)
    assert first.status_code == 503 and "submit the same form again" in first.get_data(as_text=True)
    assert _balances(db, company) == [0, 0]  # nothing posted while the answer is unknown
    second = staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=form)
    assert second.status_code == 303
    assert fake_gateway.refund_calls == 2 and len(fake_gateway.refunds) == 1
    [refund] = _refunds(db)
    assert refund.status == "succeeded" and _balances(db, company) == [5_000, 0]
    _ledger_agrees(db)


def test_reconciliation_sends_an_unanswered_refund_again_with_its_key(staff_client, db, clock, paid, company,
                                                                      fake_gateway):
    fake_gateway.refund_unavailable_after_create = 1
    assert staff_client.post(f"/admin/payments/{paid.public_id}/refund",
                             data=_form(_page(staff_client, paid), "30.00")).status_code == 503
    ctx = Context(db, clock, Actor.system("reconcile-stripe"))
    assert resend_unanswered_refunds(ctx, fake_gateway).sent == []  # too soon: the form may come again
    clock.advance(minutes=16)
    report = resend_unanswered_refunds(ctx, fake_gateway)
    db.commit()
    assert len(report.sent) == 1 and report.problems == []
    assert fake_gateway.refund_calls == 2 and len(fake_gateway.refunds) == 1
    assert _refunds(db)[0].status == "succeeded" and _balances(db, company) == [3_000, 0]
    assert resend_unanswered_refunds(ctx, fake_gateway).sent == []
    _ledger_agrees(db)


def test_an_unanswered_refund_older_than_stripes_key_window_is_listed_not_resent(staff_client, db, clock, paid,
                                                                                  fake_gateway):
    fake_gateway.refund_unavailable_after_create = 1
    staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=_form(_page(staff_client, paid), "30.00"))
    clock.advance(hours=24)
    report = resend_unanswered_refunds(Context(db, clock, Actor.system("reconcile-stripe")), fake_gateway)
    assert report.sent == [] and "check the payment in the Stripe Dashboard" in report.problems[0]
    assert fake_gateway.refund_calls == 1


def test_a_refund_stripe_refuses_is_recorded_as_failed_and_posts_nothing(staff_client, db, paid, company,
                                                                         fake_gateway):
    fake_gateway.refund_refusal = "Charge ch_settled000001 has already been refunded."
    form = _form(_page(staff_client, paid), "20.00")
    response = staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=form)
    assert response.status_code == 400 and "already been refunded" in response.get_data(as_text=True)
    [refund] = _refunds(db)
    assert refund.status == "failed" and refund.stripe_refund_id is None
    assert _balances(db, company) == [0, 0]
    # The same form again is the same (failed) request: Stripe is not asked twice.
    assert staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=form).status_code == 303
    assert fake_gateway.refund_calls == 1
    _ledger_agrees(db)


def test_a_refund_that_fails_later_restores_the_balance_and_tells_staff(
        app, staff_client, db, clock, paid, company, supervisor, fake_gateway):
    client = app.test_client()
    staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=_form(_page(staff_client, paid), "100.00"))
    [refund] = _refunds(db)
    assert _balances(db, company) == [10_000, 0]
    failed = refund_object(refund.stripe_refund_id, "failed", 10_000, "USD", payment_intent=paid.stripe_payment_intent_id,
                           reference=refund.public_id, failure_reason="expired_or_canceled_card")
    event_id = "evt_refundfailed0001"
    assert "-> failed" in _send(client, clock, "charge.refund.updated", failed, event_id)["outcome"]
    assert _send(client, clock, "charge.refund.updated", failed, event_id)["duplicate"] is True
    # A late "succeeded" (out of order) and the refund.failed twin change nothing more.
    late = {**failed, "status": "succeeded", "failure_reason": None}
    assert _send(client, clock, "refund.updated", late)["outcome"].startswith("ignored: stale")
    assert _send(client, clock, "refund.failed", failed)["outcome"] == "unchanged (failed)"
    assert _refunds(db)[0].status == "failed"
    assert _balances(db, company) == [0, 0]
    mails = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "refund_failed")).all()
    assert [m.to_address for m in mails] == [supervisor.email]  # the refunder is the supervisor: told once
    assert "balance restored" in mails[0].subject.lower() and "PAY-2026-900001" in mails[0].subject
    _ledger_agrees(db)
    # The refund's entries are undone by refund reversals, not shown to the clerk as new payments.
    undone = db.execute(select(InvoiceEntry.invoice_id, InvoiceEntry.kind, InvoiceEntry.amount_minor)
                        .where(InvoiceEntry.kind.in_([EntryKind.REFUND, EntryKind.REFUND_REVERSAL]))
                        .order_by(InvoiceEntry.id)).all()
    first, second = company.invoices
    assert undone == [(first.id, "refund", 10_000), (first.id, "refund_reversal", -10_000)]
    assert not db.scalar(select(func.count()).select_from(InvoiceEntry).where(
        InvoiceEntry.kind == EntryKind.PAYMENT, InvoiceEntry.payment_id.is_(None)))
    # What failed can be refunded again.
    page = _page(staff_client, paid)
    assert "At most $205.00 can still be refunded" in page.get_data(as_text=True)


# --- the role limit, the recent sign-in and bad input ---------------------------------------


def test_the_role_limit_and_the_permission(app, staff_client, db, clock, paid, company, monkeypatch):
    analyst = make_staff(db, clock, role=StaffRole.ANALYST)
    client = app.test_client()
    staff_sign_in(client, analyst, clock)
    page = _page(client, paid)  # analysts see the payment, without a refund form
    assert 'name="form_token"' not in page.get_data(as_text=True)
    response = client.post(f"/admin/payments/{paid.public_id}/refund",
                           data={**_form(_page(staff_client, paid), "1.00"), "csrf_token": csrf_from(page)})
    assert response.status_code == 403

    assert policy.refund_limit(StaffRole.SUPERVISOR, "USD").minor == 1_000_000
    monkeypatch.setattr(policy, "REFUND_LIMITS", {**policy.REFUND_LIMITS, StaffRole.SUPERVISOR: {"USD": 5_000}})
    response = staff_client.post(f"/admin/payments/{paid.public_id}/refund",
                                 data=_form(_page(staff_client, paid), "50.01"))
    assert response.status_code == 400 and "may refund at most $50.00" in response.get_data(as_text=True)
    assert _refunds(db) == [] and _balances(db, company) == [0, 0]
    # At the limit it is given.
    assert staff_client.post(f"/admin/payments/{paid.public_id}/refund",
                             data=_form(_page(staff_client, paid), "50.00")).status_code == 303
    assert _balances(db, company) == [5_000, 0]


def test_a_refund_needs_a_recent_sign_in(staff_client, db, clock, paid, company):
    form = _form(_page(staff_client, paid), "10.00")
    clock.advance(minutes=11)
    response = staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=form)
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/confirm-identity")
    assert _refunds(db) == [] and _balances(db, company) == [0, 0]


@pytest.mark.parametrize("amount, reason, message", [
    ("205.01", "Returned", "At most $205.00 can still be refunded"),
    ("0", "Returned", "above zero"),
    ("0.00", "Returned", "above zero"),
    ("-5.00", "Returned", ""),
    ("5,00", "Returned", ""),
    ("5.001", "Returned", ""),
    ("1E+999990", "Returned", ""),
    ("NaN", "Returned", ""),
    ("10.00", "", "Give the reason"),
    ("10.00", "Returned\r\nBcc: x@evil.example", ""),
    ("10\x00.00", "Returned", ""),
])
def test_bad_input_changes_nothing(staff_client, db, paid, company, fake_gateway, amount, reason, message):
    before = _counts(db)
    form = _form(_page(staff_client, paid), amount, reason)
    response = staff_client.post(f"/admin/payments/{paid.public_id}/refund", data=form)
    assert response.status_code == 400
    if message:
        assert message in response.get_data(as_text=True)
    assert _counts(db) == before and fake_gateway.refund_calls == 0


def test_another_payment_id_is_a_404(staff_client, db, paid, clock):
    form = _form(_page(staff_client, paid), "10.00")
    assert staff_client.get("/admin/payments/no-such-payment").status_code == 404
    assert staff_client.post("/admin/payments/no-such-payment/refund", data=form).status_code == 404
    assert staff_client.get("/admin/payments/x%00y").status_code in (400, 404)
    assert _refunds(db) == []


def test_only_settled_card_payments_are_refunded(staff_client, db, clock, company):
    pending = make_allocated_payment(db, clock, company.customer, [(company.invoices[0], 12_500)], status="processing")
    db.commit()
    page = _page(staff_client, pending)
    assert 'name="form_token"' not in page.get_data(as_text=True)  # no refund form on it
    response = staff_client.post(f"/admin/payments/{pending.public_id}/refund", data={
        "csrf_token": csrf_from(staff_client.get("/admin/account")), "form_token": "t" * 32, "amount": "10.00",
        "reason": "Returned"})
    assert response.status_code == 400 and "Only a settled card payment" in response.get_data(as_text=True)


# --- P13: chargebacks -------------------------------------------------------------------------


def _dispute(paid, status, amount=20_500, due_by=None):
    return dispute_object("dp_case000001", status, amount, "USD", payment_intent=paid.stripe_payment_intent_id,
                          due_by=due_by)


def test_dispute_created_opens_a_case_reopens_the_balance_and_refuses_refunds(
        app, staff_client, db, clock, paid, company, supervisor, fake_gateway):
    client = app.test_client()
    due = _now(clock) + 7 * 86_400
    assert _send(client, clock, "charge.dispute.created", _dispute(paid, "needs_response", due_by=due),
                 "evt_dispute_created1")["outcome"] == "case opened, balance reopened"
    assert _send(client, clock, "charge.dispute.created", _dispute(paid, "needs_response", due_by=due),
                 "evt_dispute_created1")["duplicate"] is True
    [case] = db.scalars(select(Chargeback)).all()
    assert case.status == "open" and int(case.evidence_due_at.timestamp()) == due
    [told] = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "chargeback_opened")).all()
    assert told.to_address == supervisor.email and "evidence due" in told.subject
    assert _balances(db, company) == [12_500, 8_000]
    _ledger_agrees(db)

    page = _page(staff_client, paid)
    assert "it cannot be refunded" in page.get_data(as_text=True)
    response = staff_client.post(f"/admin/payments/{paid.public_id}/refund",
                                 data={"csrf_token": csrf_from(page), "form_token": "t" * 32, "amount": "10.00",
                                       "reason": "Returned"})
    assert response.status_code == 400 and "chargeback" in response.get_data(as_text=True)
    assert _refunds(db) == [] and fake_gateway.refund_calls == 0

    listing = staff_client.get("/admin/chargebacks").get_data(as_text=True)
    assert paid.reference in listing and "Open" in listing

    # Won: reinstated, once.
    assert _send(client, clock, "charge.dispute.closed", _dispute(paid, "won"), "evt_dispute_won1")["outcome"] == \
        "closed won"
    assert _send(client, clock, "charge.dispute.closed", _dispute(paid, "won"))["outcome"] == "unchanged (won)"
    assert _balances(db, company) == [0, 0]
    _ledger_agrees(db)


def test_dispute_lost_keeps_the_balance_reopened(app, staff_client, db, clock, paid, company):
    client = app.test_client()
    _send(client, clock, "charge.dispute.created", _dispute(paid, "warning_needs_response", amount=5_000))
    _send(client, clock, "charge.dispute.updated", _dispute(paid, "under_review", amount=5_000))
    assert _send(client, clock, "charge.dispute.closed", _dispute(paid, "lost", amount=5_000))["outcome"] == "closed lost"
    assert _balances(db, company) == [5_000, 0]
    [case] = db.scalars(select(Chargeback)).all()
    assert case.status == "lost" and case.stripe_status == "lost"
    assert "it cannot be refunded" in _page(staff_client, paid).get_data(as_text=True)
    _ledger_agrees(db)


def test_an_inquiry_takes_no_money_unless_it_escalates(app, staff_client, db, clock, paid, company):
    client = app.test_client()
    assert _send(client, clock, "charge.dispute.created", _dispute(paid, "warning_needs_response"))["outcome"] == \
        "case opened"
    assert _balances(db, company) == [0, 0]
    assert "it cannot be refunded" in _page(staff_client, paid).get_data(as_text=True)  # blocked while open
    assert _send(client, clock, "charge.dispute.closed", _dispute(paid, "warning_closed"))["outcome"] == "closed won"
    assert _balances(db, company) == [0, 0]
    assert "it cannot be refunded" not in _page(staff_client, paid).get_data(as_text=True)
    _ledger_agrees(db)


def test_a_dispute_first_heard_of_when_lost_still_reopens_the_balance(app, db, clock, paid, company):
    client = app.test_client()
    assert _send(client, clock, "charge.dispute.funds_withdrawn", _dispute(paid, "needs_response"))["outcome"] == \
        "case opened, balance reopened"
    assert _send(client, clock, "charge.dispute.closed", _dispute(paid, "lost"))["outcome"] == "closed lost"
    assert _balances(db, company) == [12_500, 8_000]
    _ledger_agrees(db)


def test_a_dispute_on_another_charge_or_mode_changes_nothing(app, db, clock, paid):
    client = app.test_client()
    before = _counts(db)
    other = dispute_object("dp_other1", "needs_response", 20_500, "USD", payment_intent="pi_not_ours")
    assert _send(client, clock, "charge.dispute.created", other)["outcome"].startswith("ignored")
    live = dispute_object("dp_live1", "needs_response", 20_500, "USD", payment_intent=paid.stripe_payment_intent_id,
                          livemode=True)
    assert _send(client, clock, "charge.dispute.created", live)["outcome"].startswith("ignored")
    after = _counts(db)
    assert after["chargebacks"] == before["chargebacks"] and after["entries"] == before["entries"]


# --- events stored unprocessed by earlier versions ----------------------------------------------


def test_stored_unprocessed_events_are_replayed_once(db, clock, paid, company, fake_gateway, supplier):
    created = stripe_event("charge.dispute.created", _dispute(paid, "needs_response"), event_id="evt_old_created")
    closed = stripe_event("charge.dispute.closed", _dispute(paid, "won"), event_id="evt_old_closed")
    for offset, (event_id, type_, body) in enumerate((("evt_old_created", "charge.dispute.created", created),
                                                      ("evt_old_closed", "charge.dispute.closed", closed))):
        db.add(StripeEvent(id=event_id, type=type_, outcome=f"unprocessed: {type_} moves money and is not handled yet",
                           payload=body.decode(), received_at=clock.now() + timedelta(seconds=offset)))
    db.commit()
    ctx = Context(db, clock, Actor("stripe", "webhook"))
    report = replay_unprocessed_events(ctx, fake_gateway, supplier)
    db.commit()
    assert len(report.replayed) == 2 and report.left == []
    assert report.replayed[0].endswith("case opened, balance reopened")
    [case] = db.scalars(select(Chargeback)).all()
    assert case.status == "won" and _balances(db, company) == [0, 0]
    outcomes = dict(db.execute(select(StripeEvent.id, StripeEvent.outcome)).all())
    assert outcomes["evt_old_created"] == "replayed: case opened, balance reopened"
    again = replay_unprocessed_events(ctx, fake_gateway, supplier)
    db.commit()
    assert again.replayed == [] and len(db.scalars(select(Chargeback)).all()) == 1
    _ledger_agrees(db)


def test_other_customers_payment_pages_are_staff_only(client, db, clock, paid):
    other = make_customer(db, clock)
    db.commit()
    assert other.id != paid.customer_id
    response = client.get(f"/admin/payments/{paid.public_id}")
    assert response.status_code == 302 and "/admin/sign-in" in response.headers["Location"]


def test_the_staff_dispute_page_links_its_latest_payments_to_their_staff_page(staff_client, db, clock, paid,
                                                                              company):
    dispute = raise_test_dispute(db, clock, company.clerk, [make_invoice(db, clock, company.customer)])
    db.commit()
    html = staff_client.get(f"/admin/disputes/{dispute.public_id}").get_data(as_text=True)
    assert f'href="/admin/payments/{paid.public_id}"' in html
