"""The reminders' exclusions as one table over real rows: what keeps an invoice out of a
reminder (`reminders.queries.excluded_invoice_ids`) and what lets it back in."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.domain.followups.notifications import FollowupMail
from portal.domain.followups.service import dismiss_followup, match_reported_payment, payment_not_found
from portal.domain.reminders.queries import excluded_invoice_ids
from tests.support.disputes import staff_context
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff
from tests.support.followups import report_test_payment
from tests.support.plans import make_test_plan
from tests.support.promises import customer_today, make_test_promise

TODAY = date(2026, 6, 15)


def _reported(db, clock, supplier, clerk, invoice):
    return report_test_payment(db, clock, clerk, [invoice])


def _then(step):
    def after(db, clock, supplier, clerk, invoice):
        followup = report_test_payment(db, clock, clerk, [invoice], amount_text="50.00")
        member = make_staff(db, clock, role="collector")
        step(staff_context(db, clock, member), followup, member.id, FollowupMail(supplier))
    return after


CASES = {
    "nothing": (lambda *args: None, False),
    "an open promise": (lambda db, clock, supplier, clerk, invoice: make_test_promise(db, clock, clerk, [invoice]),
                        True),
    "a running plan": (lambda db, clock, supplier, clerk, invoice: make_test_plan(db, clock, clerk, [invoice]), True),
    "a payment reported": (_reported, True),
    "a payment reported, not found yet": (_then(lambda ctx, f, staff, mail: payment_not_found(
        ctx, f, staff, "Send the remittance.", mail)), True),
    "a payment reported, matched in part": (_then(lambda ctx, f, staff, mail: match_reported_payment(
        ctx, f, staff, amount_text="50.00", bank_reference="", mail=mail)), False),
    "a payment reported, dismissed": (_then(lambda ctx, f, staff, mail: dismiss_followup(
        ctx, f, staff, "Not ours.", mail)), False),
}


@pytest.mark.parametrize("case", CASES)
def test_what_keeps_an_invoice_out_of_reminders(db, clock, supplier, case):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    invoice = make_invoice(db, clock, customer, total_minor=10_000, due_date=TODAY - timedelta(days=8),
                           issue_date=TODAY - timedelta(days=38))
    make_it, excluded = CASES[case]
    make_it(db, clock, supplier, clerk, invoice)
    assert (invoice.id in excluded_invoice_ids(db, customer.id, customer_today(db, clock, clerk))) is excluded
