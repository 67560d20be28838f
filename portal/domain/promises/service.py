"""One function per thing a customer or a job does with a promise to pay.

Customer side (the session's `Access` decides what they may touch: a forwarded invoice link's
holder promises, sees, moves and cancels promises on its invoices only): `make_promise`,
`move_promise`, `cancel_promise`. The job (`jobs.check_promises`) calls `settle_promise`.

A promise names invoices that can be paid now (`ledger.queries.Standing.payable` above zero)
and are not under another open promise; what it is about on each is that payable amount. It
holds nothing: a promised invoice stays payable by any method, and paying it is how the promise
is kept. Making a promise takes the customer's lock (`payments.service.lock_customer`), the
same one raising a dispute and starting a payment take, so two tabs cannot promise the same
invoice twice. Every step writes an audit row and moves the status only through
`PROMISE_TRANSITIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from portal.domain.core.locales import N_
from portal.domain.access.policy import Access
from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.ledger.queries import named_invoice_figures
from portal.domain.payments.service import lock_customer
from portal.domain.promises.models import Promise, PromiseInvoice
from portal.domain.promises.policy import (
    MAX_INVOICES_PER_PROMISE, PromisePolicy, PromiseRefused, check_date, check_method, check_move, clean_note,
)
from portal.domain.promises.queries import find_promise, open_promise_numbers
from portal.domain.promises.states import PROMISE_TRANSITIONS, PromiseStatus

REQUEST_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
S = PromiseStatus


def _why_not_payable(row) -> str:
    if row.balance_minor <= 0:
        return f"Invoice {row.number} is already paid."
    if row.held_minor > 0 and row.balance_minor - row.held_minor <= 0:
        return f"Invoice {row.number} is disputed: it can be promised once the dispute ends."
    return f"A payment of invoice {row.number} is processing: nothing is left to promise on it."


def make_promise(
    ctx: Context, access: Access, policy: PromisePolicy, *, invoice_public_ids: Sequence[str], promised_date: date,
    method: str, note: str, request_key: str, today: date,
) -> Promise:
    """Promise to pay the named invoices (one currency) on `promised_date` (from tomorrow up to
    the policy's limit, `today` being the customer's date) by `method`, with an optional note.

    The same `request_key` (the form's token) twice returns the promise the first made.
    """
    db, now = ctx.db, ctx.clock.now()
    if not REQUEST_KEY_PATTERN.match(request_key or ""):
        raise PromiseRefused(N_("This form has expired. Reload the page and try again."))
    public_ids = list(invoice_public_ids)
    if not public_ids:
        raise PromiseRefused(N_("Choose at least one invoice to promise."))
    if len(public_ids) > MAX_INVOICES_PER_PROMISE:
        raise PromiseRefused(N_("A promise covers at most %(limit)s invoices."), limit=MAX_INVOICES_PER_PROMISE)
    if len(set(public_ids)) != len(public_ids):
        raise PromiseRefused(N_("An invoice appears twice in this promise."))
    chosen_method = check_method(method)
    note = clean_note(note)
    check_date(policy, promised_date, today)

    lock_customer(db, access.customer_id)
    existing = db.scalar(select(Promise).where(Promise.customer_id == access.customer_id,
                                               Promise.request_key == request_key))
    if existing is not None:
        return existing
    rows = named_invoice_figures(db, access, public_ids)
    currencies = {row.currency for row in rows}
    if len(currencies) != 1:
        raise PromiseRefused(N_("Invoices in different currencies need separate promises."))
    payable = {row.id: row.balance_minor - row.in_flight_minor - max(row.held_minor, 0) for row in rows}
    for row in rows:
        if payable[row.id] <= 0:
            raise PromiseRefused(_why_not_payable(row))
    already = open_promise_numbers(db, access.customer_id, [row.id for row in rows])
    if already:
        raise PromiseRefused(N_("Invoice %(number)s is already under an open promise: move or cancel that one."), number=already[0])

    promise = Promise(
        customer_id=access.customer_id, made_by_contact_id=access.contact_id, link_id=access.link_id,
        request_key=request_key, status=S.OPEN.value, method=chosen_method.value, note=note,
        currency=currencies.pop(), total_minor=sum(payable.values()), promised_date=promised_date,
        original_date=promised_date, move_count=0, created_at=now, updated_at=now, decided_at=None,
        invoices=[PromiseInvoice(invoice_id=row.id, promised_minor=payable[row.id]) for row in rows],
    )
    db.add(promise)
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "promise.made", "promise", promise.public_id, after={
        "date": promised_date.isoformat(), "method": chosen_method.value, "currency": promise.currency,
        "invoices": {row.number: payable[row.id] for row in rows}, **({"note": note} if note else {}),
    })
    return promise


def _open_promise(ctx: Context, access: Access, public_id: str) -> Promise:
    promise = find_promise(ctx.db, access, public_id)
    lock_customer(ctx.db, access.customer_id)
    ctx.db.refresh(promise)
    if promise.status != S.OPEN:
        raise PromiseRefused(N_("This promise is no longer open."))
    return promise


def move_promise(ctx: Context, access: Access, policy: PromisePolicy, public_id: str, *, new_date: date,
                 today: date) -> Promise:
    """Move an open promise to `new_date`, at most `policy.max_moves` times."""
    promise = _open_promise(ctx, access, public_id)
    before = promise.promised_date
    check_move(policy, move_count=promise.move_count, current=before, new=new_date, today=today)
    promise.promised_date = new_date
    promise.move_count += 1
    promise.updated_at = ctx.clock.now()
    audit.record(ctx.db, ctx.clock, ctx.actor, "promise.moved", "promise", promise.public_id,
                 before={"date": before.isoformat()},
                 after={"date": new_date.isoformat(), "moves": promise.move_count})
    return promise


def cancel_promise(ctx: Context, access: Access, public_id: str) -> Promise:
    """The customer takes an open promise back (reminders are no longer paused by it)."""
    promise = _open_promise(ctx, access, public_id)
    _move(ctx, promise, S.CANCELLED)
    return promise


def settle_promise(ctx: Context, promise: Promise, outcome: PromiseStatus) -> None:
    """Record what the job decided (`policy.decide`): kept or broken."""
    _move(ctx, promise, outcome)


def _move(ctx: Context, promise: Promise, target: PromiseStatus) -> None:
    before = promise.status
    PROMISE_TRANSITIONS.check(before, target, promise.public_id)
    now = ctx.clock.now()
    promise.status = target.value
    promise.updated_at = now
    promise.decided_at = now
    audit.record(ctx.db, ctx.clock, ctx.actor, f"promise.{target.value}", "promise", promise.public_id,
                 before={"status": before}, after={"status": target.value})
