"""Writing the append-only audit log (SECURITY.md L1)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.domain.core.clock import Clock
from portal.domain.core.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who is acting: a customer contact, a staff member, the system or Stripe."""

    type: str
    id: str = ""
    ip: str = ""

    @classmethod
    def system(cls, what: str = "") -> Actor:
        return cls("system", what)


STRIPE = Actor("stripe", "webhook")


def record(
    db: Session,
    clock: Clock,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        occurred_at=clock.now(), actor_type=actor.type, actor_id=actor.id, ip=actor.ip,
        action=action, object_type=object_type, object_id=object_id, before=before, after=after,
    )
    db.add(entry)
    return entry
