"""Every area's tables on one metadata, for Alembic and the test database helpers.

Import models from their area (`portal.domain.payments.models`); this module exists so that
`Base.metadata` is complete wherever it is read.
"""

from portal.domain.apikeys.models import ApiKey
from portal.domain.access.models import AccessLink, CustomerSession, RateLimitHit, SignInLinkRequest, link_invoices
from portal.domain.attachments.models import StoredFile
from portal.domain.core.models import AuditEntry
from portal.domain.core.types import Base
from portal.domain.customers.models import Contact, Customer, CustomerTag
from portal.domain.disputes.models import (
    Dispute, DisputeAttachment, DisputeEvent, DisputeInvoice, DisputeLine, DisputeMessage, DisputeReason,
    DisputeSlaPause,
)
from portal.domain.followups.models import Followup, FollowupEvent, FollowupFile, FollowupInvoice
from portal.domain.imports.models import ErpRecord
from portal.domain.invoicing.models import Invoice, InvoiceLine, InvoiceReissue
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.methods.models import MethodSetup, SavedMethod, StripeCustomer
from portal.domain.notifications.models import OutboxAttachment, OutboxMessage
from portal.domain.payments.models import Payment, PaymentAllocation, PaymentReferenceCounter, StripeEvent
from portal.domain.plans.models import Installment, InstallmentAttempt, Plan, PlanAgreement, PlanInvoice
from portal.domain.promises.models import Promise, PromiseInvoice
from portal.domain.refunds.models import Chargeback, Refund, RefundAllocation
from portal.domain.reminders.models import CustomerReminderSettings, ReminderHoliday, ReminderSent, ReminderStep
from portal.domain.routing.models import RoutingRule
from portal.domain.staff.models import StaffMember, StaffSession, Team, TeamMembership
from portal.domain.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessLink", "ApiKey", "AuditEntry", "Base", "Contact", "Customer", "Dispute", "DisputeAttachment", "DisputeEvent",
    "DisputeInvoice", "DisputeLine", "ErpRecord", "DisputeMessage", "DisputeReason", "DisputeSlaPause", "Invoice", "InvoiceEntry",
    "CustomerSession", "InvoiceLine", "OutboxMessage", "Payment", "PaymentAllocation",
    "PaymentReferenceCounter", "Promise", "PromiseInvoice", "RateLimitHit",
    "SignInLinkRequest",
    "StoredFile", "StripeEvent", "link_invoices",
    "MethodSetup", "SavedMethod", "StripeCustomer",
    "CustomerTag", "Chargeback", "Refund", "RefundAllocation", "RoutingRule", "StaffMember", "StaffSession", "Team",
    "TeamMembership",
    "CustomerReminderSettings", "ReminderHoliday", "ReminderSent", "ReminderStep",
    "Installment", "InstallmentAttempt", "Plan", "PlanAgreement", "PlanInvoice",
    "Followup", "FollowupEvent", "FollowupFile", "FollowupInvoice",
    "InvoiceReissue", "OutboxAttachment",
    "WebhookDelivery", "WebhookEndpoint",
]
