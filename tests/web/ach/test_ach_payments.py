"""US bank account payments (ACH Direct Debit), SECURITY.md P3, P10, P11, P12.

localstripe has no us_bank_account: the app talks to the in-process fake gateway (which answers
a bank account's confirmation token as Stripe does: processing, or requires_action waiting for
microdeposits), and Stripe's later word arrives as events built and signed like Stripe's, sent
to the real webhook endpoint. After every sequence `check_ledger` agrees with the balances.
"""

from __future__ import annotations


import pytest
from sqlalchemy import select

from portal.domain.followups.models import Followup
from portal.domain.followups.states import FollowupKind
from portal.domain.core.context import Context
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.payments.jobs import RECONCILER, reconcile_payments
from portal.domain.payments.models import BankDebit
from portal.domain.payments.policy import ach_expected_by, ach_return_reason
from portal.domain.refunds.models import Chargeback
from portal.domain.staff.states import StaffRole
from tests.support.factories import make_staff, sign_in
from tests.support.fixtures.stripe import (
    FAKE_VERIFICATION_URL, dispute_object, intent_object, stripe_event,
)
from tests.support.paying import (
    balance, counts, make_company, open_pay_page, pay, pay_form, payment_by_public_id, post_event, post_payment,
)

SUPPLIER = SupplierDetails(name="Northwind Supplies", email="billing@northwind.example", portal_url="http://localhost")
BANK = {"method": "us_bank_account", "mandate_accepted": "1"}
USER_AGENT = "Mozilla/5.0 (clerk's browser)"


@pytest.fixture
def company(db, clock):
    """A customer with a clerk, an AP mailbox and two open USD invoices (125.00 and 80.00)."""
    return make_company(db, clock, 12_500, 8_000)


@pytest.fixture
def supervisor(db, clock):
    member = make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Sam Supervisor")
    db.commit()
    return member


@pytest.fixture
def signed_in(client, company, clock):
    sign_in(client, company.clerk, clock)
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    client.clerk, client.clock = company.clerk, clock
    return client


def _pay_by_bank(client, company, token="ctoken_bank_account", **extra):
    first, second = company.invoices
    response = pay(client, {first: "125.00", second: "80.00"}, token, **{**BANK, **extra})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["payment_url"].rsplit("/", 1)[1]


def _now(clock) -> int:
    return int(clock.now().timestamp())


def _send(client, clock, type_, obj):
    payload = stripe_event(type_, obj, created=_now(clock))
    response = post_event(client, payload, _now(clock))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _intent_event(client, clock, payment, type_, status, **fields):
    obj = intent_object(payment.stripe_payment_intent_id, status, payment.amount_minor, payment.currency,
                        method_type="us_bank_account", **fields)
    return _send(client, clock, type_, obj)


def _balances(db, company):
    return [balance(db, invoice) for invoice in company.invoices]


def _ledger_agrees(db):
    db.commit()
    report = check_ledger(db)
    assert report.is_consistent, [str(d) for d in report.differences]


def _mail(db, kind):
    db.commit()
    db.expire_all()
    return db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)).all()


def _page(client, public_id):
    response = client.get(f"/payments/{public_id}")
    if response.status_code == 302:  # days went by: the session expired, the clerk signs in again
        sign_in(client, client.clerk, client.clock)
        response = client.get(f"/payments/{public_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _expected_text(clock) -> str:
    return ach_expected_by(clock.now().date()).strftime("%d %b %Y")


# --- processing -> succeeded ---------------------------------------------------------------


def test_bank_debit_is_processing_until_stripe_says_succeeded_then_paid_and_receipt_once(
        signed_in, db, clock, company, fake_gateway):
    public_id = _pay_by_bank(signed_in, company)
    payment = payment_by_public_id(db, public_id)
    assert (payment.status, payment.method) == ("processing", "us_bank_account")

    # The mandate: stored with who, when, from where and the words shown, and sent to Stripe.
    debit = db.get(BankDebit, payment.id)
    assert debit.contact_id == company.clerk.id and debit.user_agent == USER_AGENT and debit.ip
    assert "authorize Northwind" in debit.mandate_text or "authorize" in debit.mandate_text
    assert debit.accepted_at == clock.now() and debit.unusable_at is None
    [mandate] = fake_gateway.mandates
    assert mandate is not None and mandate.user_agent == USER_AGENT

    # P10: processing is not paid; the status page, the history and the invoice say when to expect it.
    assert _balances(db, company) == [12_500, 8_000]
    page = _page(signed_in, public_id)
    assert f"Processing, expected by {_expected_text(clock)}" in page
    assert 'data-long-wait="1"' in page and "email you when the bank confirms" in page
    assert f"Processing, expected by {_expected_text(clock)}" in signed_in.get("/payments").get_data(as_text=True)
    invoice_page = signed_in.get(f"/invoices/{company.invoices[0].public_id}").get_data(as_text=True)
    assert f"Processing, expected by {_expected_text(clock)}" in invoice_page
    assert _mail(db, "payment_receipt") == []

    clock.advance(days=3)
    assert _intent_event(signed_in, clock, payment, "payment_intent.succeeded", "succeeded")["outcome"] \
        == "processing -> succeeded"
    assert _balances(db, company) == [0, 0]
    assert payment_by_public_id(db, public_id).status == "succeeded"
    assert len(_mail(db, "payment_receipt")) == 1
    # Stripe delivers it again under another id: nothing more.
    assert _intent_event(signed_in, clock, payment, "payment_intent.succeeded", "succeeded")["outcome"] \
        == "unchanged (succeeded)"
    assert len(_mail(db, "payment_receipt")) == 1
    assert "bank payment" in _mail(db, "payment_receipt")[0].body_text
    _ledger_agrees(db)


# --- processing -> failed ------------------------------------------------------------------


def test_bank_debit_failure_reopens_the_balance_and_tells_customer_and_staff(
        signed_in, db, clock, company, supervisor, fake_gateway):
    public_id = _pay_by_bank(signed_in, company)
    payment = payment_by_public_id(db, public_id)
    clock.advance(days=2)
    outcome = _intent_event(signed_in, clock, payment, "payment_intent.payment_failed", "requires_payment_method",
                            failure_code="insufficient_funds", failure_message="The bank returned the debit.")
    assert outcome["outcome"] == "processing -> failed"

    payment = payment_by_public_id(db, public_id)
    sentence = ach_return_reason("R01")
    assert payment.status == "failed" and payment.failure_message == sentence
    assert _balances(db, company) == [12_500, 8_000]  # nothing had settled: nothing to reverse
    assert db.scalars(select(InvoiceEntry).where(InvoiceEntry.payment_id == payment.id)).all() == []
    assert db.get(BankDebit, payment.id).unusable_at is not None
    assert db.get(BankDebit, payment.id).return_code == "insufficient_funds"
    [told] = _mail(db, "bank_debit_failed")
    assert told.to_address == company.clerk.email and sentence in told.body_text
    [task] = _mail(db, "bank_debit_staff")
    assert task.to_address == supervisor.email and "insufficient_funds" in task.body_text
    assert sentence in _page(signed_in, public_id)
    _ledger_agrees(db)


def test_ach_processing_then_card_attempt_refused_after_ach_failure_allowed(
        signed_in, db, clock, company, fake_gateway):
    """P3: money in flight by bank reserves the amounts against every method."""
    first, second = company.invoices
    card_page = open_pay_page(signed_in, [first])  # opened in another tab before the bank payment
    public_id = _pay_by_bank(signed_in, company)
    before = counts(db)
    refused = post_payment(signed_in, pay_form(card_page, {first: "125.00"}, "tok_visa"))
    assert refused.status_code == 400 and "payment in progress" in refused.get_json()["error"]
    assert counts(db) == before

    payment = payment_by_public_id(db, public_id)
    _intent_event(signed_in, clock, payment, "payment_intent.payment_failed", "requires_payment_method",
                  failure_code="account_closed", failure_message="Account closed.")
    allowed = pay(signed_in, {first: "125.00", second: "80.00"}, "tok_visa")
    assert allowed.status_code == 200 and allowed.get_json()["status"] == "processing"
    _ledger_agrees(db)


# --- succeeded -> returned (a dispute on the ACH charge) ----------------------------------------


def test_a_returned_bank_debit_reverses_the_settlement(signed_in, db, clock, company, supervisor, fake_gateway):
    public_id = _pay_by_bank(signed_in, company)
    payment = payment_by_public_id(db, public_id)
    _intent_event(signed_in, clock, payment, "payment_intent.succeeded", "succeeded")
    assert _balances(db, company) == [0, 0]

    clock.advance(days=20)
    dispute = dispute_object("dp_achreturn0001", "needs_response", payment.amount_minor, "USD",
                             payment_intent=payment.stripe_payment_intent_id, reason="debit_not_authorized")
    assert _send(signed_in, clock, "charge.dispute.created", dispute)["outcome"] \
        == "bank debit returned: settlement reversed"
    assert _balances(db, company) == [12_500, 8_000]
    kinds = db.scalars(select(InvoiceEntry.kind).where(InvoiceEntry.payment_id == payment.id)).all()
    assert sorted(kinds) == ["payment", "payment", "payment_reversal", "payment_reversal"]
    assert db.scalars(select(Chargeback)).all() == []  # a return, not a chargeback case
    debit = db.get(BankDebit, payment.id)
    assert debit.returned_at is not None and debit.unusable_at is not None
    sentence = ach_return_reason("debit_not_authorized")
    [told] = _mail(db, "bank_debit_failed")
    assert sentence in told.body_text and "open again" in told.body_text
    assert len(_mail(db, "bank_debit_staff")) == 1
    page = _page(signed_in, public_id)
    assert "Returned by your bank" in page and sentence in page

    # Later dispute events, and the same return again, change nothing.
    before = counts(db)
    again = dict(dispute, id="dp_achreturn0001")
    assert _send(signed_in, clock, "charge.dispute.updated", again)["outcome"].startswith("ignored")
    assert _send(signed_in, clock, "charge.dispute.created", again)["outcome"] == "unchanged (already returned)"
    after = counts(db)
    assert after["entries"] == before["entries"] and after["outbox"] == before["outbox"]
    _ledger_agrees(db)


# --- microdeposits --------------------------------------------------------------------------


def test_microdeposits_pending_charges_nothing_and_reconcile_leaves_it_alone(
        signed_in, db, clock, company, fake_gateway):
    public_id = _pay_by_bank(signed_in, company, token="ctoken_bank_microdeposits")
    payment = payment_by_public_id(db, public_id)
    assert payment.status == "requires_action"
    assert db.get(BankDebit, payment.id).verification_url == FAKE_VERIFICATION_URL
    page = _page(signed_in, public_id)
    assert "Verify your bank account" in page and FAKE_VERIFICATION_URL in page
    assert "Cancel this unfinished payment" not in page
    assert db.scalars(select(InvoiceEntry).where(InvoiceEntry.payment_id == payment.id)).all() == []

    # Days later, still not verified: reconciliation does not cancel it (it would for 3-D Secure).
    clock.advance(days=2)
    report = reconcile_payments(Context(db, clock, RECONCILER), fake_gateway, SUPPLIER)
    db.commit()
    assert report.problems == [] and fake_gateway.cancel_reasons == []
    assert payment_by_public_id(db, public_id).status == "requires_action"
    assert _balances(db, company) == [12_500, 8_000]

    # Verified: the debit starts, then settles.
    _intent_event(signed_in, clock, payment, "payment_intent.processing", "processing")
    assert "Processing, expected by" in _page(signed_in, public_id)
    _intent_event(signed_in, clock, payment, "payment_intent.succeeded", "succeeded")
    assert _balances(db, company) == [0, 0]
    _ledger_agrees(db)


def test_a_microdeposit_event_records_the_verification_page(signed_in, db, clock, company, fake_gateway):
    public_id = _pay_by_bank(signed_in, company)
    payment = payment_by_public_id(db, public_id)
    db.get(BankDebit, payment.id).verification_url = None
    payment.status = "new"
    db.commit()
    _intent_event(signed_in, clock, payment_by_public_id(db, public_id), "payment_intent.requires_action",
                  "requires_action", verification_url=FAKE_VERIFICATION_URL)
    assert FAKE_VERIFICATION_URL in _page(signed_in, public_id)


# --- refusals ---------------------------------------------------------------------------------


def test_bank_payment_without_accepting_the_mandate_is_refused(signed_in, db, company, fake_gateway):
    first, _ = company.invoices
    before = counts(db)
    response = pay(signed_in, {first: "125.00"}, "ctoken_bank_account", method="us_bank_account")
    assert response.status_code == 400 and "debit authorization" in response.get_json()["error"]
    response = pay(signed_in, {first: "125.00"}, "ctoken_bank_account", method="cheque", mandate_accepted="1")
    assert response.status_code == 400
    assert counts(db) == before and fake_gateway.create_calls == 0


def test_bank_payment_of_a_non_usd_invoice_is_refused(client, db, clock, fake_gateway):
    euros = make_company(db, clock, 5_000, currency="EUR")
    db.commit()
    sign_in(client, euros.clerk, clock)
    response = pay(client, {euros.invoices[0]: "50.00"}, "ctoken_bank_account", **BANK)
    assert response.status_code == 400 and "US dollars" in response.get_json()["error"]
    assert fake_gateway.create_calls == 0


def test_pay_page_offers_a_bank_account_with_its_mandate_for_usd_in_the_real_dialect(make_app, db, clock, company):
    client = make_app(stripe_dialect="real").test_client()
    sign_in(client, company.clerk, clock)
    page = client.get("/pay", query_string={"invoice": company.invoices[0].public_id}).get_data(as_text=True)
    assert "Card or US bank account" in page and 'id="bank-mandate"' in page and "I authorize this debit" in page
    assert "you authorize Northwind" in page or "you authorize" in page


def test_localstripe_pay_page_says_card_only(signed_in, company):
    page = signed_in.get("/pay", query_string={"invoice": company.invoices[0].public_id}).get_data(as_text=True)
    assert 'id="card-only"' in page and 'id="bank-mandate"' not in page


def test_a_failed_bank_debit_raises_one_cash_application_follow_up(signed_in, db, clock, company, supervisor):
    public_id = _pay_by_bank(signed_in, company)
    payment = payment_by_public_id(db, public_id)
    clock.advance(days=2)
    for _ in range(2):  # Stripe delivers the failure twice: one follow-up
        _intent_event(signed_in, clock, payment, "payment_intent.payment_failed", "requires_payment_method",
                      failure_code="insufficient_funds", failure_message="The bank returned the debit.")
    db.expire_all()
    [followup] = db.scalars(select(Followup)).all()
    assert (followup.kind, followup.queue, followup.dedupe_key) == (
        FollowupKind.BANK_DEBIT_FAILED, "cash_application", f"bank_debit_failed:{public_id}")
    assert followup.details["reference"] == payment.reference and followup.details["returned"] is False
    assert len(followup.invoices) == 2
