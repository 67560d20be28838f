"""ERP import files for tests: rows written by column name, so a test says only what matters."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact, Customer
from portal.domain.imports.models import ErpRecord
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import InvoiceEntry

HEADER = ["record", "erp_id", "customer_erp_id", "invoice_erp_id", "account_number", "name", "email", "timezone",
          "ap_mailbox", "number", "currency", "issue_date", "due_date", "po_number", "terms", "sku", "description",
          "quantity", "unit_price", "amount", "total"]


def erp_csv(*rows: dict[str, str], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def customer_row(erp_id="C-1", account="ACC-1", name="Acme Ltd", timezone="Europe/London"):
    return {"record": "customer", "erp_id": erp_id, "account_number": account, "name": name, "timezone": timezone}


def contact_row(erp_id="P-1", customer="C-1", email="pat@acme.example", name="Pat Clerk", ap="no"):
    return {"record": "contact", "erp_id": erp_id, "customer_erp_id": customer, "email": email, "name": name,
            "ap_mailbox": ap}


def invoice_rows(erp_id="I-1", customer="C-1", number="SI-1", currency="USD", total="150.00",
                 issue="2026-11-01", due="2026-12-01", lines=(("Widgets", "1", "150.00"),), po=""):
    rows = [{"record": "invoice", "erp_id": erp_id, "customer_erp_id": customer, "number": number,
             "currency": currency, "issue_date": issue, "due_date": due, "total": total, "po_number": po}]
    rows += [{"record": "line", "invoice_erp_id": erp_id, "description": description, "quantity": quantity,
              "unit_price": unit} for description, quantity, unit in lines]
    return rows


def credit_note_row(erp_id="N-1", invoice="I-1", number="CN-1", currency="USD", amount="50.00"):
    return {"record": "credit_note", "erp_id": erp_id, "invoice_erp_id": invoice, "number": number,
            "currency": currency, "amount": amount}


def void_row(erp_id="V-1", invoice="I-1"):
    return {"record": "void", "erp_id": erp_id, "invoice_erp_id": invoice}


def import_context(db, clock) -> Context:
    return Context(db=db, clock=clock, actor=Actor.system("test import"))


def table_counts(db) -> dict[str, int]:
    """The rows an import writes: compared before and after to prove "nothing changed"."""
    db.expire_all()
    return {name: db.scalar(select(func.count()).select_from(model)) for name, model in (
        ("customers", Customer), ("contacts", Contact), ("invoices", Invoice), ("entries", InvoiceEntry),
        ("erp_records", ErpRecord))}
