"""Benchmark data, written in bulk through SQLAlchemy core inserts.

Core `insert()` executemany keeps the models' Python-side defaults (public ids) and lets any
database trigger on the tables run, while avoiding one ORM object per row: 50,000 invoices
with their lines, ledger entries and payments take seconds, not minutes. Only columns that
exist in the first schema are written; maintained figures, if a later migration adds them,
are left to their defaults or to the database's triggers.

The mix, per account (deterministic, from a seeded random generator):
- issue dates spread evenly over the two years before today, due 30 days later;
- invoices issued more than 120 days ago: 96 % paid by card, 2 % credited in full, 2 % still
  open (long overdue);
- invoices of the last 120 days: 45 % paid by card, 5 % partly paid (with a short-pay
  reason), 5 % partly credited, 5 % with an ACH debit in flight, 40 % open;
- card payments group 1 to 5 consecutive paid invoices of one currency; one payment in 20 has
  an earlier declined attempt for the same invoices;
- two lines per invoice; 10 % of invoices in EUR, the rest in USD.

The staff side (`seed_staff`, `add_open_disputes`): two analysts in one team, made through the
staff service, and active disputes over the other customers' open invoices (a share of each
open balance, so an invoice may be in several disputes and its hold stays within what is
open): half open, 30 % under review, 20 % awaiting the customer; 80 % owned by the measured
analyst, 15 % by the other, 5 % unassigned; raised over the last 30 days with SLA dates, one
"raised" event each. The first dispute covers two invoices and has a thread (six messages,
one an internal note, and eight events): the dispute page measured.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from portal.domain.core.audit import Actor
from portal.domain.core.clock import FixedClock
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.models import Dispute, DisputeEvent, DisputeInvoice, DisputeMessage, DisputeReason
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.payments.models import Payment, PaymentAllocation
from portal.domain.payments.service import take_payment_references
from portal.domain.staff.credentials import PasswordHasher
from portal.domain.staff.service import TeamDetails, create_staff, create_team

HISTORY_DAYS = 730
RECENT_DAYS = 120
CHUNK = 1_000


@dataclass(frozen=True)
class SeededAccount:
    label: str
    invoice_count: int
    customer_id: int
    contact_id: int
    contact_public_id: str
    detail_invoice_public_id: str  # partly paid: lines, a payment and history rows
    pay_invoice_public_ids: tuple[str, ...]  # three open USD invoices, for /pay
    payment_public_id: str  # a settled card payment of several invoices
    open_usd_invoice_ids: tuple[int, ...]  # where settlement benchmark payments are allocated
    payment_count: int


def _with_references(conn: Connection, rows: list[dict]) -> list[dict]:
    """Give payment rows their references, in the order they were started, per year."""
    by_year: dict[int, list[dict]] = {}
    for row in sorted(rows, key=lambda row: row["created_at"]):
        by_year.setdefault(row["created_at"].year, []).append(row)
    for year, started in by_year.items():
        for row, reference in zip(started, take_payment_references(conn, year, len(started)), strict=True):
            row["reference"] = reference
    return rows


def _insert(conn: Connection, table, rows: list[dict], returning=None) -> list:
    """Bulk insert in chunks, each committed: the triggers update an account's totals row once
    per invoice, and PostgreSQL slows down sharply when one transaction updates a row tens of
    thousands of times. With `returning`, the returned column in the rows' order."""
    out: list = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if returning is None:
            conn.execute(insert(table), chunk)
        else:
            result = conn.execute(insert(table).returning(returning, sort_by_parameter_order=True), chunk)
            out.extend(result.scalars().all())
        conn.commit()
    return out


def seed_account(conn: Connection, invoice_count: int, label: str, now: datetime, seed: int = 1) -> SeededAccount:
    """One customer with `invoice_count` invoices in the mix described above."""
    rng = random.Random(f"{label}:{seed}")
    today = now.date()
    customer_id = _insert(conn, Customer.__table__, [dict(
        account_number=f"BENCH-{label}", name=f"Bench Customer {label}", timezone="America/New_York",
        created_at=now - timedelta(days=HISTORY_DAYS + 30),
    )], returning=Customer.__table__.c.id)[0]
    contact_id, _mailbox_id = _insert(conn, Contact.__table__, [
        dict(customer_id=customer_id, email=f"ap-clerk-{label.lower()}@bench.example", name="AP Clerk", created_at=now),
        dict(customer_id=customer_id, email=f"ap-{label.lower()}@bench.example", name="AP mailbox",
             is_ap_mailbox=True, created_at=now),
    ], returning=Contact.__table__.c.id)
    contact_public_id = conn.scalar(select(Contact.public_id).where(Contact.id == contact_id))

    shapes, rows = [], []
    for n in range(invoice_count):
        age = (invoice_count - 1 - n) * HISTORY_DAYS // max(invoice_count, 1)
        issue = today - timedelta(days=age)
        roll = rng.random()
        if age > RECENT_DAYS:
            shape = "paid" if roll < 0.96 else "credited" if roll < 0.98 else "open"
        else:
            shape = ("paid" if roll < 0.45 else "partly_paid" if roll < 0.50 else "partly_credited" if roll < 0.55
                     else "ach" if roll < 0.60 else "open")
        shapes.append(shape)
        service = 2_000 + 500 * rng.randrange(40)
        rows.append(dict(
            customer_id=customer_id, number=f"{label}-{n:06d}", po_number=f"PO-{label}-{n % 97:03d}",
            currency="EUR" if rng.random() < 0.10 else "USD", issue_date=issue, due_date=issue + timedelta(days=30),
            terms="Net 30", total_minor=service + 2_500, sent_to_contact_id=contact_id, notes="",
            created_at=datetime.combine(issue, now.timetz()),
        ))
    invoice_ids = _insert(conn, Invoice.__table__, rows, returning=Invoice.__table__.c.id)
    invoices = [dict(row, id=invoice_id) for row, invoice_id in zip(rows, invoice_ids, strict=True)]

    lines, entries = [], []
    for invoice in invoices:
        service = invoice["total_minor"] - 2_500
        lines.append(dict(invoice_id=invoice["id"], position=1, sku="", description="Service hours",
                          quantity=Decimal(1), unit_price_minor=service, amount_minor=service))
        lines.append(dict(invoice_id=invoice["id"], position=2, sku="MAT-1", description="Materials",
                          quantity=Decimal(2), unit_price_minor=1_250, amount_minor=2_500))
        entries.append(dict(invoice_id=invoice["id"], kind="issued", amount_minor=invoice["total_minor"],
                            payment_id=None, reference=invoice["number"], created_at=invoice["created_at"]))
    _insert(conn, InvoiceLine.__table__, lines)

    # Payments: (payment row, [(invoice, amount, short-pay reason)], settled?)
    planned: list[tuple[dict, list[tuple[dict, int, str]], bool]] = []
    pending: dict[str, list[dict]] = {"USD": [], "EUR": []}
    group_size = {"USD": rng.randint(1, 5), "EUR": rng.randint(1, 5)}

    def payment_row(status: str, method: str, amount: int, currency: str, created: datetime, key: str) -> dict:
        settled = status == "succeeded"
        return dict(
            customer_id=customer_id, contact_id=contact_id, currency=currency, amount_minor=amount, method=method,
            status=status, request_key=key, idempotency_key=key,
            stripe_payment_intent_id=f"pi_{key}", po_number="", memo="",
            failure_code="card_declined" if status == "failed" else "",
            failure_message="Your card was declined." if status == "failed" else "",
            created_at=created, updated_at=created, settled_at=created if settled else None,
        )

    def flush_group(currency: str) -> None:
        group = pending[currency]
        if not group:
            return
        created = min(datetime.combine(group[-1]["issue_date"], now.timetz()) + timedelta(days=25), now)
        amount = sum(i["total_minor"] for i in group)
        key = f"b{label}-{len(planned)}"
        if rng.random() < 0.05:
            planned.append((payment_row("failed", "card", amount, currency, created - timedelta(hours=1), key + "f"),
                            [(i, i["total_minor"], "") for i in group], False))
        planned.append((payment_row("succeeded", "card", amount, currency, created, key),
                        [(i, i["total_minor"], "") for i in group], True))
        pending[currency] = []
        group_size[currency] = rng.randint(1, 5)

    for invoice, shape in zip(invoices, shapes, strict=True):
        created = min(datetime.combine(invoice["issue_date"], now.timetz()) + timedelta(days=20), now)
        key = f"b{label}-{len(planned)}"
        if shape == "paid":
            pending[invoice["currency"]].append(invoice)
            if len(pending[invoice["currency"]]) >= group_size[invoice["currency"]]:
                flush_group(invoice["currency"])
        elif shape == "partly_paid":
            part = invoice["total_minor"] * 2 // 5
            planned.append((payment_row("succeeded", "card", part, invoice["currency"], created, key),
                            [(invoice, part, "Partial payment: disputed line")], True))
        elif shape == "ach":
            planned.append((payment_row("processing", "us_bank_account", invoice["total_minor"], invoice["currency"],
                                        created, key), [(invoice, invoice["total_minor"], "")], False))
        elif shape in ("credited", "partly_credited"):
            credit = invoice["total_minor"] if shape == "credited" else 1_500
            entries.append(dict(invoice_id=invoice["id"], kind="credit_note", amount_minor=-credit, payment_id=None,
                                reference=f"CN-{invoice['number']}", created_at=created))
    for currency in pending:
        flush_group(currency)

    payment_ids = _insert(conn, Payment.__table__, _with_references(conn, [p for p, _, _ in planned]),
                          returning=Payment.__table__.c.id)
    allocations = []
    for (payment, allocated, settled), payment_id in zip(planned, payment_ids, strict=True):
        for invoice, amount, reason in allocated:
            allocations.append(dict(payment_id=payment_id, invoice_id=invoice["id"], amount_minor=amount,
                                    short_pay_reason=reason))
            if settled:
                entries.append(dict(invoice_id=invoice["id"], kind="payment", amount_minor=-amount,
                                    payment_id=payment_id, reference=f"ch_{payment['idempotency_key']}",
                                    created_at=payment["settled_at"]))
    _insert(conn, PaymentAllocation.__table__, allocations)
    entries.sort(key=lambda e: e["created_at"])  # the ledger in the order it happened
    _insert(conn, InvoiceEntry.__table__, entries)

    by_shape = {}
    for invoice, shape in zip(invoices, shapes, strict=True):
        by_shape.setdefault((shape, invoice["currency"]), []).append(invoice)
    open_usd = by_shape.get(("open", "USD"), [])
    detail = (by_shape.get(("partly_paid", "USD")) or by_shape.get(("paid", "USD")) or invoices)[-1]
    public = dict(conn.execute(select(Invoice.id, Invoice.public_id).where(
        Invoice.id.in_([detail["id"]] + [i["id"] for i in open_usd[-3:]]))).all())
    multi = [pid for (p, allocated, settled), pid in zip(planned, payment_ids, strict=True)
             if settled and len(allocated) > 1] or payment_ids
    payment_public_id = conn.scalar(select(Payment.public_id).where(Payment.id == multi[-1]))
    return SeededAccount(
        label=label, invoice_count=invoice_count, customer_id=customer_id, contact_id=contact_id,
        contact_public_id=contact_public_id, detail_invoice_public_id=public[detail["id"]],
        pay_invoice_public_ids=tuple(public[i["id"]] for i in open_usd[-3:]),
        payment_public_id=payment_public_id, open_usd_invoice_ids=tuple(i["id"] for i in open_usd),
        payment_count=len(planned),
    )


def seed_other_customers(conn: Connection, count: int, invoices_each: int, now: datetime) -> None:
    """The rest of the portal: `count` smaller accounts in the same mix."""
    for n in range(count):
        seed_account(conn, invoices_each, f"O{n:04d}", now)


def add_settlement_payments(conn: Connection, account: SeededAccount, count: int, now: datetime,
                            batch: str) -> list[tuple[str, str, int]]:
    """`count` card payments in `processing`, one cent each on the account's open USD
    invoices (round robin): what a `payment_intent.succeeded` event settles.

    One cent keeps every invoice's balance positive however many are settled. They are dated
    before all of the account's history, so the payments page (newest first) never shows them.
    Returns (payment public id, PaymentIntent id, amount) for building the events.
    """
    dated = now - timedelta(days=HISTORY_DAYS + 20)
    if not account.open_usd_invoice_ids:
        raise RuntimeError(f"account {account.label} has no open USD invoice to settle payments on")
    rows = []
    for n in range(count):
        key = f"s{account.label}-{batch}-{n}"
        rows.append(dict(
            customer_id=account.customer_id, contact_id=account.contact_id, currency="USD", amount_minor=1,
            method="card", status="processing", request_key=key, idempotency_key=key,
            stripe_payment_intent_id=f"pi_{key}", po_number="", memo="", failure_code="", failure_message="",
            created_at=dated, updated_at=dated, settled_at=None,
        ))
    ids = _insert(conn, Payment.__table__, _with_references(conn, rows), returning=Payment.__table__.c.id)
    invoices = account.open_usd_invoice_ids
    _insert(conn, PaymentAllocation.__table__, [
        dict(payment_id=pid, invoice_id=invoices[n % len(invoices)], amount_minor=1, short_pay_reason="")
        for n, pid in enumerate(ids)
    ])
    public = dict(conn.execute(select(Payment.id, Payment.public_id).where(
        Payment.id >= min(ids), Payment.id <= max(ids))).all())
    return [(public[pid], row["stripe_payment_intent_id"], 1) for pid, row in zip(ids, rows, strict=True)]


def fail_leftover_settlement_payments(conn: Connection, account: SeededAccount) -> int:
    """Benchmark payments a run did not settle: marked failed, so that no later page counts
    them as money in flight."""
    result = conn.execute(
        update(Payment).where(Payment.customer_id == account.customer_id, Payment.status == "processing",
                              Payment.request_key.like(f"s{account.label}-%"))
        .values(status="failed", failure_code="benchmark", failure_message="not settled by the benchmark run")
    )
    return result.rowcount


# ------------------------------------------------------------------------------------------
# The staff side


@dataclass(frozen=True)
class SeededStaff:
    analyst_id: int
    analyst_public_id: str  # the member the staff pages are measured as
    colleague_id: int
    team_id: int
    other_customer_label_prefix: str = "O"
    supervisor_public_id: str = ""  # the member the reports pages are measured as
    timeline_customer_public_id: str = ""  # the customer whose timeline is measured (the largest account)


@dataclass(frozen=True)
class SeededDisputes:
    open_disputes: int
    owned_by_analyst: int
    page_dispute_public_id: str  # two invoices and a thread


def seed_staff(db: Session, now: datetime, timeline_customer_id: int | None = None) -> SeededStaff:
    """Two analysts in one team and a supervisor (for the reports), through the staff service
    (real ids, as routing makes them); the caller commits."""
    ctx = Context(db, FixedClock(now), Actor.system("bench"))
    hasher = PasswordHasher.cheapest()  # nobody signs in with these: the bench route starts the session
    analyst = create_staff(ctx, hasher, email="bench-analyst@bench.example", name="Bench Analyst",
                           role="analyst", password="bench-password-unused")
    colleague = create_staff(ctx, hasher, email="bench-colleague@bench.example", name="Bench Colleague",
                             role="analyst", password="bench-password-unused")
    team = create_team(ctx, TeamDetails("Bench disputes", "America/New_York", "12345", 9 * 60, 17 * 60,
                                        is_fallback=True), [analyst.id, colleague.id])
    supervisor = create_staff(ctx, hasher, email="bench-supervisor@bench.example", name="Bench Supervisor",
                              role="supervisor", password="bench-password-unused")
    timeline_customer = db.get(Customer, timeline_customer_id) if timeline_customer_id is not None else None
    return SeededStaff(analyst.id, analyst.public_id, colleague.id, team.id, supervisor_public_id=supervisor.public_id,
                       timeline_customer_public_id=timeline_customer.public_id if timeline_customer else "")


def _disputable_invoices(conn: Connection, prefix: str) -> list:
    """Open invoices of the other customers (10.00 or more open, nothing in flight), with a
    contact each."""
    contact = (select(Contact.customer_id, func.min(Contact.id).label("contact_id"))
               .group_by(Contact.customer_id).subquery())
    return conn.execute(
        select(Invoice.id, Invoice.customer_id, Invoice.currency, Invoice.balance_minor, contact.c.contact_id)
        .join(Customer, Customer.id == Invoice.customer_id).join(contact, contact.c.customer_id == Invoice.customer_id)
        .where(Customer.account_number.like(f"BENCH-{prefix}%"), Invoice.balance_minor >= 1_000,
               Invoice.in_flight_minor == 0)
        .order_by(Invoice.id)
    ).all()


def add_open_disputes(conn: Connection, staff: SeededStaff, total: int, most: int, now: datetime,
                      seed: int = 1) -> SeededDisputes:
    """Top the active disputes up to `total` (in the mix above); `most` is the largest total
    this run will reach, so each invoice's share is decided once."""
    have = conn.scalar(select(func.count()).select_from(Dispute)) or 0
    invoices = _disputable_invoices(conn, staff.other_customer_label_prefix)
    if not invoices:
        raise RuntimeError("no open invoice of the other customers to dispute")
    # At most ceil(most / invoices) disputes cover one invoice (one more for the first dispute's
    # second invoice): each holds that share of the balance, so the holds stay within it.
    per_invoice = -(-most // len(invoices)) + 1
    reasons = list(conn.scalars(select(DisputeReason.id).order_by(DisputeReason.position)))
    rng = random.Random(f"disputes:{seed}:{have}")
    rows, covered = [], []
    for n in range(have, total):
        invoice = invoices[n % len(invoices)]
        roll = rng.random()
        status = "open" if roll < 0.5 else "under_review" if roll < 0.8 else "awaiting_customer"
        owner = rng.random()
        assignee = staff.analyst_id if owner < 0.80 else staff.colleague_id if owner < 0.95 else None
        created = now - timedelta(days=30 * rng.random())
        rows.append(dict(
            customer_id=invoice.customer_id, raised_by_contact_id=invoice.contact_id, link_id=None,
            reason_id=reasons[n % len(reasons)], currency=invoice.currency,
            description="The quantity delivered does not match the invoice; see our goods-received note.",
            status=status, request_key=f"bench-dispute-{n:07d}", priority=("normal", "high", "low", "urgent")[n % 4],
            team_id=staff.team_id if assignee or n % 2 else None, assignee_id=assignee,
            first_response_due_at=created + timedelta(hours=8), resolution_due_at=created + timedelta(days=5),
            first_responded_at=created + timedelta(hours=3) if status != "open" else None, resolved_at=None,
            created_at=created, updated_at=created,
        ))
        covered.append([invoice] + ([invoices[(n + 1) % len(invoices)]] if n == 0 else []))
    ids = _insert(conn, Dispute.__table__, rows, returning=Dispute.__table__.c.id)
    holds: dict[int, int] = {}
    lines, events = [], []
    for dispute_id, row, invoices_of in zip(ids, rows, covered, strict=True):
        for invoice in invoices_of:
            amount = max(invoice.balance_minor // per_invoice, 1)
            holds[invoice.id] = holds.get(invoice.id, 0) + amount
            lines.append(dict(dispute_id=dispute_id, invoice_id=invoice.id, disputed_minor=amount, held_minor=amount,
                              credited_minor=0, proposed_credit_minor=None, rebilled_invoice_id=None))
        events.append(dict(dispute_id=dispute_id, at=row["created_at"], kind="raised", actor_type="contact",
                           actor_id=str(row["raised_by_contact_id"]), from_status=None, to_status=None,
                           detail="Quantity short"))
    _insert(conn, DisputeInvoice.__table__, lines)
    _insert(conn, DisputeEvent.__table__, events)
    if holds:
        conn.execute(update(Invoice.__table__).where(Invoice.__table__.c.id == bindparam("b_id"))
                     .values(held_minor=Invoice.__table__.c.held_minor + bindparam("b_held")),
                     [{"b_id": invoice_id, "b_held": held} for invoice_id, held in holds.items()])
        conn.commit()
    if have == 0 and ids:
        _add_thread(conn, ids[0], rows[0], staff)
    first = conn.execute(select(Dispute.public_id).order_by(Dispute.id).limit(1)).scalar_one()
    owned = conn.scalar(select(func.count()).select_from(Dispute).where(Dispute.assignee_id == staff.analyst_id))
    return SeededDisputes(open_disputes=total, owned_by_analyst=owned, page_dispute_public_id=first)


def _add_thread(conn: Connection, dispute_id: int, row: dict, staff: SeededStaff) -> None:
    """The measured dispute's thread: customer and staff messages, a note, and their events."""
    at = row["created_at"]
    said = [("customer", False, "We received 40 of the 50 units; the goods-received note is attached."),
            ("staff", False, "Thank you, we are checking with the warehouse."),
            ("staff", True, "Warehouse says the pallet was split; the second half left a day later."),
            ("customer", False, "The second half never arrived at our dock."),
            ("staff", False, "Could you confirm the delivery address on your purchase order?"),
            ("customer", False, "It is dock 4, building B, as on every order.")]
    _insert(conn, DisputeMessage.__table__, [
        dict(dispute_id=dispute_id, author_kind=author, contact_id=row["raised_by_contact_id"] if author == "customer"
             else None, staff_id=staff.analyst_id if author == "staff" else None, body=body, internal=internal,
             created_at=at + timedelta(hours=2 * n + 1))
        for n, (author, internal, body) in enumerate(said)
    ])
    kinds = ["message", "message", "note", "message", "information_requested", "answered", "assigned", "message"]
    _insert(conn, DisputeEvent.__table__, [
        dict(dispute_id=dispute_id, at=at + timedelta(hours=2 * n + 1), kind=kind,
             actor_type="staff" if kind in ("note", "information_requested", "assigned") else "contact",
             actor_id=str(staff.analyst_id), from_status=None, to_status=None, detail="")
        for n, kind in enumerate(kinds)
    ])
