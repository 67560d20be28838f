"""L1: every step that moves money leaves one audit row saying who, what, when and where."""

from __future__ import annotations

from datetime import datetime, UTC

from sqlalchemy import select

from portal.domain.core.models import AuditEntry
from tests.support.factories import sign_in
from tests.support.fixtures.stripe import CARD_DECLINED, CARD_OK, stripe_event
from tests.support.paying import make_company
from tests.support.paying import pay, payment_by_public_id, post_event


def _trail(db, public_id: str) -> list[AuditEntry]:
    db.commit()
    db.expire_all()
    return db.scalars(select(AuditEntry).where(AuditEntry.object_type == "payment",
                                               AuditEntry.object_id == public_id)
                      .order_by(AuditEntry.id)).all()


def test_a_settled_card_payment_has_one_row_per_step(client, db, clock, localstripe):
    clock.set(datetime.now(UTC))
    company = make_company(db, clock, 12_500)
    sign_in(client, company.clerk, clock)
    response = pay(client, {company.invoices[0]: "125.00"}, localstripe.card_token(CARD_OK))
    public_id = response.get_json()["payment_url"].rsplit("/", 1)[1]
    [event] = localstripe.events("payment_intent.succeeded")
    post_event(client, stripe_event("payment_intent.succeeded", event["data"]["object"],
                                    event_id=event["id"], created=event["created"]), event["created"])
    # A replayed delivery adds nothing to the trail.
    post_event(client, stripe_event("payment_intent.succeeded", event["data"]["object"],
                                    event_id=event["id"], created=event["created"]), event["created"])

    trail = _trail(db, public_id)
    assert [row.action for row in trail] == ["payment.started", "payment.confirmed", "payment.succeeded"]
    started, confirmed, succeeded = trail
    assert (started.actor_type, started.actor_id) == ("contact", company.clerk.public_id)
    assert started.ip == "127.0.0.1"
    assert started.after["amount_minor"] == 12_500 and started.after["currency"] == "USD"
    assert confirmed.after["intent"] == payment_by_public_id(db, public_id).stripe_payment_intent_id
    assert succeeded.actor_type == "stripe"
    assert succeeded.before["status"] != succeeded.after["status"] == "succeeded"
    assert all(row.occurred_at.tzinfo is not None for row in trail)


def test_a_decline_is_on_the_trail_too(client, db, clock, localstripe):
    company = make_company(db, clock, 12_500)
    sign_in(client, company.clerk, clock)
    response = pay(client, {company.invoices[0]: "125.00"}, localstripe.card_token(CARD_DECLINED))
    public_id = response.get_json()["payment_url"].rsplit("/", 1)[1]
    assert [row.action for row in _trail(db, public_id)] == ["payment.started", "payment.declined"]
