"""Each kind this area resolves, as a sequence of events on real rows: reported → handled →
the invoice's state and the reminders follow.

- We already paid it: reported (reminders leave the invoice out) → matched in full (paid, the
  ledger and the maintained sums agree, no reminder) or in part (the rest is chased again);
  → not found (still paused) → the clerk answers (open again) → dismissed (chased again).
- Waiting for approval: reported (a promise; reminders paused) → paid (the promise kept, the
  follow-up resolved) or the date passes (the promise broken, a promise-broken follow-up).
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.core.audit import Actor
from portal.domain.core.clock import today_in
from portal.domain.core.context import Context
from portal.domain.followups.models import Followup
from portal.domain.followups.notifications import FollowupMail
from portal.domain.followups.policy import FollowupRefused
from portal.domain.followups.service import (
    answer_followup, dismiss_followup, match_reported_payment, payment_not_found, report_already_paid,
    report_awaiting_approval,
)
from portal.domain.followups.states import FollowupKind, FollowupStatus
from portal.domain.ledger.jobs import check_account_figures, check_ledger
from portal.domain.payments.models import Payment
from portal.domain.promises.jobs import check_promises
from portal.domain.promises.models import Promise
from portal.domain.promises.notifications import PromiseMail
from portal.domain.promises.states import PromiseStatus
from portal.domain.reminders.jobs import send_reminders
from portal.domain.reminders.notifications import ReminderMail
from portal.domain.reminders.queries import excluded_invoice_ids
from tests.support.concurrency import run_at_once
from tests.support.disputes import contact_access, contact_context, staff_context
from tests.support.factories import add_invoice_entry, make_contact, make_customer, make_invoice, make_staff
from tests.support.followups import report_test_payment
from tests.support.promises import POLICY

TODAY = date(2026, 6, 15)


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    late = [make_invoice(db, clock, customer, number=f"INV-{n}", total_minor=10_000, due_date=TODAY - timedelta(days=8),
                         issue_date=TODAY - timedelta(days=38)) for n in (1, 2)]
    return customer, clerk, late


@pytest.fixture
def mail(supplier):
    return FollowupMail(supplier)


@pytest.fixture
def remind(db, clock, supplier, link_signer):
    def remind():
        report = send_reminders(db, clock, ReminderMail(supplier, link_signer))
        db.flush()
        return report
    return remind


def _staff(db, clock):
    member = make_staff(db, clock, role="collector", name="Casey Cash")
    return staff_context(db, clock, member), member


def _balances(db, invoices) -> list[int]:
    for invoice in invoices:
        db.refresh(invoice)
    return [invoice.balance_minor for invoice in invoices]


def _totals_agree(db) -> None:
    """The maintained sums: every invoice's balance and money in flight equal its history, and
    the per-customer totals equal the invoices regrouped."""
    db.flush()
    assert check_ledger(db).is_consistent
    assert check_account_figures(db) == []


def test_reported_paid_then_matched_in_full_closes_the_invoice_and_no_reminder_goes_out(
        db, clock, acme, mail, remind):
    customer, clerk, (first, second) = acme
    followup = report_test_payment(db, clock, clerk, [first])
    today = today_in(clock, customer.timezone)
    assert excluded_invoice_ids(db, customer.id, today) == {first.id}
    report = remind()
    assert report.invoices == 1  # only INV-2 is chased
    ctx, member = _staff(db, clock)
    payment = match_reported_payment(ctx, followup, member.id, amount_text="100.00", bank_reference="", mail=mail)
    assert (payment.method, payment.memo.endswith("WIRE-20261130-77")) == ("offline_wire", True)
    assert _balances(db, [first, second]) == [0, 10_000]
    assert (followup.status, followup.outcome) == (FollowupStatus.RESOLVED, "matched")
    assert excluded_invoice_ids(db, customer.id, today) == set()
    _totals_agree(db)
    clock.advance(days=7)  # the next step: INV-1 is paid, only INV-2 is reminded
    later = remind()
    assert later.invoices == 1
    with pytest.raises(FollowupRefused, match="already closed"):
        match_reported_payment(ctx, followup, member.id, amount_text="1.00", bank_reference="", mail=mail)
    assert len(db.scalars(select(Payment)).all()) == 1


def test_matched_in_part_reduces_the_invoice_and_the_rest_is_chased_again(db, clock, acme, mail):
    customer, clerk, (first, _) = acme
    followup = report_test_payment(db, clock, clerk, [first], amount_text="60.00", method="check")
    ctx, member = _staff(db, clock)
    payment = match_reported_payment(ctx, followup, member.id, amount_text="60.00", bank_reference="CHK 1001",
                                     mail=mail)
    assert payment.method == "offline_check"
    assert _balances(db, [first]) == [4_000]
    assert excluded_invoice_ids(db, customer.id, today_in(clock, customer.timezone)) == set()
    _totals_agree(db)


def test_not_found_waits_for_the_clerk_whose_answer_reopens_it_and_a_dismissal_resumes_reminders(
        db, clock, acme, mail, remind):
    customer, clerk, (first, second) = acme
    followup = report_test_payment(db, clock, clerk, [first, second])
    ctx, member = _staff(db, clock)
    payment_not_found(ctx, followup, member.id, "Please send the remittance advice.", mail)
    assert followup.status == FollowupStatus.WAITING
    today = today_in(clock, customer.timezone)
    assert excluded_invoice_ids(db, customer.id, today) == {first.id, second.id}  # still paused
    assert remind().invoices == 0
    answer_followup(contact_context(db, clock, clerk), contact_access(clerk), followup.public_id,
                    text="It was sent on the 12th, reference WIRE-1.", mail=mail)
    assert followup.status == FollowupStatus.OPEN
    dismiss_followup(ctx, followup, member.id, "The wire was for another supplier.", mail)
    assert (followup.status, followup.outcome) == (FollowupStatus.DISMISSED, "dismissed")
    assert excluded_invoice_ids(db, customer.id, today) == set()
    clock.advance(days=7)
    assert remind().invoices == 2  # chased again
    assert [e.action for e in followup.events] == ["raised", "waiting", "answered", "open", "dismissed"]


def _approval(db, clock, clerk, invoices, days=10):
    today = today_in(clock, clerk.customer.timezone)
    return report_awaiting_approval(
        contact_context(db, clock, clerk), contact_access(clerk), POLICY,
        invoice_public_ids=[i.public_id for i in invoices], expected_date=today + timedelta(days=days),
        method="ach", note="Waiting for the CFO", request_key=secrets.token_urlsafe(24), today=today,
    )


def _check(db, clock, supplier, link_signer):
    report = check_promises(db, clock, PromiseMail(supplier, link_signer), POLICY)
    db.flush()
    return report


def test_waiting_for_approval_becomes_a_promise_kept_when_paid(db, clock, supplier, link_signer, acme, remind):
    customer, clerk, (first, second) = acme
    followup = _approval(db, clock, clerk, [first])
    promise = db.scalar(select(Promise))
    assert (followup.kind, followup.queue, followup.details["promise"]) == (
        FollowupKind.AWAITING_APPROVAL, "collections", promise.public_id)
    assert first.id in excluded_invoice_ids(db, customer.id, today_in(clock, customer.timezone))
    assert remind().invoices == 1  # only INV-2
    add_invoice_entry(db, clock, first, "payment", -10_000)
    _check(db, clock, supplier, link_signer)
    assert promise.status == PromiseStatus.KEPT
    assert (followup.status, followup.outcome) == (FollowupStatus.RESOLVED, "promise_kept")


def test_waiting_for_approval_broken_resolves_it_and_raises_a_promise_broken_follow_up(
        db, clock, supplier, link_signer, acme, remind):
    customer, clerk, (first, _) = acme
    followup = _approval(db, clock, clerk, [first], days=3)
    clock.advance(days=3 + POLICY.grace_days + 2)
    _check(db, clock, supplier, link_signer)
    assert (followup.status, followup.outcome) == (FollowupStatus.RESOLVED, "promise_broken")
    broken = db.scalar(select(Followup).where(Followup.kind == FollowupKind.PROMISE_BROKEN.value))
    assert broken.status == FollowupStatus.OPEN and [i.invoice_id for i in broken.invoices] == [first.id]
    assert first.id not in excluded_invoice_ids(db, customer.id, today_in(clock, customer.timezone))


def test_the_same_approval_form_twice_makes_one_promise_and_one_follow_up(db, clock, acme):
    customer, clerk, (first, _) = acme
    today = today_in(clock, customer.timezone)
    key = secrets.token_urlsafe(24)
    arguments = dict(invoice_public_ids=[first.public_id], expected_date=today + timedelta(days=5), method="wire",
                     note="", request_key=key, today=today)
    one = report_awaiting_approval(contact_context(db, clock, clerk), contact_access(clerk), POLICY, **arguments)
    two = report_awaiting_approval(contact_context(db, clock, clerk), contact_access(clerk), POLICY, **arguments)
    assert one.id == two.id
    assert len(db.scalars(select(Promise)).all()) == 1
    with pytest.raises(FollowupRefused, match="within 30 days"):  # the promise policy's limit
        report_awaiting_approval(contact_context(db, clock, clerk), contact_access(clerk), POLICY,
                                 **{**arguments, "request_key": secrets.token_urlsafe(24),
                                    "expected_date": today + timedelta(days=400)})


@pytest.mark.postgres_only
def test_two_clerks_reporting_at_once_and_two_staff_matching_at_once_each_happen_once(
        session_factory, db, clock, acme, mail):
    """The customer's lock serializes reports (one per form token) and matches (one payment)."""
    customer, clerk, (first, _) = acme
    member = make_staff(db, clock, role="collector")
    db.commit()
    key = secrets.token_urlsafe(24)
    today = today_in(clock, customer.timezone)

    def report() -> None:
        with session_factory() as session:
            report_already_paid(
                Context(session, clock, Actor("contact", clerk.public_id)), Access(customer.id, clerk.id, ACCOUNT),
                invoice_public_ids=[first.public_id], paid_on=today, amount_text="100.00", method="wire",
                reference="W-1", note="", request_key=key, today=today)
            session.commit()

    run_at_once(report, times=4)
    db.rollback()
    [followup] = db.scalars(select(Followup)).all()

    def match() -> None:
        with session_factory() as session:
            found = session.get(Followup, followup.id)
            try:
                match_reported_payment(Context(session, clock, Actor("staff", member.public_id)), found, member.id,
                                       amount_text="100.00", bank_reference="", mail=mail)
                session.commit()
            except FollowupRefused:
                session.rollback()

    run_at_once(match, times=3)
    db.rollback()
    assert len(db.scalars(select(Payment)).all()) == 1
    assert _balances(db, [first]) == [0]
    _totals_agree(db)
