"""The demo's dead letter: one reminder the outbox gave up on, for staff to see on the dashboard
and at `/admin/outbox/dead`, and to send again.

Like the reminders already sent, it is history written after the fact: queued through the
outbox a day ago, then refused by the customer's old mail server at every attempt. Its address
is on a reserved domain (`.invalid`), so sending it again fails again in the demo, which is
what a clerk would see until the address is corrected.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.customers.models import Customer
from portal.domain.notifications.rendering import RenderedEmail
from portal.domain.notifications.service import enqueue
from portal.domain.notifications.states import OutboxStatus

DEAD_ADDRESS = "accounts@old-mail.invalid"
ATTEMPTS = 10  # the outbox's default `DeliveryPolicy.max_attempts`


def write_demo_dead_letters(db: Session, clock: Clock) -> int:
    """Queue the reminder and mark it dead as the sender would have (the caller commits)."""
    customer = db.scalar(select(Customer).where(Customer.name != "Acme Corp").order_by(Customer.id).limit(1))
    if customer is None:
        return 0
    email = RenderedEmail(
        subject=f"{customer.name}: invoices overdue",
        text=f"Hello,\n\nSome invoices of {customer.name} are overdue. Open the portal to see them.\n", html="",
    )
    message = enqueue(db, clock, kind="reminder", to=DEAD_ADDRESS, email=email,
                      dedupe_key=f"demo-dead-letter-{customer.account_number}")
    message.created_at = message.next_attempt_at = clock.now() - timedelta(days=1)
    message.status = OutboxStatus.DEAD
    message.attempts = ATTEMPTS
    message.dead_at = clock.now() - timedelta(hours=2)
    message.last_error = f"(550, b'5.1.1 <{DEAD_ADDRESS}>: Recipient address rejected: User unknown')"
    db.flush()
    return 1
