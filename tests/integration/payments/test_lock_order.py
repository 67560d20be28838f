"""Locks are taken in one order everywhere money moves: the customer, then a payment, then its
invoices. A webhook's `lock_payment` therefore waits for a clerk who holds the customer's lock,
instead of taking the payment and its invoices first and then waiting for the customer (raising
a follow-up, say) while the clerk waits for those invoices: a deadlock on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from portal.domain.payments.service import lock_customer, lock_payment
from tests.support.factories import make_allocated_payment, make_customer, make_invoice

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def payment(session_factory, clock):
    with session_factory() as db:
        customer = make_customer(db, clock)
        invoice = make_invoice(db, clock, customer, total_minor=10_000)
        payment = make_allocated_payment(db, clock, customer, [(invoice, 10_000)])
        db.commit()
        return payment.id, customer.id


def test_locking_a_payment_waits_for_its_customers_lock(session_factory, clock, payment):
    payment_id, customer_id = payment
    with session_factory() as clerk, session_factory() as webhook:
        lock_customer(clerk, customer_id)  # a clerk starting a payment holds the customer
        webhook.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            lock_payment(webhook, clock, payment_id)
        webhook.rollback()
        clerk.rollback()
        # With the customer free, the same call goes through and holds both.
        locked = lock_payment(webhook, clock, payment_id)
        assert locked.id == payment_id
        clerk.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            lock_customer(clerk, customer_id)
