"""The demo ledger: realistic in size and shape, consistent to the cent, and deterministic."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select

from devserver.demo_data import (
    DEMO_CLERK_EMAIL, DEMO_CUSTOMER_NAME, DemoDataExists, build_demo_dataset, seed_demo_data,
)
from portal.domain.account.policy import AGING_BUCKETS, aging_bucket
from portal.domain.ledger.queries import standings_query, to_standings
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.models import DisputeInvoice
from portal.domain.invoicing.models import Invoice, InvoiceLine, InvoiceReissue
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.payments.models import Payment, PaymentAllocation
from tests.support.factories import make_customer

TODAY = date(2026, 6, 15)
# Invoices of the plan: all but the corrected invoices demo disputes were re-billed with.
# The demo ledger's own invoices: not those that replaced one (a re-bill, a PO re-issue).
PLANNED = Invoice.id.not_in(
    select(DisputeInvoice.rebilled_invoice_id).where(DisputeInvoice.rebilled_invoice_id.is_not(None))
    .union(select(InvoiceReissue.replacement_invoice_id).where(InvoiceReissue.replacement_invoice_id.is_not(None))))
CURRENCIES = {"USD", "EUR", "GBP", "JPY"}


@pytest.fixture(scope="module")
def plan():
    return build_demo_dataset(seed=7, today=TODAY)


def test_same_seed_and_day_give_the_same_data_and_another_seed_does_not(plan):
    assert build_demo_dataset(seed=7, today=TODAY) == plan
    other = build_demo_dataset(seed=8, today=TODAY)
    assert [i.total_minor for i in other.invoices] != [i.total_minor for i in plan.invoices]


def test_plan_has_the_size_and_mix_of_a_real_supplier(plan):
    assert 45 <= len(plan.customers) <= 55
    assert 900 <= len(plan.invoices) <= 1100
    assert {invoice.currency for invoice in plan.invoices} == CURRENCIES
    assert all(1 <= len(customer.contacts) <= 4 for customer in plan.customers)
    assert sum(any(c.is_ap_mailbox for c in customer.contacts) for customer in plan.customers) >= 10
    assert len({invoice.number for invoice in plan.invoices}) == len(plan.invoices)
    assert sum(invoice.po_number is not None for invoice in plan.invoices) > len(plan.invoices) * 0.6
    assert all(1 <= len(invoice.lines) <= 5 for invoice in plan.invoices)
    for invoice in plan.invoices:
        for line in invoice.lines:
            exact = line.quantity * line.unit_price_minor  # half a cent rounds up, as on paper
            assert line.amount_minor == int(exact.quantize(Decimal(1), ROUND_HALF_UP))


def test_demo_clerk_has_about_twenty_invoices_with_open_usd_ones(plan):
    acme = plan.customers[0]
    assert acme.name == DEMO_CUSTOMER_NAME
    assert DEMO_CLERK_EMAIL in {contact.email for contact in acme.contacts}
    assert 15 <= len(acme.invoices) <= 25
    assert {invoice.currency for invoice in acme.invoices} == {"USD"}
    assert any(invoice.due_date >= TODAY for invoice in acme.invoices)


def test_seeded_ledger_is_consistent_and_covers_every_state(db, clock):
    summary = seed_demo_data(db, clock, seed=7)
    db.commit()
    today = clock.now().date()

    assert summary.customers == db.scalar(select(func.count()).select_from(Customer))
    # The plan's invoices, the one corrected invoice a demo dispute was re-billed with, and the
    # one that replaced an invoice re-issued with its PO.
    assert summary.invoices == db.scalar(select(func.count()).select_from(Invoice).where(PLANNED))
    assert db.scalar(select(func.count()).select_from(Invoice).where(~PLANNED)) == 2
    assert 900 <= summary.invoices <= 1100
    assert set(db.scalars(select(Invoice.currency).distinct())) == CURRENCIES

    # Each total is the sum of its lines; each payment the sum of its allocations.
    line_sums = dict(db.execute(select(InvoiceLine.invoice_id, func.sum(InvoiceLine.amount_minor))
                                .group_by(InvoiceLine.invoice_id)).all())
    invoices = db.scalars(select(Invoice)).all()
    assert all(line_sums[invoice.id] == invoice.total_minor for invoice in invoices)
    allocated = dict(db.execute(select(PaymentAllocation.payment_id, func.sum(PaymentAllocation.amount_minor))
                                .group_by(PaymentAllocation.payment_id)).all())
    # The planned ledger's payments (the two demo bank payments are checked in their own test).
    from portal.domain.payments.models import BankDebit
    debits = select(BankDebit.payment_id)
    payments = db.scalars(select(Payment).where(Payment.id.not_in(debits))).all()
    assert payments and all(p.status == "succeeded" and p.settled_at and allocated[p.id] == p.amount_minor
                            for p in payments)

    # Balance = total - settled payment allocations - credit notes, never negative.
    paid = defaultdict(int)
    for invoice_id, amount in db.execute(select(PaymentAllocation.invoice_id, PaymentAllocation.amount_minor)
                                         .where(PaymentAllocation.payment_id.not_in(debits))):
        paid[invoice_id] += amount
    credited = defaultdict(int)
    for invoice_id, amount in db.execute(select(InvoiceEntry.invoice_id, InvoiceEntry.amount_minor)
                                         .where(InvoiceEntry.kind == "credit_note")):
        credited[invoice_id] -= amount
    standings = to_standings(db.execute(standings_query()).all(), today)
    assert len(standings) == summary.invoices + 2  # with the re-billed and the PO replacement invoices
    for standing in standings:
        invoice = standing.invoice
        assert standing.balance.minor == invoice.total_minor - paid[invoice.id] - credited[invoice.id]
        assert 0 <= standing.balance.minor <= invoice.total_minor

    states = Counter(standing.status for standing in standings)
    assert states["paid"] > 100 and states["open"] > 20 and states["overdue"] > 50
    assert sum(standing.is_partly_paid for standing in standings) >= 10
    assert summary.credit_notes >= 20
    buckets = Counter(aging_bucket(standing.days_overdue).key for standing in standings if not standing.is_paid)
    assert all(buckets[bucket.key] > 0 for bucket in AGING_BUCKETS), buckets

    clerk = db.scalar(select(Contact).where(Contact.email == DEMO_CLERK_EMAIL))
    assert clerk.is_ap_mailbox and clerk.customer.name == DEMO_CUSTOMER_NAME
    acme_open_usd = [s for s in standings if s.invoice.customer_id == clerk.customer_id
                     and not s.is_paid and s.invoice.currency == "USD"]
    assert len(acme_open_usd) >= 8
    assert {aging_bucket(s.days_overdue).key for s in acme_open_usd} == {bucket.key for bucket in AGING_BUCKETS}

    # What was stored is exactly the plan for that seed and day.
    plan = build_demo_dataset(seed=7, today=today)
    stored = dict(db.execute(select(Invoice.number, Invoice.total_minor).where(PLANNED)).all())
    assert stored == {invoice.number: invoice.total_minor for invoice in plan.invoices}


def test_seeding_refuses_a_database_with_customers(db, clock):
    make_customer(db, clock)

    with pytest.raises(DemoDataExists):
        seed_demo_data(db, clock)
    assert db.scalar(select(func.count()).select_from(Invoice)) == 0


def test_seed_demo_command_is_idempotent(app, session_factory):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])

    assert first.exit_code == 0, first.output
    assert "added 50 customers" in first.output
    assert second.exit_code == 0, second.output
    assert "already has 50 customers" in second.output
    with session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Customer)) == 50
        assert db.scalar(select(func.count()).select_from(Invoice).where(PLANNED)) == 1000


def test_seed_demo_command_refuses_production_mode(make_app):
    app = make_app(mode="production", secret_key="p" * 40)

    result = app.test_cli_runner().invoke(args=["seed-demo"])

    assert result.exit_code != 0
    assert "not production" in result.output


def test_the_demo_has_a_routed_dispute_in_every_state(db, clock):
    from portal.domain.disputes.jobs import check_holds
    from portal.domain.disputes.models import Dispute, DisputeEvent, DisputeMessage
    from portal.domain.disputes.states import DisputeStatus
    from portal.domain.ledger.jobs import check_ledger
    from portal.domain.staff.models import StaffMember, TeamMembership
    from portal.domain.staff.policy import credit_limit

    seed_demo_data(db, clock, seed=7)
    db.commit()
    disputes = db.scalars(select(Dispute).order_by(Dispute.id)).all()
    assert {d.status for d in disputes} == set(DisputeStatus)
    clerk = db.scalar(select(Contact).where(Contact.email == DEMO_CLERK_EMAIL))
    assert len({d.status for d in disputes if d.customer_id == clerk.customer_id}) >= 8
    assert len({d.customer_id for d in disputes}) >= 4 and len({d.currency for d in disputes}) >= 3

    # Every one was routed by a rule: a team, an owner who is a member of it, SLA dates.
    members = set(db.execute(select(TeamMembership.team_id, TeamMembership.staff_id)).all())
    staff = {member.id: member for member in db.scalars(select(StaffMember))}
    for d in disputes:
        assert d.team_id is not None and (d.team_id, d.assignee_id) in members, d.public_id
        assert d.resolution_due_at is not None and d.first_response_due_at is not None
    open_ = [d for d in disputes if d.status == "open"]
    assert any(staff[d.assignee_id].role == "analyst" for d in open_)
    assert {d.priority for d in disputes if d.customer_id == clerk.customer_id} == {"urgent"}  # a key account

    # The credit waiting for approval was proposed by its analyst owner, above their limit.
    [waiting] = [d for d in disputes if d.status == "awaiting_approval"]
    owner = staff[waiting.assignee_id]
    proposed = sum(c.proposed_credit_minor for c in waiting.invoices)
    assert owner.role == "analyst" and proposed > credit_limit(owner.role, waiting.currency).minor
    asked = db.scalar(select(DisputeEvent).where(DisputeEvent.dispute_id == waiting.id,
                                                 DisputeEvent.kind == "approval_requested"))
    assert asked.actor_id == owner.public_id

    # The re-billed one has its corrected invoice; each dispute has a thread.
    [rebilled] = [d for d in disputes if d.status == "rebilled"]
    corrected = db.execute(select(Invoice.customer_id, Invoice.balance_minor, Invoice.total_minor).where(
        Invoice.id == rebilled.invoices[0].rebilled_invoice_id)).one()
    assert corrected.customer_id == rebilled.customer_id and corrected.balance_minor == corrected.total_minor > 0
    threads = dict(db.execute(select(DisputeMessage.dispute_id, func.count()).group_by(DisputeMessage.dispute_id)).all())
    assert all(threads.get(d.id, 0) >= 1 for d in disputes)
    assert sum(threads.values()) >= 2 * len(disputes)
    assert check_holds(db) == [] and check_ledger(db).differences == []
    assert db.scalar(select(func.sum(Invoice.held_minor))) > 0


def test_demo_promises_are_open_kept_and_broken(db, clock):
    from devserver.demo_promises import promise_counts
    from portal.domain.promises.models import Promise, PromiseInvoice
    from portal.domain.promises.queries import promised_invoice_ids

    seed_demo_data(db, clock, seed=7)
    db.commit()
    counts = promise_counts(db)
    assert counts.get("open", 0) >= 2 and counts.get("kept", 0) >= 1 and counts.get("broken", 0) >= 1, counts
    clerk = db.scalar(select(Contact).where(Contact.email == DEMO_CLERK_EMAIL))
    acme = {p.status for p in db.scalars(select(Promise).where(Promise.customer_id == clerk.customer_id))}
    assert {"open", "kept"} <= acme
    # Kept ones are paid; open ones pause the reminders for their invoices; no email was queued.
    kept_invoices = select(PromiseInvoice.invoice_id).join(Promise).where(Promise.status == "kept")
    assert set(db.scalars(select(Invoice.balance_minor).where(Invoice.id.in_(kept_invoices)))) == {0}
    assert len(promised_invoice_ids(db, clerk.customer_id, clock.now().date())) == 2
    from portal.domain.notifications.models import OutboxMessage
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "promise_broken")) == 0


def test_demo_reminders_have_a_policy_a_paused_customer_and_reminders_sent(db, clock):
    from devserver.demo_reminders import reminders_sent_count
    from portal.domain.reminders.models import CustomerReminderSettings, ReminderHoliday, ReminderStep
    from portal.domain.notifications.models import OutboxMessage

    seed_demo_data(db, clock, seed=7)
    db.commit()
    assert db.scalar(select(func.count()).select_from(ReminderStep)) == 6
    assert db.scalar(select(func.count()).select_from(ReminderHoliday)) == 3
    assert db.scalar(select(func.count()).select_from(CustomerReminderSettings)
                     .where(CustomerReminderSettings.paused.is_(True))) == 1
    assert reminders_sent_count(db) >= 2
    # None is waiting to be sent: `send-reminders` sends what is due (the dead letter is history).
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "reminder",
                                                                          OutboxMessage.status == "pending")) == 0


def test_the_demo_has_a_dead_letter_and_a_dashboard_with_figures(db, clock):
    from devserver.demo_outbox import DEAD_ADDRESS
    from portal.domain.notifications.queries import dead_letters
    from portal.domain.reports.queries import ar_dashboard

    seed_demo_data(db, clock, seed=7)
    db.commit()
    [dead] = dead_letters(db).items
    assert (dead.kind, dead.to_address, dead.attempts) == ("reminder", DEAD_ADDRESS, 10)
    assert dead.last_error and dead.dead_at < clock.now()
    dashboard = ar_dashboard(db, clock.now(), "America/New_York")
    assert dashboard.dead_messages == 1
    assert {c.currency for c in dashboard.currencies} == {"USD", "EUR", "GBP", "JPY"}
    for figures in dashboard.currencies:
        assert figures.open_total.minor > 0 and figures.dso.days > 0 and figures.best_dso is not None
        assert figures.cei_last_month is not None
        assert all(amount.minor > 0 for _bucket, amount in figures.aging[1:])  # every overdue bucket
    usd = [c for c in dashboard.currencies if c.currency == "USD"][0]
    assert usd.has_forecast  # the demo's plans and promises
    assert dashboard.disputes_decided > 0 and dashboard.promises_kept + dashboard.promises_broken > 0
    assert dashboard.reminders_sent > 0


def test_demo_has_a_bank_payment_processing_and_one_returned(db, clock):
    from portal.domain.ledger.jobs import check_ledger
    from portal.domain.payments.models import BankDebit

    seed_demo_data(db, clock, seed=7)
    db.commit()
    clerk = db.scalar(select(Contact).where(Contact.email == DEMO_CLERK_EMAIL))
    banks = db.scalars(select(Payment).join(BankDebit, BankDebit.payment_id == Payment.id).order_by(Payment.id)).all()
    assert [p.status for p in banks] == ["processing", "succeeded"]
    assert {p.customer_id for p in banks} == {clerk.customer_id}
    processing, returned = banks
    assert db.get(BankDebit, processing.id).mandate_text and db.get(BankDebit, processing.id).unusable_at is None
    debit = db.get(BankDebit, returned.id)
    assert debit.returned_at is not None and debit.return_code == "R01" and debit.unusable_at is not None
    [allocation] = returned.allocations
    assert db.get(Invoice, allocation.invoice_id).balance_minor == allocation.amount_minor  # open again
    assert check_ledger(db).is_consistent


def test_demo_has_a_saved_bank_account_verified_and_one_pending(db, clock):
    from portal.domain.methods.models import SavedMethod

    seed_demo_data(db, clock, seed=7)
    db.commit()
    clerk = db.scalar(select(Contact).where(Contact.email == DEMO_CLERK_EMAIL))
    banks = db.scalars(select(SavedMethod).where(SavedMethod.method_type == "us_bank_account")
                       .order_by(SavedMethod.saved_at)).all()
    assert [(m.verification_status, m.is_default) for m in banks] == [
        ("verified", True), ("pending_verification", False)]
    assert {m.customer_id for m in banks} == {clerk.customer_id}
    assert all("ACH" in m.consent_text and m.stripe_mandate_id and m.mandate_accepted_at for m in banks)


def test_demo_plans_are_in_several_states(db, clock):
    from devserver.demo_plans import plan_counts
    from portal.domain.ledger.jobs import check_ledger
    from portal.domain.plans.models import Plan
    from portal.domain.plans.queries import invoices_in_active_plans

    seed_demo_data(db, clock, seed=7)
    db.commit()
    counts = plan_counts(db)
    assert {"active", "pending_approval", "countered", "paused", "declined", "cancelled", "defaulted"} <= set(counts), \
        counts
    clerk = db.scalar(select(Contact).where(Contact.email == DEMO_CLERK_EMAIL))
    [acme] = db.scalars(select(Plan).where(Plan.customer_id == clerk.customer_id)).all()
    assert acme.status == "active" and invoices_in_active_plans(db, clerk.customer_id)
    assert check_ledger(db).differences == []


def test_demo_plans_show_a_customer_on_hold_and_a_new_schedule_waiting(db, clock):
    from portal.domain.customers.models import Customer
    from portal.domain.plans.models import Plan, PlanAmendment

    seed_demo_data(db, clock, seed=7)
    db.commit()
    [held] = db.scalars(select(Customer).where(Customer.on_hold.is_(True))).all()
    assert held.hold_reason
    held_plans = db.scalars(select(Plan).where(Plan.customer_id == held.id)).all()
    assert [p.status for p in held_plans] == ["pending_approval"]
    assert "the account is on hold" in held_plans[0].policy_reasons
    [amendment] = db.scalars(select(PlanAmendment)).all()
    assert amendment.status == "proposed" and db.get(Plan, amendment.plan_id).status == "active"


def test_demo_po_and_contact_follow_ups_are_in_every_state_and_a_bounce_is_open(db, clock):
    from devserver.demo_followup_sources import followup_source_counts
    from portal.domain.customers.models import Contact
    from portal.domain.ledger.jobs import check_ledger

    seed_demo_data(db, clock, seed=7)
    counts = followup_source_counts(db)
    for kind in ("needs_po", "wrong_contact"):
        assert {status for (k, status) in counts if k == kind} == {"open", "waiting", "resolved", "dismissed"}, kind
    assert counts[("email_bounced", "open")] == 1
    reissues = db.scalars(select(InvoiceReissue)).all()
    assert sorted(r.replacement_invoice_id is None for r in reissues) == [False, True]  # replaced, in place
    assert db.scalar(select(func.count()).select_from(Contact).where(Contact.email_failing_at.is_not(None))) == 1
    assert check_ledger(db).is_consistent


def test_demo_follow_ups_are_in_every_state_and_a_team_works_the_queues(db, clock):
    from devserver.demo_followups import followup_counts
    from portal.domain.followups.models import Followup
    from portal.domain.notifications.models import OutboxMessage
    from portal.domain.staff.models import Team

    seed_demo_data(db, clock, seed=7)
    db.commit()
    assert set(followup_counts(db)) == {"open", "waiting", "resolved", "dismissed"}
    kinds = {(f.kind, f.status) for f in db.scalars(select(Followup))}
    assert {("already_paid", "open"), ("already_paid", "waiting"), ("already_paid", "resolved"),
            ("already_paid", "dismissed"), ("awaiting_approval", "open"), ("awaiting_approval", "waiting"),
            ("awaiting_approval", "resolved"), ("awaiting_approval", "dismissed"),
            ("promise_broken", "open"), ("promise_broken", "dismissed"), ("bank_debit_failed", "open"),
            ("plan_defaulted", "open")} <= kinds, kinds
    receivables = db.scalar(select(Team).where(Team.name == "Receivables"))
    assert sorted(receivables.followup_queues) == ["cash_application", "collections"]
    clerk = db.scalar(select(Contact).where(Contact.email == DEMO_CLERK_EMAIL))
    acme = db.scalar(select(Followup).where(Followup.customer_id == clerk.customer_id,
                                            Followup.kind == "already_paid"))
    assert acme.team_id == receivables.id and acme.status == "open"
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind.like("followup_%"))) == 0
    from portal.domain.ledger.jobs import check_ledger

    assert check_ledger(db).is_consistent


def test_nothing_in_the_demo_happens_to_an_invoice_before_it_was_issued(db, clock):
    """The demo's returned bank payment was once written, twelve days back, on the invoice a
    dispute's re-bill had issued two days back: its page showed a payment before "Invoice
    issued"."""
    seed_demo_data(db, clock, seed=7)
    db.commit()
    issued = {row.id: row.created_at for row in db.execute(select(Invoice.id, Invoice.created_at))}
    early_entries = [(entry.invoice_id, entry.kind) for entry in db.scalars(select(InvoiceEntry))
                     if entry.created_at < issued[entry.invoice_id]]
    early_payments = [(allocation.invoice_id, payment.reference) for payment, allocation in db.execute(
        select(Payment, PaymentAllocation).join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id))
        if payment.created_at < issued[allocation.invoice_id]]
    assert early_entries == [] and early_payments == []
