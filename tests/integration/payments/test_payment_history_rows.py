"""The payments history's read model (`payments.queries.payment_history`): each payment with
its invoices, and a bank debit's verification page and return read with the payment's row."""

from __future__ import annotations


from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.payments.models import BankDebit
from portal.domain.payments.queries import payment_history
from tests.support.factories import make_allocated_payment, make_customer, make_invoice


def _bank_debit(db, clock, payment, **fields) -> None:
    db.add(BankDebit(payment_id=payment.id, mandate_text="I authorise...", accepted_at=clock.now(), ip="127.0.0.1",
                     user_agent="test", **fields))
    db.flush()


def test_each_payment_has_its_invoices_and_a_bank_debit_what_the_history_shows(db, clock):
    customer = make_customer(db, clock)
    first, second = make_invoice(db, clock, customer), make_invoice(db, clock, customer)
    card = make_allocated_payment(db, clock, customer, [(first, 1_000), (second, 2_000)], status="succeeded")
    clock.advance(minutes=1)
    waiting = make_allocated_payment(db, clock, customer, [(first, 500)], status="requires_action",
                                     method="us_bank_account")
    _bank_debit(db, clock, waiting, verification_url="https://payments.stripe.com/microdeposit/abc")
    clock.advance(minutes=1)
    returned = make_allocated_payment(db, clock, customer, [(second, 700)], status="succeeded",
                                      method="us_bank_account")
    _bank_debit(db, clock, returned, returned_at=clock.now(), return_code="R01")

    history = payment_history(db, Access(customer_id=customer.id, contact_id=None, scope=ACCOUNT))
    by_id = {summary.payment.public_id: summary for summary in history.summaries}
    assert [summary.payment.public_id for summary in history.summaries] == [
        returned.public_id, waiting.public_id, card.public_id]  # newest first
    assert by_id[card.public_id].bank is None and by_id[card.public_id].invoice_numbers == f"{first.number}, {second.number}"
    assert by_id[waiting.public_id].verification_url == "https://payments.stripe.com/microdeposit/abc"
    assert not by_id[waiting.public_id].returned
    assert by_id[returned.public_id].returned and by_id[returned.public_id].verification_url == ""
    assert [line.amount.minor for line in by_id[card.public_id].lines] == [1_000, 2_000]


def test_a_page_counts_payments_not_their_invoices(db, clock):
    """The page's LIMIT is over payments: a payment of three invoices is one of the page's rows,
    and the next page starts with the next payment, its own invoices all with it."""
    customer = make_customer(db, clock)
    invoices = [make_invoice(db, clock, customer) for _ in range(3)]
    made = []
    for n in range(5):
        clock.advance(minutes=1)
        made.append(make_allocated_payment(db, clock, customer, [(invoice, 100 + n) for invoice in invoices[:n % 3 + 1]],
                                           status="succeeded"))
    access = Access(customer_id=customer.id, contact_id=None, scope=ACCOUNT)

    pages = [payment_history(db, access, page=page, per_page=2) for page in (1, 2, 3)]

    assert [[s.payment.public_id for s in p.summaries] for p in pages] == [
        [made[4].public_id, made[3].public_id], [made[2].public_id, made[1].public_id], [made[0].public_id]]
    assert [p.has_next for p in pages] == [True, True, False]
    assert [len(s.lines) for p in pages for s in p.summaries] == [2, 1, 3, 2, 1]
    assert [line.invoice.number for line in pages[1].summaries[0].lines] == [i.number for i in invoices]
    assert {line.amount.minor for line in pages[1].summaries[0].lines} == {102}
