"""The one write path for invoices: issuing an invoice with its lines, and credit notes.

`issue_invoice` stores the invoice, its lines and the `issued` ledger entry together, after
checking what the ERP sent (a known currency, a due date on or after the issue date, a total
that is the sum of the lines). `issue_credit_note` reduces what is owed, never below zero.
Both flush and leave the commit to the caller; both refuse bad input with a message and
write nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.core.money import Money, MoneyError, normalize_currency
from portal.domain.core.locales import N_, Text, translate
from portal.domain.customers.models import Contact, Customer
from portal.domain.invoicing.models import Invoice, InvoiceLine, InvoiceReissue
from portal.domain.invoicing.policy import (
    DueDateRule, ReissueMode, parse_po_number, reissue_mode, reissued_due_date, replacement_split,
)
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.ledger.service import post_entry
from portal.domain.ledger.states import EntryKind

MAX_NUMBER_LENGTH = 40
MAX_DESCRIPTION_LENGTH = 500


class InvoiceRefused(DomainError):
    """The invoice or credit note was not issued; the message says why."""


@dataclass(frozen=True)
class NewLine:
    """One line as the ERP sent it. `amount_minor` defaults to quantity × unit price, half a
    minor unit rounding up as on paper."""

    description: str
    quantity: Decimal | int
    unit_price_minor: int
    amount_minor: int | None = None
    sku: str = ""

    @property
    def amount(self) -> int:
        if self.amount_minor is not None:
            return self.amount_minor
        exact = Decimal(self.quantity) * self.unit_price_minor
        return int(exact.quantize(Decimal(1), ROUND_HALF_UP))


def issue_invoice(
    db: Session,
    *,
    customer_id: int,
    number: str,
    currency: str,
    issue_date: date,
    due_date: date,
    lines: Sequence[NewLine],
    at: datetime,
    total_minor: int | None = None,
    po_number: str | None = None,
    terms: str = "Net 30",
    sent_to_contact_id: int | None = None,
    notes: str = "",
) -> Invoice:
    """Store an issued invoice, its lines and its `issued` entry (the balance opens at the
    total). `total_minor`, when the ERP states one, must equal the sum of the lines."""
    number = (number or "").strip()
    if not number or len(number) > MAX_NUMBER_LENGTH:
        raise InvoiceRefused(f"An invoice number has 1 to {MAX_NUMBER_LENGTH} characters")
    try:
        currency = normalize_currency(currency)
    except MoneyError as error:
        raise InvoiceRefused(str(error)) from None
    if due_date < issue_date:
        raise InvoiceRefused(f"Invoice {number} is due ({due_date}) before it was issued ({issue_date})")
    if not lines:
        raise InvoiceRefused(f"Invoice {number} has no lines")
    for line in lines:
        if not line.description.strip() or len(line.description) > MAX_DESCRIPTION_LENGTH:
            raise InvoiceRefused(f"Each line of invoice {number} needs a description of at most "
                                 f"{MAX_DESCRIPTION_LENGTH} characters")
        if Decimal(line.quantity) <= 0:
            raise InvoiceRefused(f"Line {line.description!r} of invoice {number} has no positive quantity")
    lines_total = sum(line.amount for line in lines)
    if total_minor is not None and total_minor != lines_total:
        raise InvoiceRefused(f"Invoice {number} states a total of {total_minor} but its lines add up to {lines_total}")
    if lines_total <= 0:
        raise InvoiceRefused(f"Invoice {number} has no positive total")
    if db.get(Customer, customer_id) is None:
        raise NotFound("Customer not found")
    if db.scalar(select(Invoice.id).where(Invoice.number == number)) is not None:
        raise InvoiceRefused(f"Invoice {number} already exists")

    invoice = Invoice(
        customer_id=customer_id, number=number, po_number=po_number, currency=currency,
        issue_date=issue_date, due_date=due_date, terms=terms, total_minor=lines_total,
        sent_to_contact_id=sent_to_contact_id, notes=notes, created_at=at,
    )
    invoice.lines = [
        InvoiceLine(position=position, sku=line.sku, description=line.description,
                    quantity=Decimal(line.quantity), unit_price_minor=line.unit_price_minor,
                    amount_minor=line.amount)
        for position, line in enumerate(lines, start=1)
    ]
    db.add(invoice)
    db.flush()
    post_entry(db, invoice_id=invoice.id, kind=EntryKind.ISSUED, amount_minor=lines_total,
               reference=number, at=at)
    return invoice


def issue_credit_note(db: Session, *, invoice_id: int, amount: Money, at: datetime,
                      reference: str = "") -> InvoiceEntry:
    """Credit `amount` against the invoice: at most its open balance, in its currency.

    The invoice row is locked (PostgreSQL) before its balance is read, so two credit notes at
    once cannot together take it below zero; SQLite serialises writers anyway.
    """
    row = db.execute(
        select(Invoice.number, Invoice.currency, Invoice.balance_minor)
        .where(Invoice.id == invoice_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("Invoice not found")
    number, currency, balance_minor = row
    if amount.currency != currency:
        raise InvoiceRefused(f"Invoice {number} is in {currency}; a credit note in {amount.currency} cannot apply")
    if amount.minor <= 0:
        raise InvoiceRefused("A credit note must be for a positive amount")
    balance = Money(balance_minor, currency)
    if amount > balance:
        raise InvoiceRefused(f"A credit note of {amount} is more than the {balance} still open on invoice {number}")
    return post_entry(db, invoice_id=invoice_id, kind=EntryKind.CREDIT_NOTE, amount_minor=-amount.minor,
                      reference=reference, at=at)


def invoice_activity(db: Session, invoice_id: int) -> list[str]:
    """What has happened to an invoice since it was issued, in words: any entry after its
    `issued` one (payments, credit notes, refunds...), payment attempts allocated to it,
    disputes, plans and promises to pay. Empty means nobody has acted on it yet, so the ERP may
    still correct its dates and terms; anything else means a change must be an explicit
    document (a credit note), never an edit.
    """
    # Imported here: those areas' models import the invoice model from this package.
    from portal.domain.disputes.models import DisputeInvoice
    from portal.domain.payments.models import PaymentAllocation
    from portal.domain.plans.models import PlanInvoice
    from portal.domain.promises.models import PromiseInvoice

    found = []
    if db.scalar(select(InvoiceEntry.id).where(InvoiceEntry.invoice_id == invoice_id,
                                               InvoiceEntry.kind != EntryKind.ISSUED).limit(1)) is not None:
        found.append("payments or credits")
    for label, model in (("payment attempts", PaymentAllocation), ("a dispute", DisputeInvoice),
                         ("an installment plan", PlanInvoice), ("a promise to pay", PromiseInvoice)):
        if db.scalar(select(model.invoice_id).where(model.invoice_id == invoice_id).limit(1)) is not None:
            found.append(label)
    return found


def change_invoice_terms(db: Session, *, invoice_id: int, due_date: date, po_number: str | None,
                         terms: str) -> Invoice:
    """Correct an issued invoice's due date, PO number or terms, as the ERP re-sent it.

    Only while nobody has acted on the invoice (`invoice_activity` is empty): a due date moved
    under a payment, a dispute, a plan or a promise would change what was agreed. The amounts,
    currency, customer and lines never change here: a reduction is a credit note, a
    cancellation is `void_invoice`.
    """
    invoice = db.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("Invoice not found")
    activity = invoice_activity(db, invoice_id)
    if activity:
        raise InvoiceRefused(f"Invoice {invoice.number} already has {', '.join(activity)}: "
                             "it cannot be changed; send a credit note instead")
    if due_date < invoice.issue_date:
        raise InvoiceRefused(f"Invoice {invoice.number} is due ({due_date}) before it was issued ({invoice.issue_date})")
    invoice.due_date = due_date
    invoice.po_number = po_number
    invoice.terms = terms
    db.flush()
    return invoice


def void_invoice(db: Session, *, invoice_id: int, at: datetime, reference: str) -> InvoiceEntry:
    """Cancel an invoice the ERP voided: a credit note for its whole total, so it owes nothing.

    Refused once anyone has acted on it (`invoice_activity`): money paid or promised on an
    invoice is not wiped by a void; the ERP sends a credit note for what it takes back.
    """
    row = db.execute(
        select(Invoice.number, Invoice.currency, Invoice.total_minor, Invoice.balance_minor)
        .where(Invoice.id == invoice_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("Invoice not found")
    number, currency, total_minor, balance_minor = row
    activity = invoice_activity(db, invoice_id)
    if activity:
        raise InvoiceRefused(f"Invoice {number} already has {', '.join(activity)}: it cannot be voided; "
                             "send a credit note for what is taken back")
    if balance_minor != total_minor:
        raise InvoiceRefused(f"Invoice {number} no longer owes its whole total: it cannot be voided")
    return issue_credit_note(db, invoice_id=invoice_id, amount=Money(total_minor, currency), at=at,
                             reference=reference)
# ---------------------------------------------------------------------------------------------
# Giving an issued invoice its PO number (the "we need a PO" follow-up, or staff typing it).


@dataclass(frozen=True)
class Reissue:
    """What `reissue_with_po` did: `invoice` is the one that now carries the PO (the same
    invoice, or its replacement when `replaced` names the old one)."""

    invoice: Invoice
    replaced: Invoice | None
    record: InvoiceReissue
    mode: ReissueMode

    @property
    def credit(self) -> Money:
        return Money(self.record.credit_minor, self.invoice.currency)


def _balance_line(db: Session, invoice: Invoice) -> str:
    """The one line of an invoice that re-issues what is open of `invoice`, written in the
    language of the contact the invoice was sent to (a line is part of the document, kept as
    written, unlike the page's words, which follow the reader)."""
    language = (db.scalar(select(Contact.language).where(Contact.id == invoice.sent_to_contact_id))
                if invoice.sent_to_contact_id is not None else None)
    return translate(Text(N_("Balance of invoice %(number)s"), number=invoice.number), language)


def reissue_with_po(
    ctx: Context, *, invoice_id: int, po_number: str, rule: DueDateRule | str, today: date,
    ever_disputed: bool, replacement_numbers: Sequence[str], followup_id: int | None = None,
) -> Reissue:
    """Give the invoice `po_number`, with the due date `rule` gives (`policy.reissued_due_date`).

    Where nothing was paid, credited or disputed yet (`policy.reissue_mode`), the PO (and due
    date) is written on the invoice itself. Otherwise the open balance is credited and a new
    invoice for exactly that amount is issued with the PO, numbered with the first of
    `replacement_numbers` no invoice has, linked to the old one: the customer owes exactly
    what they owed before. Refused (nothing written) while a payment is processing or a
    dispute holds part of it. The invoice row is locked first, so two re-issues at once cannot
    both credit it. Audited; the caller commits.
    """
    db, now = ctx.db, ctx.clock.now()
    po_number = parse_po_number(po_number)
    invoice = db.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update()
                        .execution_options(populate_existing=True))
    if invoice is None:
        raise NotFound("Invoice not found")
    entry_kinds = set(db.scalars(select(InvoiceEntry.kind).where(InvoiceEntry.invoice_id == invoice_id).distinct()))
    mode = reissue_mode(entry_kinds=entry_kinds, balance_minor=invoice.balance_minor,
                        in_flight_minor=invoice.in_flight_minor, held_minor=invoice.held_minor,
                        ever_disputed=ever_disputed, number=invoice.number)
    due_after = reissued_due_date(rule, issue_date=invoice.issue_date, due_date=invoice.due_date,
                                  reissue_date=today, mode=mode)
    before = {"po_number": invoice.po_number, "due_date": invoice.due_date.isoformat()}
    record = InvoiceReissue(invoice_id=invoice.id, replacement_invoice_id=None, followup_id=followup_id,
                            po_before=invoice.po_number, po_after=po_number, due_before=invoice.due_date,
                            due_after=due_after, credit_minor=0, created_at=now)
    if mode == ReissueMode.IN_PLACE:
        invoice.po_number = po_number
        invoice.due_date = due_after
        db.add(record)
        db.flush()
        audit.record(db, ctx.clock, ctx.actor, "invoice.po_updated", "invoice", invoice.public_id, before=before,
                     after={"po_number": po_number, "due_date": due_after.isoformat()})
        return Reissue(invoice=invoice, replaced=None, record=record, mode=mode)

    candidates = [number.strip() for number in replacement_numbers if number.strip()]
    taken = set(db.scalars(select(Invoice.number).where(Invoice.number.in_(candidates))))
    number = next((candidate for candidate in candidates if candidate not in taken), None)
    if number is None:
        raise InvoiceRefused(f"No free number for the invoice that replaces {invoice.number}.")
    open_minor = invoice.balance_minor
    if replacement_split(open_minor=open_minor, total_minor=invoice.total_minor):
        lines = [NewLine(description=line.description, quantity=line.quantity,
                         unit_price_minor=line.unit_price_minor, amount_minor=line.amount_minor, sku=line.sku)
                 for line in invoice.lines]
    else:
        lines = [NewLine(description=_balance_line(db, invoice), quantity=1,
                         unit_price_minor=open_minor, amount_minor=open_minor)]
    issue_credit_note(db, invoice_id=invoice.id, amount=Money(open_minor, invoice.currency), at=now,
                      reference=number)
    replacement = issue_invoice(
        db, customer_id=invoice.customer_id, number=number, currency=invoice.currency, issue_date=today,
        due_date=due_after, lines=lines, at=now, po_number=po_number, terms=invoice.terms,
        sent_to_contact_id=invoice.sent_to_contact_id,
    )
    record.replacement_invoice_id = replacement.id
    record.credit_minor = open_minor
    db.add(record)
    db.flush()
    audit.record(db, ctx.clock, ctx.actor, "invoice.reissued", "invoice", invoice.public_id, before=before, after={
        "replacement": replacement.number, "po_number": po_number, "due_date": due_after.isoformat(),
        "credit_minor": open_minor,
    })
    return Reissue(invoice=replacement, replaced=invoice, record=record, mode=mode)
