"""Raising disputes in tests through the product's own service, as a clerk would."""

from __future__ import annotations

import io
import secrets

from sqlalchemy import select

from portal.domain.access.policy import ACCOUNT, INVOICES, Access
from portal.domain.attachments.service import FileStore, Upload, Uploads
from portal.domain.attachments.storage import FileStorage
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.policy import InvoiceChoice, LineChoice
from portal.domain.disputes.service import raise_dispute
from portal.domain.invoicing.models import Invoice
from portal.domain.staff.models import StaffMember
from tests.support.factories import make_staff

DESK_EMAIL = "dispute.desk@northwind.example"


def contact_access(contact: Contact, invoices: list[Invoice] | None = None, link_id: int | None = None) -> Access:
    if invoices is None:
        return Access(contact.customer_id, contact.id, ACCOUNT)
    return Access(contact.customer_id, contact.id, INVOICES, frozenset(i.id for i in invoices), link_id)


def contact_context(db, clock: Clock, contact: Contact) -> Context:
    return Context(db, clock, Actor("contact", contact.public_id, "127.0.0.1"))


def staff_context(db, clock: Clock, staff: StaffMember | None = None) -> Context:
    """A staff member's context, as `admin.auth.staff_actor` makes it: `staff`, or else the
    dispute desk's analyst (a real member, made on first use)."""
    if staff is None:
        staff = db.scalar(select(StaffMember).where(StaffMember.email == DESK_EMAIL)) \
            or make_staff(db, clock, email=DESK_EMAIL, name="Dispute Desk")
    return Context(db, clock, Actor("staff", staff.public_id, "127.0.0.1"))


def uploads(storage: FileStorage, *files: tuple[str, bytes], scanner_configured: bool = False) -> Uploads:
    """Files (name, bytes) to send with a dispute or a message, stored in `storage` (the
    `file_storage` fixture is the test app's) when the service accepts them."""
    return FileStore(storage, scanner_configured).uploads([Upload(name, io.BytesIO(data)) for name, data in files])


def raise_test_dispute(db, clock: Clock, contact: Contact, invoices: list[Invoice], *, amount_text: str = "",
                       lines: dict[int, list[LineChoice]] | None = None, reason: str = "pricing",
                       description: str = "The unit price is not what we agreed.",
                       access: Access | None = None, files: Uploads | None = None) -> Dispute:
    """A dispute over `invoices`: an amount on each (`amount_text`), chosen lines (`lines` by
    invoice id), or else the whole of each; with `files` (see `uploads`)."""
    choices = []
    for invoice in invoices:
        if lines and invoice.id in lines:
            choices.append(InvoiceChoice(invoice.public_id, "lines", lines=tuple(lines[invoice.id])))
        elif amount_text:
            choices.append(InvoiceChoice(invoice.public_id, "amount", amount_text=amount_text))
        else:
            choices.append(InvoiceChoice(invoice.public_id, "whole"))
    return raise_dispute(
        contact_context(db, clock, contact), access or contact_access(contact), reason_code=reason,
        description=description, choices=choices, request_key=secrets.token_urlsafe(24), files=files,
    )
