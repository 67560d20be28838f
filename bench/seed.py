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
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, insert, select, update

from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.payments.models import Payment, PaymentAllocation
from portal.domain.payments.service import take_payment_references

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
