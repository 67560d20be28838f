"""Saving a US bank account through the service, with the in-process fake gateway (its
`confirm_bank_setup` plays the Payment Element confirming the SetupIntent in the browser):
the mandate kept with who, when and from where; one waiting for microdeposits kept pending and
unusable (SECURITY.md P12) until Stripe verifies it; autopay takes a verified one, never a
pending one. Both databases (the collectors' race on PostgreSQL only)."""

from __future__ import annotations


import pytest
from sqlalchemy import select

from portal.domain.core.audit import STRIPE
from portal.domain.core.context import Context
from portal.domain.core.models import AuditEntry
from portal.domain.methods import queries, service
from portal.domain.methods.models import SavedMethod
from portal.domain.methods.policy import MethodRefused, bank_mandate_text, consent_text
from portal.domain.core.database import writing_session
from portal.domain.payments.models import BankDebit, Payment
from portal.domain.plans.jobs import JOB_ACTOR, collect_installments
from portal.domain.plans.models import Installment, InstallmentAttempt, PlanAgreement
from portal.domain.plans.service import PlanRefused
from tests.support.concurrency import run_at_once
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.methods import (
    TEST_USER_AGENT, account_access, contact_context, save_bank_account, save_card, start_bank_setup,
)
from tests.support.plans import POLICY, make_test_plan


@pytest.fixture
def company(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    return make_contact(db, clock, customer, email="ap@acme.example")


def _stripe_context(db, clock) -> Context:
    return Context(db, clock, STRIPE)


def test_a_bank_account_verified_at_once_keeps_the_mandate_and_becomes_the_default(db, clock, fake_gateway, company):
    method = save_bank_account(db, clock, fake_gateway, company)
    db.commit()
    [request] = fake_gateway.saved.setup_requests
    assert request.bank_accounts is True
    assert (method.method_type, method.bank_name, method.account_type, method.last4) == (
        "us_bank_account", "STRIPE TEST BANK", "checking", "6789")
    assert (method.exp_month, method.exp_year) == (None, None)
    assert method.verification_status == "verified" and method.verified_at == clock.now()
    assert method.consent_text == bank_mandate_text("Northwind Supply", "Acme Corp")
    assert "ACH" in method.consent_text and "Acme Corp" in method.consent_text
    setup = fake_gateway.saved.setups[next(iter(fake_gateway.saved.setups))]
    assert method.stripe_mandate_id == setup.mandate_id and method.stripe_mandate_id.startswith("mandate_")
    assert method.mandate_accepted_at == clock.now()
    assert (method.saved_by_contact_id, method.ip, method.user_agent) == (company.id, "203.0.113.7", TEST_USER_AGENT)
    assert method.is_default is True
    [line] = queries.saved_methods(db, account_access(company))
    assert (str(line.label), line.expiry, line.is_bank_account, line.verified) == (
        "STRIPE TEST BANK checking account ending 6789", "", True, True)


def test_a_card_saved_from_a_setup_that_offered_bank_accounts_keeps_the_card_words(db, clock, fake_gateway, company):
    setup = start_bank_setup(db, clock, fake_gateway, company)
    fake_gateway.confirm_setup(setup.stripe_setup_intent_id)
    method = service.complete_setup(contact_context(db, clock, company), fake_gateway, account_access(company),
                                    setup.public_id)
    assert method.method_type == "card" and method.consent_text == consent_text("Northwind Supply", "Acme Corp")
    assert (method.exp_month, method.exp_year, method.stripe_mandate_id) == (12, 2034, None)


def test_a_bank_account_waiting_for_microdeposits_is_pending_and_cannot_be_the_default(
        db, clock, fake_gateway, company):
    card = save_card(db, clock, fake_gateway, company)
    bank = save_bank_account(db, clock, fake_gateway, company, microdeposits=True)
    db.commit()
    assert (bank.verification_status, bank.verified_at, bank.is_default) == ("pending_verification", None, False)
    lines = {line.public_id: line for line in queries.saved_methods(db, account_access(company))}
    assert lines[bank.public_id].verification_label == "Waiting for verification"
    assert not lines[bank.public_id].verified and lines[card.public_id].is_default
    defaults_before = list(fake_gateway.saved.defaults)
    with pytest.raises(MethodRefused, match="waiting for verification"):
        service.set_default_method(contact_context(db, clock, company), fake_gateway, account_access(company),
                                   bank.public_id)
    db.rollback()
    assert fake_gateway.saved.defaults == defaults_before  # Stripe was not told either
    db.expire_all()
    assert db.get(SavedMethod, card.id).is_default is True


def test_the_first_pending_bank_account_is_no_default_until_verified(db, clock, fake_gateway, company):
    bank = save_bank_account(db, clock, fake_gateway, company, microdeposits=True)
    db.commit()
    assert bank.is_default is False and fake_gateway.saved.defaults == []
    setup_id = bank.setup_id
    intent_id = next(iter(fake_gateway.saved.setups))
    clock.advance(days=2)
    outcome = service.apply_setup_event(_stripe_context(db, clock), False, setup_id,
                                        fake_gateway.finish_setup(intent_id))
    db.commit()
    db.expire_all()
    bank = db.get(SavedMethod, bank.id)
    assert outcome.endswith("pending_verification -> verified")
    assert (bank.verification_status, bank.verified_at, bank.is_default) == ("verified", clock.now(), True)
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "method.verification")).all()
    assert (entry.actor_type, entry.actor_id) == (STRIPE.type, STRIPE.id)


def test_a_verified_or_failed_method_never_moves_again(db, clock, fake_gateway, company):
    bank = save_bank_account(db, clock, fake_gateway, company, microdeposits=True)
    intent_id = next(iter(fake_gateway.saved.setups))
    failed = fake_gateway.finish_setup(intent_id, succeeded=False)
    assert service.apply_setup_event(_stripe_context(db, clock), False, bank.setup_id, failed).endswith(
        "pending_verification -> failed")
    later = fake_gateway.finish_setup(intent_id)  # a late success changes nothing now
    assert service.apply_setup_event(_stripe_context(db, clock), False, bank.setup_id, later).startswith("ignored")
    db.commit()
    db.expire_all()
    assert db.get(SavedMethod, bank.id).verification_status == "failed"
    with pytest.raises(MethodRefused, match="could not be verified"):
        service.set_default_method(contact_context(db, clock, company), fake_gateway, account_access(company),
                                   bank.public_id)


def test_a_bank_account_on_a_setup_that_showed_no_mandate_is_refused(db, clock, fake_gateway, company):
    ctx, access = contact_context(db, clock, company), account_access(company)
    setup = service.start_setup(ctx, fake_gateway, access, consent_text("Northwind Supply", "Acme Corp"), "")
    assert fake_gateway.saved.setup_requests[-1].bank_accounts is False
    fake_gateway.confirm_bank_setup(setup.stripe_setup_intent_id)
    with pytest.raises(MethodRefused, match="not saved"):
        service.complete_setup(ctx, fake_gateway, access, setup.public_id)
    db.rollback()
    assert db.scalars(select(SavedMethod)).all() == []


def test_autopay_accepts_a_verified_bank_account_and_refuses_a_pending_one(db, clock, fake_gateway, company):
    invoice = make_invoice(db, clock, company.customer, currency="USD", total_minor=90_000)
    pending = save_bank_account(db, clock, fake_gateway, company, microdeposits=True, last4="1111")
    with pytest.raises(PlanRefused, match="cannot be charged: it is not verified"):
        make_test_plan(db, clock, company, [invoice], card=pending, days=3)
    db.rollback()
    bank = save_bank_account(db, clock, fake_gateway, company)
    plan = make_test_plan(db, clock, company, [invoice], card=bank, days=3)
    assert plan.saved_method_id == bank.id and plan.status == "active"
    agreement = db.scalars(select(PlanAgreement).where(PlanAgreement.plan_id == plan.id)).one()
    assert "to the saved bank account STRIPE TEST BANK checking account ending 6789" in agreement.terms_text


@pytest.mark.postgres_only
def test_two_collectors_at_once_debit_a_bank_installment_once_and_never_while_processing(
        db, clock, fake_gateway, company, supplier, session_factory):
    invoice = make_invoice(db, clock, company.customer, currency="USD", total_minor=90_000)
    bank = save_bank_account(db, clock, fake_gateway, company)
    plan = make_test_plan(db, clock, company, [invoice], card=bank, count=2)
    db.commit()
    fake_gateway.off_session.delay = 0.2

    def run() -> None:
        with writing_session(session_factory) as session:
            collect_installments(Context(session, clock, JOB_ACTOR), fake_gateway, supplier, POLICY)
            session.commit()

    run_at_once(run)  # both find the installment due
    run_at_once(run)  # both find it processing
    db.rollback()
    [request] = fake_gateway.off_session.requests
    assert request.mandate_id == bank.stripe_mandate_id
    [attempt] = db.scalars(select(InstallmentAttempt)).all()
    payment = db.get(Payment, attempt.payment_id)
    assert (payment.status, payment.method) == ("processing", "us_bank_account")
    assert db.scalars(select(BankDebit)).all() == [db.get(BankDebit, payment.id)]
    db.expire_all()
    assert [i.status for i in db.scalars(select(Installment).where(Installment.plan_id == plan.id)
                                         .order_by(Installment.number))] == ["charging", "scheduled"]


def test_the_collector_never_charges_a_bank_account_waiting_for_microdeposits(db, clock, fake_gateway, company, supplier):
    """SECURITY.md P12: even a plan pointing at a pending bank account (written past the
    service's refusal) gets no charge scheduled."""
    invoice = make_invoice(db, clock, company.customer, currency="USD", total_minor=90_000)
    card = save_card(db, clock, fake_gateway, company)
    plan = make_test_plan(db, clock, company, [invoice], card=card, days=0)
    bank = save_bank_account(db, clock, fake_gateway, company, microdeposits=True)
    plan.saved_method_id = bank.id
    db.commit()
    report = collect_installments(Context(db, clock, JOB_ACTOR), fake_gateway, supplier, POLICY)
    db.commit()
    assert (report.charged, report.skipped) == (0, 1)
    assert fake_gateway.off_session.calls == 0 and db.scalars(select(Payment)).all() == []
