"""A new schedule for a running plan, through the services and the collector (fake gateway):
nothing changes until the customer accepts; once accepted the collector charges the new
installments on their dates and never the cancelled ones; a charge in flight blocks proposing
and accepting; and, on PostgreSQL, the collector and an acceptance at once, or two acceptances
at once, leave each installment either charged or replaced, never both, with no error."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain.core.context import Context
from portal.domain.core.database import writing_session
from portal.domain.plans.jobs import JOB_ACTOR, collect_installments
from portal.domain.plans.models import Installment, InstallmentAttempt, Plan, PlanAgreement, PlanAmendment
from portal.domain.plans.policy import PlanRefused, terms_digest
from portal.domain.plans.service import amend_plan, amendment_terms, answer_amendment
from portal.domain.plans.states import InstallmentStatus
from portal.domain.core.audit import Actor
from tests.support.concurrency import run_at_once
from tests.support.disputes import contact_access, contact_context
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.methods import TEST_USER_AGENT, save_card
from tests.support.plans import POLICY, SUPPLIER_NAME, customer_today, make_test_plan

I = InstallmentStatus  # noqa: E741
STAFF = Actor("staff", "collector-1")


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example", name="Pat Clerk")
    invoice = make_invoice(db, clock, customer, number="INV-100", total_minor=90_001)
    db.commit()
    return customer, clerk, invoice


def _autopay_plan(db, clock, fake_gateway, clerk, invoice) -> Plan:
    card = save_card(db, clock, fake_gateway, clerk)
    plan = make_test_plan(db, clock, clerk, [invoice], count=3, card=card)  # first due today
    db.commit()
    return plan


def _accept(ctx, clerk, plan) -> Plan:
    amendment = db_amendment(ctx.db, plan)
    digest = terms_digest(amendment_terms(ctx.db, SUPPLIER_NAME, plan, amendment))
    return answer_amendment(ctx, contact_access(clerk), SUPPLIER_NAME, plan.public_id, accept=True,
                            terms_shown=digest, user_agent=TEST_USER_AGENT)


def db_amendment(db, plan) -> PlanAmendment:
    return db.scalar(select(PlanAmendment).where(PlanAmendment.plan_id == plan.id, PlanAmendment.status == "proposed"))


def _collect(session, clock, fake_gateway, supplier):
    return collect_installments(Context(session, clock, JOB_ACTOR), fake_gateway, supplier, POLICY)


def _invariants(db, plan_id: int) -> None:
    """What must hold whatever ran first: the kept installments add up to the plan, and no
    installment that was charged was also cancelled."""
    db.expire_all()
    plan = db.get(Plan, plan_id)
    kept = [i for i in plan.installments if i.status != I.CANCELLED]
    assert sum(i.amount_minor for i in kept) == plan.total_minor
    charged = set(db.scalars(select(InstallmentAttempt.installment_id)))
    assert not {i.id for i in plan.installments if i.status == I.CANCELLED} & charged


def test_the_collector_charges_the_new_schedule_once_accepted(db, clock, supplier, fake_gateway, acme):
    _, clerk, invoice = acme
    plan = _autopay_plan(db, clock, fake_gateway, clerk, invoice)
    today = customer_today(db, clock, clerk)
    amend_plan(Context(db, clock, STAFF), plan, count=2, cadence="weekly", first_due_on=today,
               reason="Two weekly payments instead.")
    db.commit()
    assert [i.status for i in plan.installments] == [I.SCHEDULED] * 3  # the old schedule is in force
    _accept(contact_context(db, clock, clerk), clerk, plan)
    db.commit()
    _collect(db, clock, fake_gateway, supplier)
    db.commit()
    [request] = fake_gateway.off_session.requests
    assert request.amount.minor == 45_001  # the new installment 4, not the cancelled installment 1
    assert [(i.number, i.status) for i in plan.installments] == [
        (1, I.CANCELLED), (2, I.CANCELLED), (3, I.CANCELLED), (4, I.CHARGING), (5, I.SCHEDULED)]
    assert db.scalar(select(func.count()).select_from(PlanAgreement)) == 2
    _invariants(db, plan.id)


def test_a_charge_in_flight_blocks_proposing_and_accepting(db, clock, supplier, fake_gateway, acme):
    _, clerk, invoice = acme
    plan = _autopay_plan(db, clock, fake_gateway, clerk, invoice)
    today = customer_today(db, clock, clerk)
    amend_plan(Context(db, clock, STAFF), plan, count=2, cadence="monthly", first_due_on=today,
               reason="Two payments.")
    db.commit()
    _collect(db, clock, fake_gateway, supplier)  # installment 1 is charged under the old schedule
    db.commit()
    with pytest.raises(PlanRefused, match="being charged"):
        _accept(contact_context(db, clock, clerk), clerk, plan)
    db.rollback()
    with pytest.raises(PlanRefused, match="being charged"):
        amend_plan(Context(db, clock, STAFF), db.get(Plan, plan.id), count=2, cadence="monthly",
                   first_due_on=today, reason="Again.")
    db.rollback()
    assert db_amendment(db, plan) is not None and [i.status for i in db.get(Plan, plan.id).installments] == [
        I.CHARGING, I.SCHEDULED, I.SCHEDULED]


@pytest.mark.postgres_only
def test_the_collector_and_an_acceptance_at_once_never_charge_a_replaced_installment(
        db, clock, supplier, fake_gateway, acme, session_factory):
    _, clerk, invoice = acme
    plan = _autopay_plan(db, clock, fake_gateway, clerk, invoice)
    today = customer_today(db, clock, clerk)
    amend_plan(Context(db, clock, STAFF), plan, count=3, cadence="monthly", first_due_on=today,
               reason="Start again today.")
    db.commit()
    fake_gateway.off_session.delay = 0.2
    outcomes: list[str] = []

    def collector() -> None:
        with writing_session(session_factory) as session:
            _collect(session, clock, fake_gateway, supplier)
            session.commit()

    def customer() -> None:
        with writing_session(session_factory) as session:
            try:
                _accept(contact_context(session, clock, clerk), clerk, session.get(Plan, plan.id))
                session.commit()
                outcomes.append("accepted")
            except PlanRefused:
                session.rollback()
                outcomes.append("refused")

    turns = iter([collector, customer])
    run_at_once(lambda: next(turns)())
    assert len(outcomes) == 1
    _invariants(db, plan.id)


@pytest.mark.postgres_only
def test_two_acceptances_at_once_make_one_new_schedule(db, clock, fake_gateway, acme, session_factory):
    _, clerk, invoice = acme
    plan = _autopay_plan(db, clock, fake_gateway, clerk, invoice)
    amend_plan(Context(db, clock, STAFF), plan, count=2, cadence="monthly",
               first_due_on=customer_today(db, clock, clerk), reason="Two payments.")
    db.commit()
    outcomes: list[str] = []

    def accept() -> None:
        with writing_session(session_factory) as session:
            try:
                _accept(contact_context(session, clock, clerk), clerk, session.get(Plan, plan.id))
                session.commit()
                outcomes.append("accepted")
            except PlanRefused:
                session.rollback()
                outcomes.append("refused")

    run_at_once(accept)
    assert sorted(outcomes) == ["accepted", "refused"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(PlanAgreement)) == 2
    assert db.scalar(select(func.count()).select_from(Installment).where(Installment.plan_id == plan.id)) == 5
    _invariants(db, plan.id)
