"""Making, moving and cancelling promises through the service: what a good promise records,
every refusal changing nothing (bad dates, another company's invoice, disputed, paid or
in-flight invoices, control characters, an invoice already promised), one promise per form
token, a forwarded link's scope, and the reminders' pause (`promised_invoice_ids`)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.domain.core.errors import NotFound
from portal.domain.core.models import AuditEntry
from portal.domain.promises.models import Promise, PromiseInvoice
from portal.domain.promises.policy import PromisePolicy, PromiseRefused
from portal.domain.promises.queries import promised_dates, promised_invoice_ids
from portal.domain.promises.service import cancel_promise, make_promise, move_promise
from portal.domain.promises.states import PromiseStatus
from tests.support.disputes import contact_access, contact_context, raise_test_dispute
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice, make_invoice_link,
)
from tests.support.promises import POLICY, customer_today, make_test_promise


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=16_500)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=8_000)
    return customer, clerk, first, second


def _counts(db) -> tuple[int, int, int]:
    db.flush()
    return (db.scalar(select(func.count()).select_from(Promise)),
            db.scalar(select(func.count()).select_from(PromiseInvoice)),
            db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.object_type == "promise")))


def _make(db, clock, clerk, invoices, *, days=7, access=None, key=None, **fields):
    today = customer_today(db, clock, clerk)
    return make_promise(
        contact_context(db, clock, clerk), access or contact_access(clerk), POLICY,
        invoice_public_ids=[i.public_id for i in invoices], promised_date=today + timedelta(days=days),
        method=fields.get("method", "wire"), note=fields.get("note", ""),
        request_key=key or secrets.token_urlsafe(24), today=today,
    )


def test_a_promise_records_the_invoices_what_was_payable_the_date_and_an_audit_row(db, clock, acme):
    _, clerk, first, second = acme
    add_invoice_entry(db, clock, first, "payment", -6_500)  # 100.00 left on INV-100
    promise = _make(db, clock, clerk, [first, second], method="check", note="Check 1042 mailed Friday")

    assert promise.status == PromiseStatus.OPEN
    assert promise.promised_date == customer_today(db, clock, clerk) + timedelta(days=7)
    assert promise.original_date == promise.promised_date and promise.move_count == 0
    assert (promise.method, promise.note, promise.currency, promise.total_minor) == \
        ("check", "Check 1042 mailed Friday", "USD", 18_000)
    assert {row.invoice_id: row.promised_minor for row in promise.invoices} == {first.id: 10_000, second.id: 8_000}
    audit = db.scalar(select(AuditEntry).where(AuditEntry.object_id == promise.public_id))
    assert audit.action == "promise.made" and audit.actor_type == "contact"
    assert audit.after["invoices"] == {"INV-100": 10_000, "INV-200": 8_000}
    assert promised_dates(db, clerk.customer_id, [first.id, second.id]) == \
        {first.id: promise.promised_date, second.id: promise.promised_date}


def test_the_same_form_token_twice_makes_one_promise(db, clock, acme):
    _, clerk, first, _ = acme
    key = secrets.token_urlsafe(24)
    one = _make(db, clock, clerk, [first], key=key)
    two = _make(db, clock, clerk, [first], key=key, days=9)
    assert one.id == two.id
    assert _counts(db) == (1, 1, 1)


@pytest.mark.parametrize(("days", "message"), [(0, "from tomorrow"), (-3, "from tomorrow"), (31, "within 30 days")])
def test_a_wrong_date_changes_nothing(db, clock, acme, days, message):
    _, clerk, first, _ = acme
    with pytest.raises(PromiseRefused, match=message):
        _make(db, clock, clerk, [first], days=days)
    assert _counts(db) == (0, 0, 0)


def test_another_company_s_invoice_is_not_found_and_changes_nothing(db, clock, acme):
    _, clerk, first, _ = acme
    other = make_customer(db, clock, name="Bravo Corp")
    theirs = make_invoice(db, clock, other, number="BRAVO-1")
    with pytest.raises(NotFound):
        _make(db, clock, clerk, [first, theirs])
    assert _counts(db) == (0, 0, 0)


@pytest.mark.parametrize("shape", ["disputed", "paid", "in_flight"])
def test_invoices_that_cannot_be_paid_now_are_refused(db, clock, acme, shape):
    _, clerk, first, second = acme
    if shape == "disputed":
        raise_test_dispute(db, clock, clerk, [second])
        message = "INV-200 is disputed"
    elif shape == "paid":
        add_invoice_entry(db, clock, second, "payment", -8_000)
        message = "INV-200 is already paid"
    else:
        make_allocated_payment(db, clock, acme[0], [(second, 8_000)], method="us_bank_account")
        message = "payment of invoice INV-200 is processing"
    before = _counts(db)
    with pytest.raises(PromiseRefused, match=message):
        _make(db, clock, clerk, [first, second])
    assert _counts(db) == before


def test_a_partly_disputed_invoice_is_promised_for_its_undisputed_part(db, clock, acme):
    _, clerk, first, _ = acme
    raise_test_dispute(db, clock, clerk, [first], amount_text="65.00")
    promise = _make(db, clock, clerk, [first])
    assert promise.total_minor == 10_000


@pytest.mark.parametrize("note", ["two\nlines", "nul\x00byte", "cr\rhere"])
def test_control_characters_in_the_note_are_refused(db, clock, acme, note):
    _, clerk, first, _ = acme
    with pytest.raises(PromiseRefused, match="one line"):
        _make(db, clock, clerk, [first], note=note)
    assert _counts(db) == (0, 0, 0)


@pytest.mark.parametrize(("fields", "message"), [
    ({"method": "cash"}, "from the list"), ({"key": "short"}, "expired"), ({"key": "bad key with spaces!!"}, "expired"),
])
def test_a_bad_method_or_form_token_is_refused(db, clock, acme, fields, message):
    _, clerk, first, _ = acme
    with pytest.raises(PromiseRefused, match=message):
        _make(db, clock, clerk, [first], **fields)
    assert _counts(db) == (0, 0, 0)


def test_an_invoice_under_an_open_promise_cannot_be_promised_again_until_it_ends(db, clock, acme):
    _, clerk, first, second = acme
    promise = _make(db, clock, clerk, [first])
    with pytest.raises(PromiseRefused, match="INV-100 is already under an open promise"):
        _make(db, clock, clerk, [second, first])
    assert _counts(db) == (1, 1, 1)
    cancel_promise(contact_context(db, clock, clerk), contact_access(clerk), promise.public_id)
    assert _make(db, clock, clerk, [second, first]).total_minor == 24_500


def test_mixed_currencies_and_duplicates_are_refused(db, clock, acme):
    customer, clerk, first, _ = acme
    euros = make_invoice(db, clock, customer, number="INV-EUR", currency="EUR")
    with pytest.raises(PromiseRefused, match="different currencies"):
        _make(db, clock, clerk, [first, euros])
    with pytest.raises(PromiseRefused, match="twice"):
        _make(db, clock, clerk, [first, first])
    assert _counts(db) == (0, 0, 0)


def test_a_forwarded_link_promises_and_sees_its_own_invoices_only(db, clock, acme):
    _, clerk, first, second = acme
    link = make_invoice_link(db, clock, clerk, [first])
    scoped = contact_access(clerk, [first], link.id)
    with pytest.raises(NotFound):
        _make(db, clock, clerk, [first, second], access=scoped)
    promise = _make(db, clock, clerk, [first], access=scoped)
    assert promise.link_id == link.id
    # A promise over an invoice outside the link is not the link holder's to see or change.
    other = _make(db, clock, clerk, [second])
    with pytest.raises(NotFound):
        cancel_promise(contact_context(db, clock, clerk), scoped, other.public_id)
    assert other.status == PromiseStatus.OPEN


def test_the_date_moves_as_often_as_the_policy_allows(db, clock, acme):
    _, clerk, first, _ = acme
    promise = _make(db, clock, clerk, [first])
    ctx, access, today = contact_context(db, clock, clerk), contact_access(clerk), customer_today(db, clock, clerk)
    original = promise.promised_date
    move_promise(ctx, access, POLICY, promise.public_id, new_date=today + timedelta(days=10), today=today)
    move_promise(ctx, access, POLICY, promise.public_id, new_date=today + timedelta(days=12), today=today)
    with pytest.raises(PromiseRefused, match="cannot be moved again"):
        move_promise(ctx, access, POLICY, promise.public_id, new_date=today + timedelta(days=14), today=today)
    assert (promise.promised_date, promise.original_date, promise.move_count) == \
        (today + timedelta(days=12), original, 2)
    actions = list(db.scalars(select(AuditEntry.action).where(AuditEntry.object_id == promise.public_id)
                              .order_by(AuditEntry.id)))
    assert actions == ["promise.made", "promise.moved", "promise.moved"]


def test_a_move_out_of_range_changes_nothing(db, clock, acme):
    _, clerk, first, _ = acme
    promise = _make(db, clock, clerk, [first])
    today = customer_today(db, clock, clerk)
    with pytest.raises(PromiseRefused, match="within 30 days"):
        move_promise(contact_context(db, clock, clerk), contact_access(clerk), POLICY, promise.public_id,
                     new_date=today + timedelta(days=45), today=today)
    assert promise.move_count == 0


def test_a_cancelled_promise_can_neither_move_nor_be_cancelled_again(db, clock, acme):
    _, clerk, first, _ = acme
    promise = _make(db, clock, clerk, [first])
    ctx, access, today = contact_context(db, clock, clerk), contact_access(clerk), customer_today(db, clock, clerk)
    cancel_promise(ctx, access, promise.public_id)
    assert promise.status == PromiseStatus.CANCELLED and promise.decided_at is not None
    for attempt in (lambda: cancel_promise(ctx, access, promise.public_id),
                    lambda: move_promise(ctx, access, POLICY, promise.public_id, new_date=today + timedelta(days=3),
                                         today=today)):
        with pytest.raises(PromiseRefused, match="no longer open"):
            attempt()


def test_promised_invoice_ids_pause_until_the_date_plus_the_grace(db, clock, acme):
    customer, clerk, first, second = acme
    promise = make_test_promise(db, clock, clerk, [first], days=5)
    today = customer_today(db, clock, clerk)
    assert promised_invoice_ids(db, customer.id, today) == {first.id}
    deadline = promise.promised_date + timedelta(days=POLICY.grace_days)
    assert promised_invoice_ids(db, customer.id, deadline) == {first.id}
    assert promised_invoice_ids(db, customer.id, deadline + timedelta(days=1)) == set()
    assert promised_invoice_ids(db, customer.id, deadline + timedelta(days=1), grace_days=4) == {first.id}
    # Another company's promises pause nothing here; a cancelled promise pauses nothing.
    other = make_customer(db, clock)
    assert promised_invoice_ids(db, other.id, today) == set()
    cancel_promise(contact_context(db, clock, clerk), contact_access(clerk), promise.public_id)
    assert promised_invoice_ids(db, customer.id, today) == set()
    assert second.id not in promised_invoice_ids(db, customer.id, today)


def test_a_stricter_policy_is_applied(db, clock, acme):
    _, clerk, first, _ = acme
    with pytest.raises(PromiseRefused, match="within 7 days"):
        make_test_promise(db, clock, clerk, [first], days=8, policy=PromisePolicy(max_days=7))
