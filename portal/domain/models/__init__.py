"""All models, importable from one place (Alembic reads `Base.metadata` from here)."""

from .links import AccessLink, RateLimitHit, link_invoices
from .audit import AuditEntry
from .base import Base
from .customers import Contact, Customer
from .invoices import ENTRY_SIGNS, Invoice, InvoiceEntry, InvoiceLine
from .outbox import OutboxMessage
from .payments import IN_FLIGHT_STATUSES, PAYMENT_STATUSES, Payment, PaymentAllocation, StripeEvent

__all__ = [
    "AccessLink", "AuditEntry", "Base", "Contact", "Customer", "ENTRY_SIGNS",
    "IN_FLIGHT_STATUSES", "Invoice", "InvoiceEntry", "InvoiceLine", "OutboxMessage",
    "PAYMENT_STATUSES", "Payment", "PaymentAllocation", "RateLimitHit", "StripeEvent",
    "link_invoices",
]
