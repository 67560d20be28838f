"""Making promises to pay in tests through the product's own service, as a clerk would."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from portal.domain.access.policy import Access
from portal.domain.core.clock import Clock, today_in
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.promises.models import Promise
from portal.domain.promises.policy import PromisePolicy
from portal.domain.promises.service import make_promise
from tests.support.disputes import contact_access, contact_context

POLICY = PromisePolicy()


def customer_today(db, clock: Clock, contact: Contact) -> date:
    return today_in(clock, db.get(Customer, contact.customer_id).timezone)


def make_test_promise(db, clock: Clock, contact: Contact, invoices: list[Invoice], *, days: int = 7,
                      method: str = "wire", note: str = "", access: Access | None = None,
                      policy: PromisePolicy = POLICY) -> Promise:
    """A promise to pay `invoices` `days` after the customer's today."""
    today = customer_today(db, clock, contact)
    return make_promise(
        contact_context(db, clock, contact), access or contact_access(contact), policy,
        invoice_public_ids=[invoice.public_id for invoice in invoices], promised_date=today + timedelta(days=days),
        method=method, note=note, request_key=secrets.token_urlsafe(24), today=today,
    )
