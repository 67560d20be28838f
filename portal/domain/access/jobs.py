"""Scheduled access work: resolving "email me a sign-in link" requests (SECURITY.md A5, A15).

The web request only records the address (`service.record_sign_in_link_request`); this looks
it up and queues one sign-in email per company the address is a contact of (in the contact's
language, else the one the visitor asked in, else English), in the same transaction that marks
the request resolved. The outbox sender runs it before each delivery round; several senders
share the work on PostgreSQL (`FOR UPDATE SKIP LOCKED`), and on SQLite the writing transaction
serializes them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access.models import SignInLinkRequest
from portal.domain.access.service import request_sign_in_links
from portal.domain.access.tokens import LinkSigner
from portal.domain.core.clock import Clock
from portal.domain.notifications.rendering import SupplierDetails


def resolve_sign_in_link_requests(
    db: Session, clock: Clock, signer: LinkSigner, supplier: SupplierDetails, *, limit: int = 100,
) -> int:
    """Resolve up to `limit` pending requests, oldest first; returns how many emails were
    queued. The caller commits (the command runner)."""
    pending = db.scalars(
        select(SignInLinkRequest).where(SignInLinkRequest.resolved_at.is_(None))
        .order_by(SignInLinkRequest.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    queued = 0
    for request in pending:
        queued += request_sign_in_links(db, clock, signer, supplier, email=request.email,
                                        next_path=request.next_path, language=request.language)
        request.resolved_at = clock.now()
    db.flush()
    return queued
