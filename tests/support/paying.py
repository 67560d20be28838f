"""What a browser does on the pay page, as test-client calls (no JavaScript involved)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.domain.core.models import AuditEntry
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import Payment, StripeEvent
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.stripe import signed_headers

_HIDDEN = re.compile(r'<input type="hidden" name="(csrf_token|nonce)" value="([^"]+)"')


def open_pay_page(client, invoices: list[Invoice]) -> dict[str, str]:
    """GET the pay page for these invoices; return its csrf_token and nonce."""
    response = client.get("/pay", query_string=[("invoice", i.public_id) for i in invoices])
    assert response.status_code == 200, response.get_data(as_text=True)
    fields = dict(_HIDDEN.findall(response.get_data(as_text=True)))
    assert set(fields) == {"csrf_token", "nonce"}
    return fields


def pay_form(page: dict[str, str], amounts: dict[Invoice, str], token: str, **extra) -> list[tuple[str, str]]:
    """The form pay.js posts: invoice ids, an amount (and reason) per invoice, the token Stripe.js
    made (a card token "tok_...", or a ConfirmationToken "ctoken_..." from the Payment Element)."""
    field = "confirmation_token" if token.startswith("ctoken_") else "card_token"
    form = [("csrf_token", page["csrf_token"]), ("nonce", page["nonce"]), (field, token)]
    for invoice, amount in amounts.items():
        form += [("invoice", invoice.public_id), (f"amount-{invoice.public_id}", amount)]
    for key, value in extra.items():
        form.append((key, value))
    return form


def post_payment(client, form):
    return client.post("/pay", data=MultiDict(form), headers={"Accept": "application/json"})


def pay(client, amounts: dict[Invoice, str], token: str, **extra):
    """Open the pay page and post it once."""
    page = open_pay_page(client, list(amounts))
    return post_payment(client, pay_form(page, amounts, token, **extra))


def post_event(client, payload: bytes, timestamp: int, **kwargs):
    return client.post("/stripe/webhook", data=payload, headers=signed_headers(payload, timestamp, **kwargs))


def balance(db, invoice: Invoice) -> int:
    db.commit()  # keep what the test arranged, end any snapshot (SQLite WAL) ...
    db.expire_all()  # ... and forget loaded rows: see what the app committed
    return db.scalar(select(func.coalesce(func.sum(InvoiceEntry.amount_minor), 0))
                     .where(InvoiceEntry.invoice_id == invoice.id))


def counts(db) -> dict[str, int]:
    """Rows that money movements create: compared before and after to prove "nothing changed"."""
    db.commit()  # keep what the test arranged, end any snapshot (SQLite WAL) ...
    db.expire_all()  # ... and forget loaded rows: see what the app committed
    tables = {"payments": Payment, "entries": InvoiceEntry, "outbox": OutboxMessage,
              "events": StripeEvent, "audit": AuditEntry}
    return {name: db.scalar(select(func.count()).select_from(model)) for name, model in tables.items()}


def payment_by_public_id(db, public_id: str) -> Payment:
    db.commit()  # keep what the test arranged, end any snapshot (SQLite WAL) ...
    db.expire_all()  # ... and forget loaded rows: see what the app committed
    return db.scalar(select(Payment).where(Payment.public_id == public_id))


@dataclass
class Company:
    customer: Customer
    clerk: Contact
    ap_mailbox: Contact
    invoices: list[Invoice]


def make_company(db, clock, *totals: int, currency: str = "USD") -> Company:
    customer = make_customer(db, clock)
    clerk = make_contact(db, clock, customer, name="Pat Clerk")
    ap_mailbox = make_contact(db, clock, customer, email=f"ap-{customer.id}@example.com", name="AP", is_ap_mailbox=True)
    invoices = [make_invoice(db, clock, customer, total_minor=total, currency=currency) for total in totals]
    return Company(customer, clerk, ap_mailbox, invoices)
