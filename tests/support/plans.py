"""Proposing installment plans in tests through the product's own service, as a clerk would
(the terms shown are the preview's, accepted as they are)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from portal.domain.access.policy import Access
from portal.domain.core.clock import Clock, today_in
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.methods.models import SavedMethod
from portal.domain.plans.models import Plan
from portal.domain.plans.policy import PlanPolicy, terms_digest
from portal.domain.plans.service import PlanRequest, preview_plan, propose_plan
from tests.support.disputes import contact_access, contact_context
from tests.support.methods import TEST_USER_AGENT

POLICY = PlanPolicy()
SUPPLIER_NAME = "Northwind Supplies"


def customer_today(db, clock: Clock, contact: Contact) -> date:
    return today_in(clock, db.get(Customer, contact.customer_id).timezone)


def plan_request(invoices: list[Invoice], *, count: int = 3, cadence: str = "monthly", first: date,
                 card: SavedMethod | None = None) -> PlanRequest:
    return PlanRequest(tuple(invoice.public_id for invoice in invoices), count, cadence, first,
                       "autopay" if card is not None else "myself", card.public_id if card is not None else "")


def make_test_plan(db, clock: Clock, contact: Contact, invoices: list[Invoice], *, count: int = 3,
                   cadence: str = "monthly", days: int = 0, card: SavedMethod | None = None,
                   policy: PlanPolicy = POLICY, access: Access | None = None) -> Plan:
    """A plan for `invoices`, its first installment `days` after the customer's today, its
    terms shown and accepted in the contact's language (as the plan pages do)."""
    today = customer_today(db, clock, contact)
    request = plan_request(invoices, count=count, cadence=cadence, first=today + timedelta(days=days), card=card)
    ctx = contact_context(db, clock, contact)
    access = access or contact_access(contact)
    shown = terms_digest(preview_plan(ctx, access, policy, SUPPLIER_NAME, request, today, contact.language).terms)
    return propose_plan(ctx, access, policy, SUPPLIER_NAME, request, terms_shown=shown,
                        request_key=secrets.token_urlsafe(24), user_agent=TEST_USER_AGENT, today=today,
                        language=contact.language)
