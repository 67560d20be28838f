"""Follow-ups in tests, made through the product's own services as a clerk would report them."""

from __future__ import annotations

import secrets
from datetime import timedelta

from portal.domain.attachments.service import Uploads
from portal.domain.core.clock import Clock, today_in
from portal.domain.customers.models import Contact
from portal.domain.followups.models import Followup
from portal.domain.followups.service import report_already_paid
from portal.domain.invoicing.models import Invoice
from tests.support.disputes import contact_access, contact_context


def report_test_payment(db, clock: Clock, contact: Contact, invoices: list[Invoice], *, amount_text: str = "",
                        method: str = "wire", reference: str = "WIRE-20261130-77", days_ago: int = 1,
                        files: Uploads | None = None, access=None) -> Followup:
    """"We already paid it" for `invoices` (their whole balance unless `amount_text`)."""
    today = today_in(clock, contact.customer.timezone)
    amount = amount_text or f"{sum(invoice.total_minor for invoice in invoices) / 100:.2f}"
    return report_already_paid(
        contact_context(db, clock, contact), access or contact_access(contact),
        invoice_public_ids=[invoice.public_id for invoice in invoices], paid_on=today - timedelta(days=days_ago),
        amount_text=amount, method=method, reference=reference, note="", request_key=secrets.token_urlsafe(24),
        today=today, files=files,
    )
