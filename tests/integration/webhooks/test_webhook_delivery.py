"""Outgoing webhooks, end to end against a real HTTP server on 127.0.0.1: queued with the
ledger entry in the same transaction, carrying the export's row, signed, retried with backoff,
dead after the last attempt, never sent with a transaction open, and sent once per event
however many senders run."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.database import writing_session
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.exports.queries import CashCursor, cash_since
from portal.domain.invoicing.service import issue_credit_note
from portal.domain.webhooks.jobs import deliver_due
from portal.domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from portal.domain.webhooks.policy import DeliveryPolicy
from portal.domain.webhooks.service import set_endpoint_enabled
from portal.domain.webhooks.transport import HttpWebhookTransport
from tests.integration.exports.test_cash_export import _imported, _settle
from tests.support.factories import add_invoice_entry, make_customer, make_invoice
from tests.support.webhooks import FAST, add_test_endpoint, deliveries, local_transport, signature_is_valid


def test_a_rolled_back_entry_queues_nothing_and_a_committed_one_queues_once_per_endpoint(
        db, clock, webhook_receiver, session_factory):
    add_test_endpoint(db, clock, webhook_receiver.url_for("/a"))
    add_test_endpoint(db, clock, webhook_receiver.url_for("/b"))
    invoice = make_invoice(db, clock, make_customer(db, clock))
    db.commit()
    assert deliveries(db) == []  # `issued` is no cash row

    add_invoice_entry(db, clock, invoice, "credit_note", -500, reference="CN-9")
    # Queued in the caller's transaction, not yet visible to anyone else.
    with session_factory() as other:
        assert other.scalars(select(WebhookDelivery)).all() == []
    db.rollback()
    assert deliveries(db) == []
    assert deliver_due(db, clock, local_transport(), policy=FAST).handled == 0
    assert webhook_receiver.requests == []

    add_invoice_entry(db, clock, invoice, "credit_note", -500, reference="CN-9")
    db.commit()
    queued = deliveries(db)
    assert len(queued) == 2 and len({d.event_id for d in queued}) == 1


def test_the_payload_is_the_export_row_and_the_signature_verifies(db, clock, webhook_receiver):
    created = add_test_endpoint(db, clock, webhook_receiver.url_for())
    invoice = _imported(db, clock)  # its credit note, written by the import through invoicing
    payment = _settle(db, clock, invoice, 6_000)
    add_invoice_entry(db, clock, invoice, "refund", 1_000, payment_id=payment.id, reference="re_1")
    issue_credit_note(db, invoice_id=invoice.id, amount=Money(250, "USD"), at=clock.now(), reference="=CN-2")
    db.commit()

    report = deliver_due(db, clock, local_transport(), policy=FAST)
    assert (report.delivered, report.retrying, report.dead) == (4, 0, 0)
    rows = cash_since(db, CashCursor()).rows
    assert len(webhook_receiver.requests) == len(rows) == 4
    for request, row in zip(webhook_receiver.requests, rows, strict=True):
        valid, timestamp = signature_is_valid(created.secret, request.headers["Portal-Signature"], request.body)
        assert valid and timestamp == int(clock.now().timestamp())
        event = json.loads(request.body)
        assert request.headers["Portal-Event-Id"] == event["id"] == f"{row.reference}.{row.kind}"
        assert request.headers["Portal-Event-Type"] == event["type"] == f"cash.{row.kind}"
        assert request.headers["Content-Type"] == "application/json"
        assert event["created_at"] == clock.now().isoformat()
        data = event["data"]
        assert set(data) == {"reference", "cursor", "kind", "occurred_at", "customer_account", "customer_erp_id",
                             "invoice_number", "invoice_erp_id", "currency", "amount", "amount_minor",
                             "payment_reference", "payment_method", "document"}
        # The export's cells, but amounts as numbers too and text as typed (no apostrophe).
        cells = dict(zip(("reference", "cursor", "kind", "occurred_at", "customer_account", "customer_erp_id",
                          "invoice_number", "invoice_erp_id", "currency", "amount", "amount_minor",
                          "payment_reference", "payment_method"), row.cells(), strict=False))
        assert {key: str(value) for key, value in data.items() if key in cells} == cells
        assert data["document"] == row.document
    assert [json.loads(r.body)["data"]["kind"] for r in webhook_receiver.requests] == [
        "credit_note", "payment", "refund", "credit_note"]
    assert json.loads(webhook_receiver.requests[3].body)["data"]["document"] == "=CN-2"
    assert {d.status for d in deliveries(db)} == {"delivered"}
    # Nothing is sent twice.
    assert deliver_due(db, clock, local_transport(), policy=FAST).handled == 0
    assert len(webhook_receiver.requests) == 4


def test_only_the_subscribed_types_are_queued(db, clock, webhook_receiver):
    add_test_endpoint(db, clock, webhook_receiver.url_for(), event_types=["cash.refund"])
    invoice = make_invoice(db, clock, make_customer(db, clock))
    add_invoice_entry(db, clock, invoice, "credit_note", -100)
    add_invoice_entry(db, clock, invoice, "refund", 100)
    db.commit()
    assert [d.event_type for d in deliveries(db)] == ["cash.refund"]


def _one_queued(db, clock, url: str):
    created = add_test_endpoint(db, clock, url)
    add_invoice_entry(db, clock, make_invoice(db, clock, make_customer(db, clock)), "credit_note", -100)
    db.commit()
    return created


def test_a_500_is_retried_with_backoff_then_delivered(db, clock, webhook_receiver):
    _one_queued(db, clock, webhook_receiver.url_for())
    webhook_receiver.statuses = [500, 503]
    assert deliver_due(db, clock, local_transport(), policy=FAST).retrying == 1
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.next_attempt_at == clock.now() + timedelta(minutes=1) and "HTTP 500" in delivery.last_error
    # Not due yet: nothing is sent.
    assert deliver_due(db, clock, local_transport(), policy=FAST).handled == 0
    clock.advance(minutes=1)
    assert deliver_due(db, clock, local_transport(), policy=FAST).retrying == 1
    assert deliveries(db)[0].next_attempt_at == clock.now() + timedelta(minutes=2)
    clock.advance(minutes=2)
    assert deliver_due(db, clock, local_transport(), policy=FAST).delivered == 1
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status, delivery.last_error) == (
        "delivered", 3, 200, "")
    ids = {r.headers["Portal-Event-Id"] for r in webhook_receiver.requests}
    assert len(webhook_receiver.requests) == 3 and len(ids) == 1  # the receiver's idempotency key


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(db, clock, webhook_receiver):
    _one_queued(db, clock, webhook_receiver.url_for())
    webhook_receiver.hold.set()  # it never answers until released
    report = deliver_due(db, clock, local_transport(timeout=0.3), policy=FAST)
    assert report.retrying == 1 and len(webhook_receiver.requests) == 1
    [delivery] = deliveries(db)
    assert delivery.status == "pending" and delivery.last_status is None
    assert "no answer within 0.3 s" in delivery.last_error


def test_after_the_last_attempt_it_is_dead(db, clock, webhook_receiver):
    _one_queued(db, clock, webhook_receiver.url_for())
    webhook_receiver.default_status = 500
    reports = []
    for _ in range(FAST.max_attempts):
        reports.append(deliver_due(db, clock, local_transport(), policy=FAST))
        clock.advance(hours=1)
    assert [(r.retrying, r.dead) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.dead_at) == ("dead", 3, clock.now() - timedelta(hours=1))
    assert deliver_due(db, clock, local_transport(), policy=FAST).handled == 0
    assert len(webhook_receiver.requests) == FAST.max_attempts


def test_a_redirect_is_not_followed(db, clock, webhook_receiver):
    _one_queued(db, clock, webhook_receiver.url_for("/old"))
    webhook_receiver.statuses = [302]
    webhook_receiver.extra_headers = {"Location": webhook_receiver.url_for("/new")}
    assert deliver_due(db, clock, local_transport(), policy=FAST).retrying == 1
    assert [r.path for r in webhook_receiver.requests] == ["/old"]
    assert deliveries(db)[0].last_status == 302


def test_a_disabled_endpoint_gets_nothing(db, clock, webhook_receiver):
    created = _one_queued(db, clock, webhook_receiver.url_for())  # queued while enabled
    ctx = Context(db, clock, Actor("staff", "test-admin"))
    set_endpoint_enabled(ctx, created.endpoint.public_id, False)
    db.commit()
    add_invoice_entry(db, clock, make_invoice(db, clock, make_customer(db, clock)), "credit_note", -100)
    db.commit()
    assert len(deliveries(db)) == 1  # nothing new queued for it
    assert deliver_due(db, clock, local_transport(), policy=FAST).handled == 0
    assert webhook_receiver.requests == []
    # Enabled again, what was queued before goes out.
    set_endpoint_enabled(ctx, created.endpoint.public_id, True)
    db.commit()
    assert deliver_due(db, clock, local_transport(), policy=FAST).delivered == 1


def test_no_transaction_is_open_while_the_endpoint_answers(db, clock, webhook_receiver, session_factory, db_kind):
    """While the receiver holds the POST, another writer changes the very delivery row: on
    SQLite it takes the database's write lock (a sender holding it would make this wait and
    fail); on PostgreSQL it locks the row with NOWAIT (a sender's open claim would refuse it)."""
    _one_queued(db, clock, webhook_receiver.url_for())
    [delivery] = deliveries(db)
    db.commit()
    webhook_receiver.hold.set()
    outcome = {}

    def send() -> None:
        with writing_session(session_factory) as sender_db:
            outcome["report"] = deliver_due(sender_db, clock, local_transport(), policy=FAST)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert webhook_receiver.arrived.wait(timeout=10)
        with writing_session(session_factory) as writer:
            if db_kind == "sqlite":
                writer.execute(text("PRAGMA busy_timeout = 200"))
            else:
                writer.execute(text("SET LOCAL lock_timeout = '200ms'"))
                writer.execute(select(WebhookDelivery.id).where(WebhookDelivery.id == delivery.id)
                               .with_for_update(nowait=True))
            writer.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id)
                           .values(last_error="touched while the POST was open"))
            writer.commit()
    except OperationalError as locked:  # pragma: no cover - the failure this test is for
        pytest.fail(f"a transaction was open during the POST: {locked}")
    finally:
        webhook_receiver.release.set()
        sender.join(timeout=30)
    assert outcome["report"].delivered == 1
    assert deliveries(db)[0].status == "delivered"


def test_production_refuses_a_host_that_resolves_to_a_private_address(db, clock, webhook_receiver):
    """DNS may answer a loopback address for a public-looking name: the sender checks what it
    resolved before connecting, and never connects."""
    created = _one_queued(db, clock, webhook_receiver.url_for())
    db.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == created.endpoint.id)
               .values(url="https://erp.example.com/hooks"))
    db.commit()
    asked = []

    def resolver(host, port):
        asked.append((host, port))
        return ["127.0.0.1"]

    transport = HttpWebhookTransport(mode="production", timeout=2, resolver=resolver)
    assert deliver_due(db, clock, transport, policy=FAST).dead == 1
    assert asked == [("erp.example.com", 443)] and webhook_receiver.requests == []
    [delivery] = deliveries(db)
    assert delivery.status == "dead" and "127.0.0.1" in delivery.last_error


def test_the_send_webhooks_command_delivers_what_is_due(app, db, clock, webhook_receiver):
    _one_queued(db, clock, webhook_receiver.url_for())
    result = app.test_cli_runner().invoke(args=["send-webhooks"])
    assert result.exit_code == 0, result.output
    assert "1 delivered, 0 to retry, 0 dead" in result.output
    assert len(webhook_receiver.requests) == 1


EVENTS = 30
SENDERS = 4


@pytest.mark.postgres_only
def test_concurrent_senders_deliver_each_event_once(db, clock, webhook_receiver, session_factory):
    add_test_endpoint(db, clock, webhook_receiver.url_for())
    customer = make_customer(db, clock)
    for _ in range(EVENTS):
        add_invoice_entry(db, clock, make_invoice(db, clock, db.get(Customer, customer.id)), "credit_note", -100)
    db.commit()
    start = threading.Barrier(SENDERS)
    errors: list[BaseException] = []
    policy = DeliveryPolicy(batch_size=3, max_attempts=3)

    def sender() -> None:
        try:
            start.wait()
            with writing_session(session_factory) as sender_db:
                while deliver_due(sender_db, clock, local_transport(), policy=policy).handled:
                    pass
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    ids = [r.headers["Portal-Event-Id"] for r in webhook_receiver.requests]
    assert len(ids) == EVENTS and len(set(ids)) == EVENTS
    assert {d.status for d in deliveries(db)} == {"delivered"}
