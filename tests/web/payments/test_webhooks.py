"""The Stripe webhook endpoint (SECURITY.md W1-W5, W7).

Payments are made through the app against localstripe (real intents, real SDK); the events
are built and signed here like Stripe's (HMAC-SHA256 over "{t}.{payload}"), because tests need
events on demand: duplicates, old ones, tampered ones.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from portal.config import ConfigError
from portal.domain.payments import service as payments_module
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import StripeEvent
from tests.support.factories import make_allocated_payment
from tests.support.fixtures.stripe import CARD_OK, intent_object, signed_headers, stripe_event
from tests.support.paying import make_company
from tests.support.paying import balance, counts, pay, payment_by_public_id, post_event


@pytest.fixture
def card_payment(signed_in, db, company, localstripe):
    """Both invoices paid in one card payment, confirmed at localstripe, not yet settled here."""
    first, second = company.invoices
    body = pay(signed_in, {first: "125.00", second: "80.00"}, localstripe.card_token(CARD_OK)).get_json()
    payment = payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1])
    assert payment.status == "processing"
    return payment


def _now(clock) -> int:
    return int(clock.now().timestamp())


def _event(payment, type: str = "payment_intent.succeeded", status: str = "succeeded", **overrides) -> bytes:
    fields = {"amount": payment.amount_minor, "currency": payment.currency}
    fields.update({k: overrides.pop(k) for k in ("amount", "currency") if k in overrides})
    obj = intent_object(payment.stripe_payment_intent_id, status, fields["amount"], fields["currency"],
                        livemode=overrides.pop("livemode", False), metadata=overrides.pop("metadata", None),
                        failure_message=overrides.pop("failure_message", ""))
    return stripe_event(type, obj, **overrides)


def _settled(db, company) -> list[int]:
    return [balance(db, invoice) for invoice in company.invoices]


# --- W1: forged or tampered -----------------------------------------------------------------


def test_forged_or_tampered_webhooks_are_refused(client, db, clock, company, card_payment):
    payload = _event(card_payment, created=_now(clock))
    good = signed_headers(payload, _now(clock))
    flipped = bytearray(payload)
    flipped[payload.index(b'"amount": ') + 10] ^= 0x01  # one byte of the amount
    reserialized = json.dumps(json.loads(payload), separators=(",", ":")).encode()
    before = counts(db)

    attempts = [
        (payload, {"Content-Type": "application/json"}),  # no signature header
        (payload, signed_headers(payload, _now(clock), secret="whsec_wrong")),
        (bytes(flipped), good),
        (reserialized, good),  # same JSON, other bytes
        (payload, {"Stripe-Signature": f"t={_now(clock)}"}),  # no v1
        (payload, {"Stripe-Signature": good["Stripe-Signature"].replace("v1=", "v0=")}),
    ]
    for body, headers in attempts:
        response = client.post("/stripe/webhook", data=body, headers=headers)
        assert response.status_code == 400, headers
    assert counts(db) == before
    assert payment_by_public_id(db, card_payment.public_id).status == "processing"
    assert client.post("/stripe/webhook", data=payload, headers=good).status_code == 200


def test_every_configured_secret_is_accepted_during_rotation(make_app, db, clock, company, card_payment):
    app = make_app(stripe_webhook_secrets=("whsec_new_secret", "whsec_test_portal_secret"))
    client = app.test_client()
    payload = _event(card_payment, created=_now(clock))
    response = client.post("/stripe/webhook", data=payload,
                           headers=signed_headers(payload, _now(clock), secret="whsec_new_secret"))
    assert response.status_code == 200
    assert _settled(db, company) == [0, 0]


def test_webhook_needs_no_session_and_no_csrf_token(app, db, clock, company, card_payment):
    fresh_client = app.test_client()  # nobody signed in
    payload = _event(card_payment, created=_now(clock))
    assert post_event(fresh_client, payload, _now(clock)).status_code == 200


# --- W2: replay ---------------------------------------------------------------------------------


def test_signature_older_than_the_tolerance_is_refused(client, db, clock, company, card_payment):
    payload = _event(card_payment, created=_now(clock) - 400)
    assert post_event(client, payload, _now(clock) - 301).status_code == 400
    assert post_event(client, payload, _now(clock) + 301).status_code == 400
    assert _settled(db, company) == [12_500, 8_000]
    assert post_event(client, payload, _now(clock) - 299).status_code == 200
    assert _settled(db, company) == [0, 0]


def test_tolerance_must_be_positive(settings):
    for tolerance in (0, -1):
        with pytest.raises(ConfigError):
            settings.with_changes(stripe_webhook_tolerance=tolerance)


# --- W3: duplicates ------------------------------------------------------------------------------


def test_same_event_twice_settles_once_and_sends_one_receipt(client, db, clock, company, card_payment):
    payload = _event(card_payment, created=_now(clock))
    first = post_event(client, payload, _now(clock))
    second = post_event(client, payload, _now(clock) + 60)  # Stripe's retry, signed again
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json()["duplicate"] is True
    assert _settled(db, company) == [0, 0]
    assert len(db.scalars(select(InvoiceEntry).where(InvoiceEntry.kind == "payment")).all()) == 2
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


def test_two_events_for_one_success_settle_once(client, db, clock, company, card_payment):
    """Stripe may send different events (ids) that report the same success."""
    for _ in range(2):
        assert post_event(client, _event(card_payment, created=_now(clock)), _now(clock)).status_code == 200
    assert _settled(db, company) == [0, 0]
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


@pytest.mark.postgres_only
def test_same_event_delivered_twice_at_once_settles_once(app, db, clock, company, card_payment, monkeypatch):
    """The second delivery's insert of the event id waits for the first transaction, then
    fails on the primary key: one settlement, one receipt, both answered 200."""
    real_queue_receipt = payments_module.queue_receipt

    def slow_queue_receipt(*args, **kwargs):
        time.sleep(0.3)  # hold the first transaction open while the second arrives
        return real_queue_receipt(*args, **kwargs)

    monkeypatch.setattr(payments_module, "queue_receipt", slow_queue_receipt)
    payload = _event(card_payment, created=_now(clock))
    start = threading.Barrier(2)

    def deliver(_):
        client = app.test_client()
        start.wait()
        return post_event(client, payload, _now(clock))

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(deliver, range(2)))
    assert sorted(r.status_code for r in responses) == [200, 200]
    assert sorted(r.get_json()["duplicate"] for r in responses) == [False, True]
    assert _settled(db, company) == [0, 0]
    assert len(db.scalars(select(InvoiceEntry).where(InvoiceEntry.kind == "payment")).all()) == 2
    assert len(db.scalars(select(OutboxMessage)).all()) == 1
    assert len(db.scalars(select(StripeEvent)).all()) == 1


# --- W4: out of order ---------------------------------------------------------------------------


def test_succeeded_then_processing_then_older_failed_stays_paid(client, db, clock, company, card_payment, localstripe):
    now = _now(clock)
    succeeded = post_event(client, _event(card_payment, created=now), now)
    late_processing = post_event(client, _event(card_payment, "payment_intent.processing", "processing",
                                                created=now - 5), now)
    old_failure = post_event(client, _event(card_payment, "payment_intent.payment_failed", "requires_payment_method",
                                            failure_message="Your card was declined.", created=now - 10), now)
    assert [r.status_code for r in (succeeded, late_processing, old_failure)] == [200, 200, 200]
    assert succeeded.get_json()["outcome"] == "processing -> succeeded"
    assert late_processing.get_json()["outcome"].startswith("ignored: stale")
    assert old_failure.get_json()["outcome"].startswith("ignored: stale")
    payment = payment_by_public_id(db, card_payment.public_id)
    assert payment.status == "succeeded" and payment.failure_message == ""
    assert _settled(db, company) == [0, 0]
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


def test_a_backward_event_makes_us_read_stripe_and_apply_what_it_says(client, db, clock, company, card_payment):
    """processing -> requires_action is not a move; Stripe (localstripe) says succeeded."""
    now = _now(clock)
    response = post_event(client, _event(card_payment, "payment_intent.requires_action", "requires_action",
                                         created=now), now)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "re-read from Stripe: processing -> succeeded"
    assert _settled(db, company) == [0, 0]


# --- W5: crash half-way -------------------------------------------------------------------------


def test_fault_after_the_ledger_write_commits_nothing_and_redelivery_applies_once(
        client, db, clock, company, card_payment, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("injected fault after the ledger entries were written")

    monkeypatch.setattr(payments_module, "queue_receipt", crash)
    payload = _event(card_payment, created=_now(clock))
    before = counts(db)
    response = post_event(client, payload, _now(clock))
    assert response.status_code == 500
    assert counts(db) == before  # no entries, no event id, no audit row
    assert payment_by_public_id(db, card_payment.public_id).status == "processing"

    monkeypatch.undo()
    assert post_event(client, payload, _now(clock)).get_json()["outcome"] == "processing -> succeeded"
    assert post_event(client, payload, _now(clock)).get_json()["duplicate"] is True
    assert _settled(db, company) == [0, 0]
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


# --- W7: payload fields are not trusted ----------------------------------------------------------


def test_metadata_naming_another_company_moves_no_money_of_theirs(client, db, clock, company, card_payment, localstripe):
    other = make_company(db, clock, 9_900)
    theirs = make_allocated_payment(db, clock, other.customer, [(other.invoices[0], 9_900)], status="processing")
    theirs.stripe_payment_intent_id = "pi_theirs000000001"
    db.commit()
    metadata = {"portal_payment": theirs.public_id, "invoice": other.invoices[0].public_id,
                "customer": other.customer.account_number}

    # Our intent, their names in the metadata: our allocations settle, theirs are untouched.
    response = post_event(client, _event(card_payment, metadata=metadata, created=_now(clock)), _now(clock))
    assert response.get_json()["outcome"] == "processing -> succeeded"
    assert _settled(db, company) == [0, 0]
    # An intent we never stored, naming their payment: ignored.
    stranger = intent_object("pi_stranger0000001", "succeeded", 9_900, "usd", metadata=metadata)
    response = post_event(client, stripe_event("payment_intent.succeeded", stranger, created=_now(clock)), _now(clock))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored: unknown payment intent"
    assert balance(db, other.invoices[0]) == 9_900
    assert payment_by_public_id(db, theirs.public_id).status == "processing"


@pytest.mark.parametrize(
    ("overrides", "outcome"),
    [
        ({"amount": 20_499}, "ignored: amount 20499 where 20500 expected"),
        ({"amount": 20_501}, "ignored: amount 20501 where 20500 expected"),
        ({"currency": "EUR"}, "ignored: currency EUR where USD expected"),
        ({"livemode": True}, "ignored: livemode mismatch"),
    ],
)
def test_mismatching_amount_currency_or_livemode_is_ignored(client, db, clock, company, card_payment, overrides, outcome):
    before = counts(db)
    response = post_event(client, _event(card_payment, created=_now(clock), **overrides), _now(clock))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == outcome
    after = counts(db)
    assert after["events"] == before["events"] + 1  # recorded, so a redelivery is not re-examined
    assert (after["entries"], after["outbox"]) == (before["entries"], before["outbox"])
    assert payment_by_public_id(db, card_payment.public_id).status == "processing"


# Refund and dispute events are applied (tests/web/refunds); a type of theirs Stripe may add
# later is not acknowledged as handled.
@pytest.mark.parametrize("type", ["charge.dispute.a_future_event", "refund.a_future_event"])
def test_money_moving_events_not_handled_yet_are_kept_unprocessed_for_replay(client, db, clock, company, caplog, type):
    payload = stripe_event(type, {"id": "ch_x", "object": "charge", "amount_refunded": 500}, created=_now(clock))
    response = post_event(client, payload, _now(clock))
    assert response.status_code == 200  # Stripe must not retry forever
    assert response.get_json()["outcome"].startswith(f"unprocessed: {type}")
    [event] = db.scalars(select(StripeEvent)).all()
    assert event.outcome.startswith("unprocessed:") and event.payload == payload.decode()
    assert any(r.levelname == "WARNING" and "UNPROCESSED" in r.getMessage() for r in caplog.records)
    # Delivered again: still one record, no second warning-worthy effect.
    assert post_event(client, payload, _now(clock)).get_json()["duplicate"] is True


def test_charge_refunded_is_followed_through_the_refund_events(client, db, clock, company):
    payload = stripe_event("charge.refunded", {"id": "ch_x", "object": "charge", "amount_refunded": 500},
                           created=_now(clock))
    response = post_event(client, payload, _now(clock))
    assert response.get_json()["outcome"] == "ignored: refunds are followed through their refund.* events"
    [event] = db.scalars(select(StripeEvent)).all()
    assert event.payload is None


def test_unknown_event_types_are_recorded_and_ignored(client, db, clock, company, card_payment):
    for type in ("customer.created", "payment_intent.created"):
        payload = stripe_event(type, {"id": "ch_x", "object": "charge"}, created=_now(clock))
        response = post_event(client, payload, _now(clock))
        assert response.status_code == 200
        assert response.get_json()["outcome"].startswith("ignored")
        clock.advance(seconds=1)  # received one after the other: the order below is theirs, not a tie
    assert _settled(db, company) == [12_500, 8_000]
    assert [e.outcome for e in db.scalars(select(StripeEvent).order_by(StripeEvent.received_at)).all()] == [
        "ignored: customer.created is not handled",
        "ignored: payment_intent.created is not handled",
    ]


def test_event_for_an_attempt_still_storing_its_intent_is_deferred(client, db, clock, company):
    """Stripe may report success before our create call stored the intent id: 503, nothing
    recorded, so Stripe delivers it again (or reconciliation finds it)."""
    attempt = make_allocated_payment(db, clock, company.customer, [(company.invoices[0], 12_500)], status="new")
    obj = intent_object("pi_notstoredyet0001", "succeeded", 12_500, "usd", metadata={"portal_payment": attempt.public_id})
    before = counts(db)
    response = post_event(client, stripe_event("payment_intent.succeeded", obj, created=_now(clock)), _now(clock))
    assert response.status_code == 503
    assert counts(db) == before
