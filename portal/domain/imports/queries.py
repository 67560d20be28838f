"""What the ERP sent, read back by its own ids, for the API (`/api/v1`).

Each read model is a plain dict in the API's JSON shape (docs/erp-api.md): amounts both as
the decimal string with the currency's decimals and as integer minor units, as the ERP may
send them. Lists are pages in the order the records were first imported (`erp_records.id`),
with the id of the last one as the cursor: stable while records are added.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from portal.domain.customers.models import Contact, Customer
from portal.domain.imports.models import ErpRecord
from portal.domain.imports.states import RecordKind
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.core.money import Money

MAX_PAGE = 200
DEFAULT_PAGE = 50
INVOICE_STATUSES = ("open", "closed")


def _amount(minor: int, currency: str) -> str:
    return Money(minor, currency).plain()


def _contact_dict(erp_id: str, customer_erp_id: str, contact: Contact) -> dict:
    return {"erp_id": erp_id, "customer_erp_id": customer_erp_id, "email": contact.email, "name": contact.name,
            "ap_mailbox": contact.is_ap_mailbox}


def _customer_dicts(db: Session, found: list[tuple[ErpRecord, Customer]]) -> list[dict]:
    ids = [customer.id for _, customer in found]
    contacts: dict[int, list[dict]] = {}
    if ids:
        rows = db.execute(select(ErpRecord.erp_id, Contact)
                          .join(Contact, Contact.id == ErpRecord.contact_id)
                          .where(ErpRecord.kind == RecordKind.CONTACT, Contact.customer_id.in_(ids))
                          .order_by(ErpRecord.id))
        by_id = {customer.id: record.erp_id for record, customer in found}
        for erp_id, contact in rows:
            contacts.setdefault(contact.customer_id, []).append(
                _contact_dict(erp_id, by_id[contact.customer_id], contact))
    return [{"erp_id": record.erp_id, "account_number": customer.account_number, "name": customer.name,
             "timezone": customer.timezone, "contacts": contacts.get(customer.id, [])} for record, customer in found]


def _customers(db: Session):
    return (select(ErpRecord, Customer).join(Customer, Customer.id == ErpRecord.customer_id)
            .where(ErpRecord.kind == RecordKind.CUSTOMER))


def customer_by_erp_id(db: Session, erp_id: str) -> dict | None:
    found = db.execute(_customers(db).where(ErpRecord.erp_id == erp_id)).all()
    return _customer_dicts(db, [tuple(row) for row in found])[0] if found else None


def customers_after(db: Session, after: int, limit: int = DEFAULT_PAGE) -> tuple[list[dict], int | None]:
    """A page of customers after the cursor `after`, and the next cursor (None at the end)."""
    limit = max(1, min(limit, MAX_PAGE))
    found = [tuple(row) for row in db.execute(_customers(db).where(ErpRecord.id > after)
                                              .order_by(ErpRecord.id).limit(limit + 1))]
    more = len(found) > limit
    found = found[:limit]
    return _customer_dicts(db, found), (found[-1][0].id if more else None)


def contact_by_erp_id(db: Session, erp_id: str) -> dict | None:
    customer_record = aliased(ErpRecord)
    found = db.execute(
        select(ErpRecord.erp_id, customer_record.erp_id, Contact)
        .join(Contact, Contact.id == ErpRecord.contact_id)
        .join(customer_record, (customer_record.kind == RecordKind.CUSTOMER)
              & (customer_record.customer_id == Contact.customer_id))
        .where(ErpRecord.kind == RecordKind.CONTACT, ErpRecord.erp_id == erp_id)
    ).first()
    return _contact_dict(*found) if found else None


def _invoices():
    customer_record = aliased(ErpRecord)
    return (select(ErpRecord.id, ErpRecord.erp_id, customer_record.erp_id, Invoice)
            .join(Invoice, Invoice.id == ErpRecord.invoice_id)
            .join(customer_record, (customer_record.kind == RecordKind.CUSTOMER)
                  & (customer_record.customer_id == Invoice.customer_id))
            .where(ErpRecord.kind == RecordKind.INVOICE)), customer_record


def _invoice_dicts(db: Session, found) -> list[dict]:
    ids = [invoice.id for *_, invoice in found]
    lines: dict[int, list[InvoiceLine]] = {}
    balances: dict[int, tuple[int, int, int]] = {}
    if ids:
        for line in db.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(ids))
                               .order_by(InvoiceLine.invoice_id, InvoiceLine.position)):
            lines.setdefault(line.invoice_id, []).append(line)
        # Read as columns: an Invoice loaded before a trigger fired holds stale figures.
        balances = {row[0]: tuple(row[1:]) for row in db.execute(
            select(Invoice.id, Invoice.balance_minor, Invoice.held_minor, Invoice.in_flight_minor)
            .where(Invoice.id.in_(ids)))}
    result = []
    for _, erp_id, customer_erp_id, invoice in found:
        balance, held, in_flight = balances[invoice.id]
        currency = invoice.currency
        result.append({
            "erp_id": erp_id, "customer_erp_id": customer_erp_id, "number": invoice.number, "currency": currency,
            "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
            "po_number": invoice.po_number, "terms": invoice.terms,
            "total": _amount(invoice.total_minor, currency), "total_minor": invoice.total_minor,
            "balance": _amount(balance, currency), "balance_minor": balance,
            "disputed_minor": held, "in_flight_minor": in_flight,
            "status": "open" if balance > 0 else "closed",
            "lines": [{"sku": line.sku, "description": line.description, "quantity": f"{line.quantity.normalize():f}",
                       "unit_price": _amount(line.unit_price_minor, currency),
                       "unit_price_minor": line.unit_price_minor, "amount": _amount(line.amount_minor, currency),
                       "amount_minor": line.amount_minor} for line in lines.get(invoice.id, [])],
        })
    return result


def invoice_by_erp_id(db: Session, erp_id: str) -> dict | None:
    query, _ = _invoices()
    found = db.execute(query.where(ErpRecord.erp_id == erp_id)).all()
    return _invoice_dicts(db, found)[0] if found else None


def invoices_after(db: Session, after: int, limit: int = DEFAULT_PAGE, *, customer_erp_id: str | None = None,
                   status: str | None = None) -> tuple[list[dict], int | None]:
    """A page of invoices after the cursor, of one customer and in one status when asked."""
    limit = max(1, min(limit, MAX_PAGE))
    query, customer_record = _invoices()
    query = query.where(ErpRecord.id > after)
    if customer_erp_id is not None:
        query = query.where(customer_record.erp_id == customer_erp_id)
    if status == "open":
        query = query.where(Invoice.balance_minor > 0)
    elif status == "closed":
        query = query.where(Invoice.balance_minor <= 0)
    found = db.execute(query.order_by(ErpRecord.id).limit(limit + 1)).all()
    more = len(found) > limit
    found = found[:limit]
    return _invoice_dicts(db, found), (found[-1][0] if more else None)


def _document(db: Session, kind: RecordKind, erp_id: str):
    invoice_record = aliased(ErpRecord)
    return db.execute(
        select(ErpRecord.erp_id, invoice_record.erp_id, InvoiceEntry.reference, InvoiceEntry.amount_minor,
               Invoice.currency)
        .join(InvoiceEntry, InvoiceEntry.id == ErpRecord.entry_id)
        .join(Invoice, Invoice.id == InvoiceEntry.invoice_id)
        .join(invoice_record, (invoice_record.kind == RecordKind.INVOICE) & (invoice_record.invoice_id == Invoice.id))
        .where(ErpRecord.kind == kind, ErpRecord.erp_id == erp_id)
    ).first()


def credit_note_by_erp_id(db: Session, erp_id: str) -> dict | None:
    found = _document(db, RecordKind.CREDIT_NOTE, erp_id)
    if found is None:
        return None
    erp_id, invoice_erp_id, number, amount_minor, currency = found
    return {"erp_id": erp_id, "invoice_erp_id": invoice_erp_id, "number": number, "currency": currency,
            "amount": _amount(-amount_minor, currency), "amount_minor": -amount_minor}


def void_by_erp_id(db: Session, erp_id: str) -> dict | None:
    found = _document(db, RecordKind.VOID, erp_id)
    if found is None:
        return None
    erp_id, invoice_erp_id, reference, amount_minor, currency = found
    return {"erp_id": erp_id, "invoice_erp_id": invoice_erp_id, "reference": reference,
            "credited": _amount(-amount_minor, currency), "credited_minor": -amount_minor}
