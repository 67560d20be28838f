"""`check_promises` and `flask check-promises`: a promise is kept once its invoices are paid
(before its date too), broken the day after its date plus the grace with money still owed (the
customer is emailed once, with a link to the promise), left open while what is owed is in
flight; idempotent, a bounded batch per run, one commit per command."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.domain.followups.models import Followup
from portal.domain.followups.states import FollowupKind, FollowupStatus
from portal.domain.core.models import AuditEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.promises.jobs import check_promises
from portal.domain.promises.models import Promise
from portal.domain.promises.notifications import PromiseMail
from portal.domain.promises.states import PromiseStatus
from tests.support.concurrency import run_at_once
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice,
)
from tests.support.promises import POLICY, make_test_promise


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example", name="Pat Clerk")
    make_contact(db, clock, customer, email="ap@acme.example", is_ap_mailbox=True)
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=16_500)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=8_000)
    return customer, clerk, first, second


@pytest.fixture
def run(db, clock, supplier, link_signer):
    def run(batch_size: int = 200):
        report = check_promises(db, clock, PromiseMail(supplier, link_signer), POLICY, batch_size=batch_size)
        db.flush()
        return report
    return run


def _emails(db) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "promise_broken")
                           .order_by(OutboxMessage.id)))


def _past_the_deadline(clock, promise, extra_days: int = 1) -> None:
    # The customer is in New York: their today is the UTC date of 14:30 UTC.
    days = (promise.promised_date - clock.now().date()).days + POLICY.grace_days + extra_days
    clock.advance(days=days)


def test_paid_invoices_keep_the_promise_at_once_even_before_its_date(db, clock, acme, run):
    _, clerk, first, second = acme
    promise = make_test_promise(db, clock, clerk, [first, second])
    add_invoice_entry(db, clock, first, "payment", -16_500)
    assert (run().kept, promise.status) == (0, PromiseStatus.OPEN)  # INV-200 still owed
    add_invoice_entry(db, clock, second, "payment", -8_000)
    report = run()
    assert (report.kept, report.broken, promise.status) == (1, 0, PromiseStatus.KEPT)
    assert promise.decided_at == clock.now()
    audit = db.scalar(select(AuditEntry).where(AuditEntry.object_id == promise.public_id,
                                               AuditEntry.action == "promise.kept"))
    assert (audit.actor_type, audit.actor_id) == ("system", "check-promises")
    assert _emails(db) == []


def test_a_promise_still_owed_after_its_date_and_grace_breaks_and_the_customer_is_told(db, clock, acme, run):
    _, clerk, first, second = acme
    promise = make_test_promise(db, clock, clerk, [first, second])
    add_invoice_entry(db, clock, first, "payment", -16_500)
    _past_the_deadline(clock, promise, extra_days=0)
    assert (run().still_open, promise.status) == (1, PromiseStatus.OPEN)  # the last day of grace
    clock.advance(days=1)
    report = run()
    assert (report.broken, report.emails, promise.status) == (1, 1, PromiseStatus.BROKEN)
    [email] = _emails(db)
    assert email.to_address == "clerk@acme.example" and email.cc_addresses == "ap@acme.example"
    assert "INV-100" in email.subject and "not kept" in email.subject
    assert "$80.00 is still open" in email.body_text
    link = re.search(r"https?://\S+", email.body_text).group(0)
    assert "/link/invoices/" in link


def test_the_check_is_idempotent(db, clock, acme, run):
    _, clerk, first, second = acme
    kept = make_test_promise(db, clock, clerk, [first])
    broken = make_test_promise(db, clock, clerk, [second])
    add_invoice_entry(db, clock, first, "payment", -16_500)
    _past_the_deadline(clock, broken)
    first_run = run()
    assert (first_run.kept, first_run.broken) == (1, 1)
    again = run()
    assert (again.kept, again.broken, again.emails, again.still_open) == (0, 0, 0, 0)
    assert (kept.status, broken.status) == (PromiseStatus.KEPT, PromiseStatus.BROKEN)
    assert len(_emails(db)) == 1
    # A late payment does not turn a broken promise into a kept one.
    add_invoice_entry(db, clock, second, "payment", -8_000)
    assert run().kept == 0 and broken.status == PromiseStatus.BROKEN


def test_money_in_flight_waits_until_it_settles_or_fails(db, clock, acme, run):
    customer, clerk, first, _ = acme
    promise = make_test_promise(db, clock, clerk, [first])
    ach = make_allocated_payment(db, clock, customer, [(first, 16_500)], method="us_bank_account")
    _past_the_deadline(clock, promise, extra_days=5)
    assert (run().still_open, promise.status) == (1, PromiseStatus.OPEN)
    ach.status = "failed"
    db.flush()
    assert run().broken == 1


def test_disputed_money_is_not_owed(db, clock, acme, run):
    _, clerk, first, _ = acme
    from tests.support.disputes import raise_test_dispute

    promise = make_test_promise(db, clock, clerk, [first])
    add_invoice_entry(db, clock, first, "payment", -10_000)
    raise_test_dispute(db, clock, clerk, [first])  # the remaining 65.00
    assert run().kept == 1 and promise.status == PromiseStatus.KEPT


def test_a_batch_is_bounded_and_the_rest_wait_for_the_next_run(db, clock, acme, run):
    customer, clerk, *_ = acme
    promises = [make_test_promise(db, clock, clerk, [make_invoice(db, clock, customer)]) for _ in range(3)]
    _past_the_deadline(clock, promises[0])
    first = run(batch_size=2)
    assert (first.broken, first.batch_full) == (2, True)
    assert first.summary().endswith("; batch full, the rest next run")
    second = run(batch_size=2)
    assert (second.broken, second.batch_full) == (1, False)
    assert {p.status for p in promises} == {PromiseStatus.BROKEN}
    assert len(_emails(db)) == 3


def test_the_command_commits_once_and_reports(make_app, db, clock, acme):
    _, clerk, first, second = acme
    broken = make_test_promise(db, clock, clerk, [second])
    make_test_promise(db, clock, clerk, [first], days=20)
    _past_the_deadline(clock, broken)
    db.commit()
    runner = make_app().test_cli_runner()
    result = runner.invoke(args=["check-promises"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "promises: 0 kept, 1 broken (1 email), 1 still open"
    db.rollback()
    assert db.scalar(select(Promise.status).where(Promise.id == broken.id)) == "broken"
    again = runner.invoke(args=["check-promises", "--batch-size", "5"])
    assert again.output.strip() == "promises: 0 kept, 0 broken (0 emails), 1 still open"


@pytest.mark.postgres_only
def test_two_runs_at_once_decide_each_promise_once(session_factory, db, clock, acme, supplier, link_signer):
    customer, clerk, *_ = acme
    promises = [make_test_promise(db, clock, clerk, [make_invoice(db, clock, customer)]) for _ in range(12)]
    _past_the_deadline(clock, promises[0])
    db.commit()
    def run() -> None:
        with session_factory() as session:
            check_promises(session, clock, PromiseMail(supplier, link_signer), POLICY, batch_size=5)
            session.commit()

    run_at_once(run)
    db.rollback()
    decided = db.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "promise.broken")).all()
    assert len(decided) == len(set(decided)) and 5 <= len(decided) <= 10  # each run decided at most 5
    assert len(_emails(db)) == len(decided)


def test_a_broken_promise_raises_one_collections_follow_up_for_the_collector(db, clock, acme, run):
    customer, clerk, first, second = acme
    promise = make_test_promise(db, clock, clerk, [first, second])
    _past_the_deadline(clock, promise)
    run()
    run()  # a second run decides nothing more
    [followup] = db.scalars(select(Followup)).all()
    assert (followup.kind, followup.queue, followup.status, followup.customer_id) == (
        FollowupKind.PROMISE_BROKEN, "collections", FollowupStatus.OPEN, customer.id)
    assert followup.dedupe_key == f"promise_broken:{promise.public_id}"
    assert sorted(link.invoice_id for link in followup.invoices) == sorted([first.id, second.id])
    assert followup.details["promise"] == promise.public_id
