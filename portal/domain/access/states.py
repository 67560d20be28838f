"""The link state vocabulary and its transition table.

A link's state is derived from its row (revoked_at, used_at, expires_at and the clock), in
this order of precedence: revoked, used (sign-in links only: an invoice link stays usable),
expired, active. Revoking withdraws every link of a contact whatever its state; time only
ever moves an active link to expired.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from portal.domain.access.policy import SIGN_IN
from portal.domain.core.states import Transitions


class LinkState(StrEnum):
    ACTIVE = "active"
    USED = "used"  # a sign-in link that signed someone in; it works once
    EXPIRED = "expired"
    REVOKED = "revoked"  # withdrawn by staff


LINK_TRANSITIONS = Transitions("link", LinkState, {
    LinkState.ACTIVE: {LinkState.USED, LinkState.EXPIRED, LinkState.REVOKED},
    LinkState.USED: {LinkState.REVOKED},
    LinkState.EXPIRED: {LinkState.REVOKED},
    LinkState.REVOKED: set(),
})


def link_state(*, purpose: str, revoked_at: datetime | None, used_at: datetime | None, expires_at: datetime,
               now: datetime) -> LinkState:
    if revoked_at is not None:
        return LinkState.REVOKED
    if purpose == SIGN_IN and used_at is not None:
        return LinkState.USED
    if expires_at <= now:
        return LinkState.EXPIRED
    return LinkState.ACTIVE
