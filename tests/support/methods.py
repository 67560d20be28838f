"""Saving cards in tests through the product's own service, against the in-process fake gateway
(its `confirm_setup` plays the part of Stripe.js in the browser)."""

from __future__ import annotations

from portal.domain.access.policy import ACCOUNT, INVOICES, Access
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.methods import service
from portal.domain.methods.models import SavedMethod
from portal.domain.methods.policy import bank_mandate_text, consent_text

TEST_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) PortalTests/1.0"


def account_access(contact) -> Access:
    return Access(customer_id=contact.customer_id, contact_id=contact.id, scope=ACCOUNT)


def link_access(contact, invoices) -> Access:
    return Access(customer_id=contact.customer_id, contact_id=contact.id, scope=INVOICES,
                  invoice_ids=frozenset(invoice.id for invoice in invoices), link_id=1)


def contact_context(db, clock, contact, ip: str = "203.0.113.7") -> Context:
    return Context(db, clock, Actor("contact", contact.public_id, ip))


def save_card(db, clock, fake_gateway, contact, *, last4: str = "4242", brand: str = "visa",
              payment_method_id: str | None = None) -> SavedMethod:
    """Start a setup, confirm it as Stripe.js would, complete it; flushed (and committed, as the
    service commits before each Stripe call)."""
    ctx = contact_context(db, clock, contact)
    access = account_access(contact)
    setup = service.start_setup(ctx, fake_gateway, access, consent_text("Northwind Supply", contact.customer.name),
                                TEST_USER_AGENT)
    fake_gateway.confirm_setup(setup.stripe_setup_intent_id, payment_method_id, last4=last4, brand=brand)
    return service.complete_setup(ctx, fake_gateway, access, setup.public_id)


def start_bank_setup(db, clock, fake_gateway, contact, user_agent: str = TEST_USER_AGENT):
    """Start a setup whose page offered a bank account (the ACH mandate shown too)."""
    ctx = contact_context(db, clock, contact)
    name = contact.customer.name
    return service.start_setup(ctx, fake_gateway, account_access(contact), consent_text("Northwind Supply", name),
                               user_agent, bank_mandate_text("Northwind Supply", name))


def save_bank_account(db, clock, fake_gateway, contact, *, microdeposits: bool = False,
                      last4: str = "6789") -> SavedMethod:
    """Save a US bank account as the page would: verified at once, or waiting for microdeposits."""
    setup = start_bank_setup(db, clock, fake_gateway, contact)
    fake_gateway.confirm_bank_setup(setup.stripe_setup_intent_id, microdeposits=microdeposits, last4=last4)
    return service.complete_setup(contact_context(db, clock, contact), fake_gateway, account_access(contact),
                                  setup.public_id)
