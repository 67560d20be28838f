"""The promise status vocabulary and its transition table, named once.

    open ──► kept        (every promised invoice paid by the date plus the grace period)
      ├────► broken      (the date plus the grace period passed with money still owed)
      └────► cancelled   (the customer took it back before it was decided)

Moving the promised date keeps a promise open (it is not a status change; the number of moves
is limited by `policy.MAX_MOVES`). A broken promise stays broken when the money comes later:
staff count it as broken, and the invoices are simply paid.
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.locales import N_
from portal.domain.core.states import Transitions


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


S = PromiseStatus

PROMISE_TRANSITIONS = Transitions("promise", PromiseStatus, {
    S.OPEN: {S.KEPT, S.BROKEN, S.CANCELLED},
    S.KEPT: set(),
    S.BROKEN: set(),
    S.CANCELLED: set(),
})

FINAL = PROMISE_TRANSITIONS.final

STATUS_LABELS: dict[PromiseStatus, str] = {
    S.OPEN: N_("Promised"),
    S.KEPT: N_("Kept"),
    S.BROKEN: N_("Broken"),
    S.CANCELLED: N_("Cancelled"),
}

# The badge style each status is shown with (the portal's badge classes).
STATUS_BADGES: dict[PromiseStatus, str] = {S.OPEN: "open", S.KEPT: "paid", S.BROKEN: "overdue", S.CANCELLED: "partial"}


class PaymentMethod(StrEnum):
    """How the customer says they will pay (what they told us, not a payment we take)."""

    WIRE = "wire"
    ACH = "ach"
    CHECK = "check"
    CARD = "card"


METHOD_LABELS: dict[PaymentMethod, str] = {
    PaymentMethod.WIRE: N_("Wire transfer"),
    PaymentMethod.ACH: N_("ACH bank transfer"),
    PaymentMethod.CHECK: N_("Check"),
    PaymentMethod.CARD: N_("Card, in this portal"),
}
