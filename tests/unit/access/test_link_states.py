"""A link's state, derived from its row: revoked before used before expired before active."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest

from portal.domain.access.policy import INVOICE, SIGN_IN
from portal.domain.access.states import LINK_TRANSITIONS, LinkState, link_state

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
EARLIER, LATER = NOW - timedelta(minutes=1), NOW + timedelta(minutes=1)


@pytest.mark.parametrize(("purpose", "revoked_at", "used_at", "expires_at", "state"), [
    (SIGN_IN, None, None, LATER, LinkState.ACTIVE),
    (SIGN_IN, None, EARLIER, LATER, LinkState.USED),
    (SIGN_IN, None, None, NOW, LinkState.EXPIRED),  # the expiry instant itself is expired
    (SIGN_IN, None, EARLIER, EARLIER, LinkState.USED),  # used wins over expired
    (SIGN_IN, EARLIER, EARLIER, EARLIER, LinkState.REVOKED),  # revoked wins over everything
    (INVOICE, None, EARLIER, LATER, LinkState.ACTIVE),  # invoice links stay usable after use
    (INVOICE, None, EARLIER, EARLIER, LinkState.EXPIRED),
    (INVOICE, EARLIER, None, LATER, LinkState.REVOKED),
])
def test_state_from_the_row(purpose, revoked_at, used_at, expires_at, state):
    assert link_state(purpose=purpose, revoked_at=revoked_at, used_at=used_at, expires_at=expires_at,
                      now=NOW) is state


def test_only_an_active_link_can_still_be_used_and_nothing_comes_back():
    assert {s for s in LinkState if LINK_TRANSITIONS.can_move(s, LinkState.USED)} == {LinkState.ACTIVE}
    assert not any(LINK_TRANSITIONS.can_move(s, LinkState.ACTIVE) for s in LinkState)
