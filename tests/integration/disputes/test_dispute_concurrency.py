"""Raising disputes and paying at once cannot hold or pay the same money twice (PostgreSQL:
SQLite serializes writers anyway). The customer lock that payments take is taken by the dispute
service too, and the form token is unique per customer."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.policy import DisputeRefused, InvoiceChoice
from portal.domain.disputes.service import raise_dispute
from portal.domain.invoicing.models import Invoice
from tests.support.factories import make_contact, make_customer, make_invoice

THREADS = 6


def _run_at_once(target) -> list[BaseException]:
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            target(n)
        except BaseException as error:  # surfaced by the caller
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.fixture
def arranged(session_factory, clock):
    with session_factory() as db:
        customer = make_customer(db, clock)
        contact = make_contact(db, clock, customer)
        invoice = make_invoice(db, clock, customer, total_minor=10_000)
        db.commit()
        return Access(customer.id, contact.id, ACCOUNT), invoice.id, invoice.public_id


def _raise(session_factory, clock, access, public_id, *, key: str, amount: str) -> None:
    with session_factory() as db:
        raise_dispute(Context(db, clock, Actor("contact", "c")), access, reason_code="pricing",
                      description="Price is not the agreed one", request_key=key,
                      choices=[InvoiceChoice(public_id, "amount", amount_text=amount)])
        db.commit()


@pytest.mark.postgres_only
def test_a_form_submitted_many_times_at_once_makes_one_dispute(session_factory, clock, arranged):
    access, invoice_id, public_id = arranged
    errors = _run_at_once(lambda n: _raise(session_factory, clock, access, public_id, key="same-key-0123456789",
                                           amount="30.00"))
    assert errors == []
    with session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Dispute)) == 1
        assert db.scalar(select(Invoice.held_minor).where(Invoice.id == invoice_id)) == 3_000


@pytest.mark.postgres_only
def test_disputes_raised_at_once_never_hold_more_than_the_balance(session_factory, clock, arranged):
    access, invoice_id, public_id = arranged
    errors = _run_at_once(lambda n: _raise(session_factory, clock, access, public_id, key=f"key-{n:02d}-0123456789",
                                           amount="40.00"))
    assert all(isinstance(error, DisputeRefused) for error in errors), errors
    with session_factory() as db:
        held = db.scalar(select(Invoice.held_minor).where(Invoice.id == invoice_id))
        made = db.scalar(select(func.count()).select_from(Dispute))
    assert (made, held) == (2, 8_000)  # 2 × 40.00 fit in 100.00; a third does not
    assert len(errors) == THREADS - 2
