"""`send_reminders` and `flask send-reminders`: one email per customer per step, to the AP
contacts with the shared mailbox on CC, listing every invoice that reached the step; each
exclusion applied on real rows; business hours; idempotent; a broken promise resumes at the
latest step; two runs at once send each step once (PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.domain.core.money import Money
from portal.domain.customers.models import Contact
from portal.domain.notifications.models import OutboxMessage
from portal.domain.reminders.jobs import send_reminders
from portal.domain.reminders.models import ReminderHoliday, ReminderSent
from portal.domain.reminders.notifications import ReminderMail
from portal.domain.reminders.service import set_customer_reminders
from tests.support.plans import make_test_plan
from tests.support.concurrency import run_at_once
from tests.support.disputes import raise_test_dispute, staff_context
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice,
)
from tests.support.promises import make_test_promise

TODAY = date(2026, 6, 15)  # the clock's Monday, 10:30 in New York


def _invoice(db, clock, customer, number: str, days_late: int, total_minor: int = 10_000):
    due = TODAY - timedelta(days=days_late)
    return make_invoice(db, clock, customer, number=number, total_minor=total_minor, due_date=due,
                        issue_date=due - timedelta(days=30))


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example", name="Pat Clerk")
    make_contact(db, clock, customer, email="second@acme.example", name="Sam Second")
    make_contact(db, clock, customer, email="ap@acme.example", is_ap_mailbox=True)
    return customer, clerk


@pytest.fixture
def run(db, clock, supplier, link_signer):
    def run(**kwargs):
        report = send_reminders(db, clock, ReminderMail(supplier, link_signer), **kwargs)
        db.flush()
        return report
    return run


def _emails(db) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder").order_by(OutboxMessage.id)))


def test_one_email_per_customer_per_step_listing_every_invoice_at_that_step(db, clock, acme, run):
    customer, _ = acme
    _invoice(db, clock, customer, "INV-7A", 8, 12_500)
    _invoice(db, clock, customer, "INV-7B", 7, 2_550)
    _invoice(db, clock, customer, "INV-SOON", -2, 4_000)
    report = run()
    assert (report.emails, report.invoices) == (2, 3)
    soon, overdue = sorted(_emails(db), key=lambda email: "INV-7A" in email.body_text)
    assert overdue.to_address == "clerk@acme.example"
    assert overdue.cc_addresses == "second@acme.example, ap@acme.example"
    assert overdue.subject == "Overdue invoices: please pay $150.50"
    assert "- INV-7A, due 07 Jun 2026: $125.00" in overdue.body_text
    assert "- INV-7B, due 08 Jun 2026: $25.50" in overdue.body_text
    assert "INV-SOON" not in overdue.body_text
    assert "INV-SOON" in soon.body_text and soon.subject == "Invoices due soon"
    # ONE link for them all (in the text and again under it), and in the HTML's button; the
    # "There's a problem" links beside it land elsewhere (see the test of those below).
    [link] = {url for url in re.findall(r"https?://\S+", overdue.body_text) if "reminders%2Fact" in url}
    assert f'href="{link}"' in overdue.body_html.replace("&amp;", "&") and "Pay $150.50, dispute" in overdue.body_html


def test_disputed_promised_in_flight_paid_planned_and_small_invoices_are_left_out(db, clock, acme, run):
    customer, clerk = acme
    chased = _invoice(db, clock, customer, "INV-CHASED", 8)
    partly = _invoice(db, clock, customer, "INV-PARTLY", 8, 10_000)
    disputed = _invoice(db, clock, customer, "INV-DISPUTED", 8)
    promised = _invoice(db, clock, customer, "INV-PROMISED", 8)
    in_flight = _invoice(db, clock, customer, "INV-FLIGHT", 8)
    paid = _invoice(db, clock, customer, "INV-PAID", 8)
    planned = _invoice(db, clock, customer, "INV-PLANNED", 8)
    small = _invoice(db, clock, customer, "INV-SMALL", 8, 900)
    raise_test_dispute(db, clock, clerk, [disputed])
    raise_test_dispute(db, clock, clerk, [partly], amount_text="30.00")
    make_test_promise(db, clock, clerk, [promised])
    make_allocated_payment(db, clock, customer, [(in_flight, 10_000)], status="processing", method="ach")
    add_invoice_entry(db, clock, paid, "payment", -10_000)
    set_customer_reminders(staff_context(db, clock), customer, paused=False,
                           minimum=Money(1_000, "USD"))
    db.flush()
    make_test_plan(db, clock, clerk, [planned], days=30)  # paid by installments: no reminder chases it
    report = run()
    [email] = _emails(db)
    assert report.invoices == 2
    assert "INV-CHASED" in email.body_text and "- INV-PARTLY, due 07 Jun 2026: $70.00" in email.body_text
    for left_out in (disputed, promised, in_flight, paid, planned, small):
        assert left_out.number not in email.body_text
    assert db.scalar(select(func.count()).select_from(ReminderSent)) == 2
    assert chased.id in set(db.scalars(select(ReminderSent.invoice_id)))


def test_running_twice_sends_nothing_new(db, clock, acme, run):
    customer, _ = acme
    _invoice(db, clock, customer, "INV-1", 8)
    assert run().emails == 1
    again = run()
    assert (again.emails, again.invoices) == (0, 0)
    assert len(_emails(db)) == 1
    clock.advance(days=8)  # 16 days late: step 15, once
    assert run().emails == 1 and run().emails == 0
    assert "Second notice" in _emails(db)[-1].subject


def test_nothing_is_sent_outside_business_hours_and_a_later_run_sends(db, clock, acme, run):
    customer, _ = acme
    _invoice(db, clock, customer, "INV-1", 8)
    clock.set(datetime(2026, 6, 15, 12, 30, tzinfo=UTC))  # Monday 08:30 in New York
    report = run()
    assert (report.emails, report.outside_hours) == (0, 1) and _emails(db) == []
    clock.set(datetime(2026, 6, 15, 21, 0, tzinfo=UTC))  # Monday 17:00 in New York
    assert run().emails == 0
    clock.set(datetime(2026, 6, 20, 16, 0, tzinfo=UTC))  # Saturday noon
    assert run().emails == 0
    db.add(ReminderHoliday(day=date(2026, 6, 22)))
    db.flush()
    clock.set(datetime(2026, 6, 22, 16, 0, tzinfo=UTC))  # Monday noon, a holiday of the supplier
    assert run().emails == 0
    clock.set(datetime(2026, 6, 23, 13, 0, tzinfo=UTC))  # Tuesday 09:00
    assert run().emails == 1


def test_a_paused_customer_gets_nothing_until_resumed(db, clock, acme, run):
    customer, _ = acme
    _invoice(db, clock, customer, "INV-1", 8)
    set_customer_reminders(staff_context(db, clock), customer, paused=True, minimum=None)
    report = run()
    assert (report.emails, report.paused) == (0, 1)
    set_customer_reminders(staff_context(db, clock), customer, paused=False, minimum=None)
    assert run().emails == 1


def test_a_broken_promise_resumes_at_the_latest_step_without_a_burst(db, clock, acme, run):
    customer, clerk = acme
    invoice = _invoice(db, clock, customer, "INV-1", 2)  # step 1 reached
    assert run().emails == 1
    make_test_promise(db, clock, clerk, [invoice], days=10)
    clock.advance(days=7)  # Monday, 9 days late: step 7, but promised (date + grace not passed)
    assert run().emails == 0
    clock.advance(days=14)  # 23 days late, the promise broken: step 7 was missed, 15 reached
    report = run()
    assert (report.emails, report.invoices) == (1, 1)
    assert db.scalars(select(ReminderSent.offset_days).order_by(ReminderSent.id)).all() == [1, 15]


def test_customer_data_is_escaped_and_kept_to_one_line_in_the_email(db, clock, run):
    customer = make_customer(db, clock, name='<script>alert(1)</script> & Co\r\nBcc: evil@example.com')
    make_contact(db, clock, customer, email="clerk@evil-name.example")
    _invoice(db, clock, customer, "INV-<b>", 8)
    run()
    [email] = _emails(db)
    assert "<script>" not in email.body_html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in email.body_html
    assert "INV-&lt;b&gt;" in email.body_html
    assert "\nBcc:" not in email.body_text and "\r" not in email.subject + email.body_text
    assert "Hello <script>alert(1)</script> & Co Bcc: evil@example.com," in email.body_text


def test_a_customer_without_contacts_is_skipped_and_nothing_is_recorded(db, clock, run):
    customer = make_customer(db, clock, name="Nobody Inc")
    _invoice(db, clock, customer, "INV-1", 8)
    assert run().emails == 0
    assert db.scalar(select(func.count()).select_from(ReminderSent)) == 0


def test_the_batch_is_bounded(db, clock, run):
    for n in range(3):
        customer = make_customer(db, clock, name=f"Customer {n}")
        make_contact(db, clock, customer)
        _invoice(db, clock, customer, f"INV-{n}", 8)
    first = run(batch_size=2)
    assert (first.emails, first.batch_full) == (2, True)
    second = run(batch_size=2)
    assert (second.emails, second.batch_full) == (1, False)


def test_the_command_commits_once_and_reports(make_app, db, clock, acme):
    customer, _ = acme
    _invoice(db, clock, customer, "INV-1", 8)
    db.commit()
    runner = make_app().test_cli_runner()
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "reminders: 1 email for 1 invoice; 0 customer(s) outside business hours, 0 paused"
    db.rollback()
    assert len(_emails(db)) == 1
    assert runner.invoke(args=["send-reminders"]).output.startswith("reminders: 0 emails")


@pytest.mark.postgres_only
def test_two_runs_at_once_send_each_email_once(session_factory, db, clock, supplier, link_signer):
    for n in range(6):
        customer = make_customer(db, clock, name=f"Customer {n}")
        make_contact(db, clock, customer)
        _invoice(db, clock, customer, f"INV-{n}A", 8)
        _invoice(db, clock, customer, f"INV-{n}B", 9)
        _invoice(db, clock, customer, f"INV-{n}C", -1)
    db.commit()

    def run() -> None:
        with session_factory() as session:
            send_reminders(session, clock, ReminderMail(supplier, link_signer))
            session.commit()

    run_at_once(run, times=3)
    db.rollback()
    emails = _emails(db)
    assert len(emails) == 12  # 6 customers x 2 steps
    assert len({email.dedupe_key for email in emails}) == 12
    sent = db.execute(select(ReminderSent.invoice_id, ReminderSent.offset_days)).all()
    assert len(sent) == len(set(sent)) == 18
    for email in emails:
        listed = email.body_text.count("\n- INV-")
        assert listed in (1, 2)
    assert sum(email.body_text.count("\n- INV-") for email in emails) == 18


def test_invoices_another_run_claimed_between_read_and_claim_are_left_to_it(db, clock, acme, run, monkeypatch):
    """As when a second run commits its claim after this run read what was sent: the claim's
    unique row refuses those invoices, and this run's email lists the others, under its own key."""
    customer, _ = acme
    taken = _invoice(db, clock, customer, "INV-TAKEN", 8)
    _invoice(db, clock, customer, "INV-LEFT", 8)
    db.add(ReminderSent(invoice_id=taken.id, customer_id=customer.id, offset_days=7, tone="firm",
                        sent_at=clock.now(), dedupe_key="reminder:other-run"))
    db.flush()
    monkeypatch.setattr("portal.domain.reminders.jobs.already_sent", lambda _db, _ids: set())
    report = run()
    assert (report.emails, report.invoices) == (1, 1)
    [email] = _emails(db)
    assert "INV-LEFT" in email.body_text and "INV-TAKEN" not in email.body_text
    keys = dict(db.execute(select(ReminderSent.invoice_id, ReminderSent.dedupe_key)).all())
    assert keys[taken.id] == "reminder:other-run"
    assert set(keys.values()) == {"reminder:other-run", email.dedupe_key}


def test_contacts_who_left_and_addresses_that_bounce_get_no_reminder(db, clock, acme, run):
    customer, clerk = acme
    _invoice(db, clock, customer, "INV-LEFT", 8)
    second = db.scalar(select(Contact).where(Contact.email == "second@acme.example"))
    clerk.left_at = clock.now()
    second.email_failing_at = clock.now()
    db.flush()
    run()
    [email] = _emails(db)
    assert (email.to_address, email.cc_addresses) == ("ap@acme.example", "")


def test_a_company_whose_every_contact_left_gets_nothing(db, clock, run):
    customer = make_customer(db, clock, name="Gone Corp")
    only = make_contact(db, clock, customer, email="only@gone.example")
    _invoice(db, clock, customer, "INV-GONE", 8)
    only.left_at = clock.now()
    db.flush()
    assert run().emails == 0 and _emails(db) == []
    assert db.scalar(select(func.count()).select_from(ReminderSent)) == 0


def test_each_reason_has_its_own_link_to_its_form_with_the_reminders_invoices(db, clock, acme, run, client):
    """One link per reason ("There's a problem"), the same invoice-scoped token landing on
    that reason's form with the reminder's invoices chosen: safe to forward like the main one."""
    customer, _ = acme
    first = _invoice(db, clock, customer, "INV-7A", 8)
    second = _invoice(db, clock, customer, "INV-7B", 7)
    run()
    [email] = _emails(db)
    assert "Tell us about INV-7A, INV-7B in one click" in email.body_text
    links = dict(re.findall(r"^- (.+?): (https?://\S+)$", email.body_text, re.M))
    query = f"invoice%3D{first.public_id}%26invoice%3D{second.public_id}"
    assert set(links) == {"We already paid it", "We need a PO number, or the PO is wrong",
                          "It's waiting for approval on our side", "I'm not the right person",
                          "Something is wrong with the invoice", "We can't pay it all now"}
    for label, path in [("We already paid it", "problems/new/already-paid"), ("We need a PO number, or the PO is wrong",
                        "problems/new/po"), ("It's waiting for approval on our side", "problems/new/approval"),
                        ("I'm not the right person", "problems/new/contact"),
                        ("Something is wrong with the invoice", "disputes/new"), ("We can't pay it all now", "plans/new")]:
        assert links[label].endswith(f"?next=%2F{path.replace('/', '%2F')}%3F{query}"), links[label]
    tokens = {link.split("/link/")[1].split("?")[0] for link in links.values()}
    assert len(tokens) == 1 and tokens.pop() in email.body_text.split("promise a date: ")[1].split("\n")[0]
    for label in links:
        assert links[label] in email.body_html.replace("&amp;", "&")
