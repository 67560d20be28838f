"""The AR dashboard's figures over known data, on both databases: aging, DSO, best possible
DSO, CEI for last month and this month, collected, cash expected by week, dispute cycle time,
promises kept and broken, reminders followed by a payment; per currency, days counted in the
reader's time zone. The expected numbers are worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from portal.domain.core.money import Money
from portal.domain.disputes.states import DisputeStatus
from portal.domain.ledger.states import EntryKind
from portal.domain.plans.models import Installment, Plan
from portal.domain.promises.models import Promise
from portal.domain.reminders.models import ReminderSent
from portal.domain.reports.queries import ar_dashboard
from tests.support.disputes import raise_test_dispute
from tests.support.factories import add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice

NOW = datetime(2026, 6, 15, 14, 30, tzinfo=UTC)


def _at(clock, when: datetime) -> None:
    clock.set(when)


def settle(db, clock, customer, invoice, amount: int, at: datetime):
    """A payment of `amount` on `invoice`, settled (with its ledger entry) at `at`."""
    _at(clock, at)
    payment = make_allocated_payment(db, clock, customer, [(invoice, amount)], status="succeeded")
    payment.settled_at = at
    add_invoice_entry(db, clock, invoice, EntryKind.PAYMENT, -amount, payment_id=payment.id)
    return payment


@pytest.fixture
def ledger(db, clock):
    """USD: C issued 16 Apr (due 16 May, 100 paid on 25 May), A issued 10 May (due 15 May, 300
    paid on 5 June), B issued 1 June (due 30 June). EUR: D issued 10 June (due 10 July)."""
    customer = make_customer(db, clock)
    contact = make_contact(db, clock, customer)
    _at(clock, datetime(2026, 4, 16, 9, tzinfo=UTC))
    c = make_invoice(db, clock, customer, total_minor=400, issue_date=date(2026, 4, 16), due_date=date(2026, 5, 16))
    _at(clock, datetime(2026, 5, 10, 9, tzinfo=UTC))
    a = make_invoice(db, clock, customer, total_minor=1_000, issue_date=date(2026, 5, 10), due_date=date(2026, 5, 15))
    settle(db, clock, customer, c, 100, datetime(2026, 5, 25, 12, tzinfo=UTC))
    _at(clock, datetime(2026, 6, 1, 9, tzinfo=UTC))
    b = make_invoice(db, clock, customer, total_minor=600, issue_date=date(2026, 6, 1), due_date=date(2026, 6, 30))
    settle(db, clock, customer, a, 300, datetime(2026, 6, 5, 12, tzinfo=UTC))
    _at(clock, datetime(2026, 6, 10, 9, tzinfo=UTC))
    d = make_invoice(db, clock, customer, total_minor=5_000, currency="EUR", issue_date=date(2026, 6, 10),
                     due_date=date(2026, 7, 10))
    _at(clock, NOW)
    db.flush()
    return customer, contact, {"a": a, "b": b, "c": c, "d": d}


def _figures(dashboard, currency):
    [found] = [c for c in dashboard.currencies if c.currency == currency]
    return found


def test_aging_dso_cei_and_collected_per_currency(db, clock, ledger):
    dashboard = ar_dashboard(db, NOW, "UTC")
    usd, eur = _figures(dashboard, "USD"), _figures(dashboard, "EUR")
    assert [c.currency for c in dashboard.currencies] == ["EUR", "USD"]

    # Open: A 700 (31 days overdue), B 600 (not yet due), C 300 (exactly 30 days overdue).
    assert usd.open_total == Money(1_600, "USD")
    assert [(bucket.key, amount.minor) for bucket, amount in usd.aging] == [
        ("current", 600), ("days_1_30", 300), ("days_31_60", 700), ("days_61_90", 0), ("days_over_90", 0)]
    # Countback: 1,600 less June's 600 (15 days), then May's 1,000 covers the rest whole (31 days).
    assert (usd.dso.days, usd.dso.exhausted) == (Fraction(46), False)
    # Best possible: 600 not yet due / 2,000 sold in June to date, May, April (15 + 31 + 30 days).
    assert usd.best_dso == Fraction(600, 2_000) * 76
    # May: 400 at its start (C), 1,000 sold (A), 1,300 at its end (A 1,000 + C 300), none current.
    assert usd.cei_last_month == Fraction(100 * 100, 1_400)
    # June to date: 1,300 at its start, 600 sold (B), 1,600 now of which 600 not yet due.
    assert usd.cei_this_month == Fraction(300 * 100, 1_300)
    assert usd.collected_this_month == Money(300, "USD")  # May's 100 was last month

    # EUR never mixes with USD: D alone, sold this month and not yet due.
    assert eur.open_total == Money(5_000, "EUR") and eur.aging[0][1] == Money(5_000, "EUR")
    assert eur.dso.days == Fraction(15) and eur.best_dso == Fraction(76)
    assert eur.cei_last_month is None and eur.cei_this_month is None  # nothing was collectible
    assert eur.collected_this_month == Money(0, "EUR")


def test_the_readers_time_zone_decides_the_day_and_the_month(db, clock, ledger):
    customer, _contact, invoices = ledger
    # Settled 30 June 12:30 UTC: still June in UTC, already 1 July in Auckland (UTC+12).
    settle(db, clock, customer, invoices["b"], 50, datetime(2026, 6, 30, 12, 30, tzinfo=UTC))
    at = datetime(2026, 6, 30, 13, 0, tzinfo=UTC)
    utc, auckland = ar_dashboard(db, at, "UTC"), ar_dashboard(db, at, "Pacific/Auckland")
    assert (utc.today, auckland.today) == (date(2026, 6, 30), date(2026, 7, 1))
    assert _figures(utc, "USD").collected_this_month == Money(350, "USD")
    assert _figures(auckland, "USD").collected_this_month == Money(50, "USD")
    # B is due 30 June: current in UTC, one day overdue in Auckland.
    assert _figures(utc, "USD").aging[0][1] == Money(550, "USD")
    assert _figures(auckland, "USD").aging[1][1] == Money(550, "USD")
    # C (due 16 May) is 45 days overdue in UTC and 46 in Auckland: 31–60 either way, with A.
    assert _figures(utc, "USD").aging[2][1] == _figures(auckland, "USD").aging[2][1] == Money(1_000, "USD")


def test_cash_expected_by_week_from_plans_and_promises(db, clock, ledger):
    customer, contact, invoices = ledger
    plan = Plan(customer_id=customer.id, proposed_by_contact_id=contact.id, request_key="k1", status="active",
                currency="USD", total_minor=600, installment_count=3, cadence="weekly", first_due_on=date(2026, 6, 16),
                pay_by="myself", created_at=NOW, updated_at=NOW)
    db.add(plan)
    db.flush()
    for number, (due, status) in enumerate([(date(2026, 6, 16), "paid"), (date(2026, 6, 23), "scheduled"),
                                            (date(2026, 6, 30), "failed"), (date(2026, 8, 30), "scheduled")], 1):
        db.add(Installment(plan_id=plan.id, number=number, due_on=due, amount_minor=200, status=status, updated_at=NOW))
    for number, (promised, status, total) in enumerate([(date(2026, 6, 19), "open", 700), (date(2026, 6, 20), "open", 5),
                                                        (date(2026, 6, 19), "kept", 999)]):
        db.add(Promise(customer_id=customer.id, made_by_contact_id=contact.id, request_key=f"p{number}", status=status,
                       method="wire", currency="USD", total_minor=total, promised_date=promised,
                       original_date=promised, created_at=NOW, updated_at=NOW))
    db.flush()
    dashboard = ar_dashboard(db, NOW, "UTC")
    usd = _figures(dashboard, "USD")
    assert [week.label for week in dashboard.weeks][:3] == ["2026-W25", "2026-W26", "2026-W27"]
    assert len(dashboard.weeks) == 8 and dashboard.weeks[0].monday == date(2026, 6, 15)
    # Paid installments are not expected; a failed one still is; 30 August is past the 8 weeks.
    assert [m.minor for m in usd.expected_plans] == [0, 200, 200, 0, 0, 0, 0, 0]
    assert [m.minor for m in usd.expected_promises] == [705, 0, 0, 0, 0, 0, 0, 0]


def test_disputes_promises_and_reminders(db, clock, ledger):
    customer, contact, invoices = ledger
    raised = NOW - timedelta(days=20)
    _at(clock, raised)
    for hours, status in [(24, DisputeStatus.RESOLVED_ACCEPTED), (72, DisputeStatus.REJECTED),
                          (120, DisputeStatus.WITHDRAWN)]:
        dispute = raise_test_dispute(db, clock, contact, [invoices["a"]], amount_text="1.00")
        dispute.status, dispute.resolved_at = status, raised + timedelta(hours=hours)
    _at(clock, NOW)
    for number, (status, decided) in enumerate([("kept", 10), ("kept", 95), ("broken", 5), ("broken", 100)]):
        db.add(Promise(customer_id=customer.id, made_by_contact_id=contact.id, request_key=f"d{number}", status=status,
                       method="wire", currency="USD", total_minor=100, promised_date=date(2026, 5, 1),
                       original_date=date(2026, 5, 1), created_at=NOW - timedelta(days=120), updated_at=NOW,
                       decided_at=NOW - timedelta(days=decided)))
    # Two reminder emails (one covering two invoices) in the last 30 days, one older.
    first = NOW - timedelta(days=20)  # 26 May
    for invoice, offset, sent in [("a", 1, first), ("c", 1, first), ("b", 7, NOW - timedelta(days=2)),
                                  ("a", 30, NOW - timedelta(days=40))]:
        db.add(ReminderSent(invoice_id=invoices[invoice].id, customer_id=customer.id, offset_days=offset, tone="firm",
                            sent_at=sent, dedupe_key=f"r-{invoice}-{offset}"))
    db.flush()
    dashboard = ar_dashboard(db, NOW, "UTC")
    # Decided: 24 h and 72 h (a withdrawal is no decision).
    assert dashboard.disputes_decided == 2
    assert dashboard.dispute_median == timedelta(hours=48)
    assert dashboard.dispute_p90 == timedelta(hours=24 + 48 * 0.9)
    # Within 90 days: one kept, one broken.
    assert (dashboard.promises_kept, dashboard.promises_broken) == (1, 1)
    assert dashboard.promises_kept_share == 50
    # The 5 June payment (300 on A) came ten days after the 26 May reminder: too late; none
    # after the 13 June one, until the payment of 14 June.
    assert dashboard.reminders_sent == 2 and dashboard.reminders_followed == 0
    settle(db, clock, customer, invoices["b"], 10, NOW - timedelta(days=1))
    _at(clock, NOW)
    assert ar_dashboard(db, NOW, "UTC").reminders_followed == 1
