"""Dead letters: a message the outbox gave up on is listed for staff, and a retry (audited)
gives it a fresh set of attempts, after which the real sender delivers it to a real SMTP
server. Only a dead message can be retried."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.errors import InvalidTransition, NotFound
from portal.domain.core.models import AuditEntry
from portal.domain.notifications.jobs import deliver_due
from portal.domain.notifications.queries import DEAD_PAGE_SIZE, MAX_DEAD_PAGE, dead_letters, dead_message_count
from portal.domain.notifications.service import retry_dead_message
from tests.integration.notifications.test_outbox import (
    MAIL_FROM, POLICY, closed_port_transport, queue, reload, smtp_transport,
)

STAFF = Actor("staff", "st_supervisor", "127.0.0.1")


def kill(db, clock, message):
    """Every attempt fails (SMTP down) until the outbox gives up."""
    for _ in range(POLICY.max_attempts):
        deliver_due(db, clock, closed_port_transport(), mail_from=MAIL_FROM, policy=POLICY)
        clock.set(reload(db, message).next_attempt_at)
    assert reload(db, message).status == "dead"


def test_a_retried_dead_message_is_sent_by_the_outbox(db, clock, smtp_sink):
    message = queue(db, clock, to="ap@acme.example")
    kill(db, clock, message)
    [listed] = dead_letters(db).items
    assert (listed.kind, listed.to_address, listed.attempts) == ("receipt", "ap@acme.example", POLICY.max_attempts)
    assert listed.last_error and listed.dead_at is not None

    retry_dead_message(Context(db, clock, STAFF), message.id)
    db.commit()
    retried = reload(db, message)
    assert (retried.status, retried.attempts, retried.dead_at, retried.last_error) == ("pending", 0, None, "")
    assert retried.next_attempt_at == clock.now()
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retried")).all()
    assert (entry.actor_id, entry.object_id) == ("st_supervisor", str(message.id))
    assert entry.before["status"] == "dead" and entry.before["attempts"] == POLICY.max_attempts
    assert dead_message_count(db) == 0

    report = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)
    assert report.sent == 1
    [mail] = smtp_sink.wait_for(1)
    assert mail.to == "ap@acme.example"
    assert reload(db, message).status == "sent"


def test_only_a_dead_message_can_be_retried(db, clock, smtp_sink):
    pending = queue(db, clock)
    with pytest.raises(InvalidTransition):
        retry_dead_message(Context(db, clock, STAFF), pending.id)
    db.rollback()
    deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)
    with pytest.raises(InvalidTransition):
        retry_dead_message(Context(db, clock, STAFF), pending.id)  # sent
    db.rollback()
    with pytest.raises(NotFound):
        retry_dead_message(Context(db, clock, STAFF), 987_654)
    db.rollback()
    assert db.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retried")).all() == []


def test_the_list_is_paged_and_bounded(db, clock):
    messages = [queue(db, clock, to=f"clerk{n}@acme.example") for n in range(DEAD_PAGE_SIZE + 1)]
    for message in messages:
        message.status = "dead"
    db.commit()
    first, second = dead_letters(db, 1), dead_letters(db, 2)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (DEAD_PAGE_SIZE + 1, 2, DEAD_PAGE_SIZE, 1)
    assert second.items[0].to_address == "clerk0@acme.example"  # newest first
    assert dead_letters(db, 10**9).page == MAX_DEAD_PAGE and dead_letters(db, -3).page == 1
