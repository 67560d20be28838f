"""What staff change on a customer: putting it on hold and clearing the hold.

A customer on hold gets no installment plan approved at once (`plans.policy.outside_policy`):
every proposal waits for staff. Setting and clearing both need a reason (staff read it on the
plan pages); each change is one audit row with the state before and after. The route checks
the permission (`HOLD_CUSTOMERS`).
"""

from __future__ import annotations

from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.errors import DomainError, NotFound
from portal.domain.customers.models import Customer

MAX_HOLD_REASON = 500


class HoldRefused(DomainError):
    """The hold cannot be changed as asked; nothing changed."""


def set_on_hold(ctx: Context, customer: Customer | None, *, on_hold: bool, reason: str) -> Customer:
    """Put `customer` on hold (`on_hold=True`) or clear its hold, for `reason`."""
    if customer is None:
        raise NotFound("No customer has this account number.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise HoldRefused("Give a reason: other staff read it.")
    if len(reason) > MAX_HOLD_REASON:
        raise HoldRefused(f"Keep the reason under {MAX_HOLD_REASON} characters.")
    if customer.on_hold == on_hold:
        raise HoldRefused(f"{customer.name} is {'already' if on_hold else 'not'} on hold.")
    before = {"on_hold": customer.on_hold, "reason": customer.hold_reason}
    customer.on_hold, customer.hold_reason = on_hold, reason
    customer.hold_changed_by, customer.hold_changed_at = ctx.actor.id[:64], ctx.clock.now()
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "customer.hold_set" if on_hold else "customer.hold_cleared",
                 "customer", customer.public_id, before=before, after={"on_hold": on_hold, "reason": reason})
    return customer
