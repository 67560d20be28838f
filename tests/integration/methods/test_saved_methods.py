"""Saved payment methods through the service, with the in-process fake gateway: one Stripe
Customer per company, one saved method per PaymentMethod, the default, removal, and who may
not (another company, an invoice-link holder). Both databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import func, select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.database import make_session_factory, writing_session
from portal.domain.core.errors import NotFound
from portal.domain.core.models import AuditEntry
from portal.domain.methods import queries, service
from portal.domain.methods.models import MethodSetup, SavedMethod, StripeCustomer
from portal.domain.methods.policy import SETUP_WINDOW, SETUPS_PER_WINDOW, MethodRefused, consent_text, customer_key
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.methods import TEST_USER_AGENT, account_access, contact_context, link_access, save_card


@pytest.fixture
def company(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    return make_contact(db, clock, customer, email="ap@acme.example")


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_a_saved_card_keeps_the_consent_who_when_and_from_where(db, clock, fake_gateway, company):
    method = save_card(db, clock, fake_gateway, company)
    db.commit()
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == ("visa", "4242", 12, 2034)
    assert method.consent_text == consent_text("Northwind Supply", "Acme Corp")
    assert "Acme Corp" in method.consent_text and "automatically" in method.consent_text
    assert method.saved_by_contact_id == company.id and method.saved_at == clock.now()
    assert (method.ip, method.user_agent) == ("203.0.113.7", TEST_USER_AGENT)
    assert method.is_default is True  # the first card
    [stripe_customer] = db.scalars(select(StripeCustomer)).all()
    assert fake_gateway.saved.customers == {customer_key(company.customer.public_id): stripe_customer.stripe_customer_id}
    assert fake_gateway.saved.defaults == [(stripe_customer.stripe_customer_id, method.stripe_payment_method_id)]
    assert [str(line.label) for line in queries.saved_methods(db, account_access(company))] == ["Visa ending 4242"]
    actions = set(db.scalars(select(AuditEntry.action)))
    assert {"stripe_customer.created", "method_setup.started", "method.saved"} <= actions


def test_the_stripe_customer_is_created_once_for_every_later_card(db, clock, fake_gateway, company):
    save_card(db, clock, fake_gateway, company, last4="4242")
    save_card(db, clock, fake_gateway, company, last4="5556")
    colleague = make_contact(db, clock, company.customer, email="cfo@acme.example")
    save_card(db, clock, fake_gateway, colleague, last4="0005", brand="amex")
    assert fake_gateway.saved.customer_create_calls == 1
    assert _count(db, StripeCustomer) == 1
    assert {s.stripe_customer_id for s in fake_gateway.saved.setups.values()} == set(fake_gateway.saved.customers.values())


def test_a_failed_customer_creation_is_retried_with_the_same_key(db, clock, fake_gateway, company):
    fake_gateway.saved.unavailable = 1
    with pytest.raises(MethodRefused, match="Nothing was saved"):
        service.start_setup(contact_context(db, clock, company), fake_gateway, account_access(company), "words", "")
    db.rollback()
    assert _count(db, StripeCustomer) == 0
    method = save_card(db, clock, fake_gateway, company)
    assert method.last4 == "4242" and _count(db, StripeCustomer) == 1
    assert list(fake_gateway.saved.customers) == [customer_key(company.customer.public_id)]


@pytest.mark.postgres_only
def test_concurrent_first_saves_make_one_stripe_customer(engine, db, clock, fake_gateway, company):
    """Two contacts save their first card at once: one Customer at Stripe (same key), one row."""
    db.commit()
    sessions = make_session_factory(engine)
    fake_gateway.saved.customer_delay = 0.2
    start = Barrier(2)
    access = account_access(company)

    def first_save(_n: int) -> str:
        with writing_session(sessions) as session:
            start.wait()
            ctx = Context(session, clock, Actor("contact", company.public_id))
            setup = service.start_setup(ctx, fake_gateway, access, "words", "")
            session.commit()
            return fake_gateway.saved.setups[setup.stripe_setup_intent_id].stripe_customer_id

    with ThreadPoolExecutor(2) as pool:
        customers = set(pool.map(first_save, range(2)))
    db.expire_all()
    assert len(customers) == 1
    assert db.scalar(select(StripeCustomer.stripe_customer_id)) == customers.pop()
    assert _count(db, StripeCustomer) == 1


def test_completing_a_setup_twice_records_one_method(db, clock, fake_gateway, company):
    ctx, access = contact_context(db, clock, company), account_access(company)
    setup = service.start_setup(ctx, fake_gateway, access, "words", TEST_USER_AGENT)
    fake_gateway.confirm_setup(setup.stripe_setup_intent_id, "pm_fake_once")
    first = service.complete_setup(ctx, fake_gateway, access, setup.public_id)
    db.commit()
    again = service.complete_setup(ctx, fake_gateway, access, setup.public_id)
    assert again.id == first.id and _count(db, SavedMethod) == 1


def test_the_same_payment_method_from_two_setups_is_one_saved_method(db, clock, fake_gateway, company):
    first = save_card(db, clock, fake_gateway, company, payment_method_id="pm_fake_same")
    second = save_card(db, clock, fake_gateway, company, payment_method_id="pm_fake_same")
    assert first.id == second.id and _count(db, SavedMethod) == 1


def test_the_browser_is_not_believed_a_setup_that_did_not_succeed_saves_nothing(db, clock, fake_gateway, company):
    ctx, access = contact_context(db, clock, company), account_access(company)
    setup = service.start_setup(ctx, fake_gateway, access, "words", "")
    with pytest.raises(MethodRefused, match="not saved"):  # never confirmed in the browser
        service.complete_setup(ctx, fake_gateway, access, setup.public_id)
    fake_gateway.confirm_setup(setup.stripe_setup_intent_id, status="requires_action")
    with pytest.raises(MethodRefused):
        service.complete_setup(ctx, fake_gateway, access, setup.public_id)
    db.rollback()
    assert _count(db, SavedMethod) == 0
    assert db.scalar(select(MethodSetup.completed_at)) is None


def test_a_setup_intent_of_another_stripe_customer_is_refused(db, clock, fake_gateway, company):
    other = make_contact(db, clock, make_customer(db, clock, name="Bravo"), email="ap@bravo.example")
    ctx, access = contact_context(db, clock, company), account_access(company)
    mine = service.start_setup(ctx, fake_gateway, access, "words", "")
    theirs = service.start_setup(contact_context(db, clock, other), fake_gateway, account_access(other), "w", "")
    # Our setup row pointed at their SetupIntent (a mix-up Stripe would answer for).
    mine.stripe_setup_intent_id, their_intent = theirs.stripe_setup_intent_id, theirs.stripe_setup_intent_id
    theirs.stripe_setup_intent_id = None
    db.flush()
    fake_gateway.confirm_setup(their_intent)
    with pytest.raises(MethodRefused):
        service.complete_setup(ctx, fake_gateway, access, mine.public_id)


def test_switching_the_default(db, clock, fake_gateway, company):
    first = save_card(db, clock, fake_gateway, company, last4="4242")
    second = save_card(db, clock, fake_gateway, company, last4="5556")
    assert (first.is_default, second.is_default) == (True, False)
    ctx, access = contact_context(db, clock, company), account_access(company)
    service.set_default_method(ctx, fake_gateway, access, second.public_id)
    db.commit()
    db.expire_all()
    assert [(str(m.label), m.is_default) for m in queries.saved_methods(db, access)] == [
        ("Visa ending 5556", True), ("Visa ending 4242", False)]
    service.set_default_method(ctx, fake_gateway, access, first.public_id)
    db.commit()
    assert [pm for _, pm in fake_gateway.saved.defaults] == [
        first.stripe_payment_method_id, second.stripe_payment_method_id, first.stripe_payment_method_id]
    db.expire_all()
    assert db.scalar(select(func.count()).where(SavedMethod.is_default.is_(True))) == 1


def test_removing_detaches_at_stripe_and_leaves_no_default(db, clock, fake_gateway, company):
    first = save_card(db, clock, fake_gateway, company, last4="4242")
    second = save_card(db, clock, fake_gateway, company, last4="5556")
    ctx, access = contact_context(db, clock, company), account_access(company)
    removed = service.remove_method(ctx, fake_gateway, access, first.public_id)
    db.commit()
    assert fake_gateway.saved.detached == [first.stripe_payment_method_id]
    assert removed.removed_at == clock.now() and removed.removed_by_contact_id == company.id
    assert removed.is_default is False
    assert [m.public_id for m in queries.saved_methods(db, access)] == [second.public_id]
    assert second.is_default is False  # never moved to another card on its own
    with pytest.raises(NotFound):  # gone for every later action
        service.set_default_method(ctx, fake_gateway, access, first.public_id)
    with pytest.raises(NotFound):
        service.remove_method(ctx, fake_gateway, access, first.public_id)


def test_a_failed_detach_keeps_the_card(db, clock, fake_gateway, company):
    method = save_card(db, clock, fake_gateway, company)
    db.commit()
    fake_gateway.saved.unavailable = 1
    with pytest.raises(MethodRefused, match="could not be removed"):
        service.remove_method(contact_context(db, clock, company), fake_gateway, account_access(company),
                              method.public_id)
    db.rollback()
    db.expire_all()
    assert db.get(SavedMethod, method.id).removed_at is None


def test_another_companys_method_or_setup_is_not_found(db, clock, fake_gateway, company):
    other = make_contact(db, clock, make_customer(db, clock, name="Bravo"), email="ap@bravo.example")
    theirs = save_card(db, clock, fake_gateway, other)
    their_setup = db.get(MethodSetup, theirs.setup_id)
    ctx, access = contact_context(db, clock, company), account_access(company)
    for call in (lambda: service.set_default_method(ctx, fake_gateway, access, theirs.public_id),
                 lambda: service.remove_method(ctx, fake_gateway, access, theirs.public_id),
                 lambda: service.complete_setup(ctx, fake_gateway, access, their_setup.public_id),
                 lambda: queries.method_for_access(db, access, theirs.public_id)):
        with pytest.raises(NotFound):
            call()
    assert queries.saved_methods(db, access) == []
    assert fake_gateway.saved.detached == []


def test_an_invoice_link_holder_can_neither_see_nor_use_saved_methods(db, clock, fake_gateway, company):
    method = save_card(db, clock, fake_gateway, company)
    invoice = make_invoice(db, clock, company.customer)
    ctx, access = contact_context(db, clock, company), link_access(company, [invoice])
    setups_before = len(fake_gateway.saved.setups)
    for call in (lambda: queries.saved_methods(db, access),
                 lambda: queries.method_for_access(db, access, method.public_id),
                 lambda: service.start_setup(ctx, fake_gateway, access, "words", ""),
                 lambda: service.set_default_method(ctx, fake_gateway, access, method.public_id),
                 lambda: service.remove_method(ctx, fake_gateway, access, method.public_id)):
        with pytest.raises(NotFound):
            call()
    assert len(fake_gateway.saved.setups) == setups_before and fake_gateway.saved.detached == []


def test_card_setups_are_limited_per_company_and_hour(db, clock, fake_gateway, company):
    ctx, access = contact_context(db, clock, company), account_access(company)
    for _ in range(SETUPS_PER_WINDOW):
        service.start_setup(ctx, fake_gateway, access, "words", "")
    with pytest.raises(MethodRefused, match="Too many payment methods"):
        service.start_setup(ctx, fake_gateway, access, "words", "")
    db.rollback()
    assert len(fake_gateway.saved.setups) == SETUPS_PER_WINDOW
    clock.advance(seconds=SETUP_WINDOW.total_seconds() + 1)
    service.start_setup(ctx, fake_gateway, access, "words", "")
    assert len(fake_gateway.saved.setups) == SETUPS_PER_WINDOW + 1
