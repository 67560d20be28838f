"""What every domain call is given: the session, the clock and who is acting.

The web glue and the command runner build one `Context` per request or command; they, not the
domain, commit it (see `core.database.commit_before_outside_call` for the one exception).
Collaborators (the gateway, the link signer, the supplier's details) are passed by name to the
functions that need them, never hidden in here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock


@dataclass(frozen=True)
class Context:
    db: Session
    clock: Clock
    actor: Actor
