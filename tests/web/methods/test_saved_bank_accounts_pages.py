"""Saving a US bank account through the app (real dialect, a USD customer), and Stripe's
`setup_intent.*` webhooks, signed like Stripe's and sent to the real endpoint: a bank account
waiting for microdeposits is pending and unusable until `setup_intent.succeeded`, a failed
verification fails it, a card whose browser never reported back is recorded from the event.
Access: an invoice-link holder is refused, another company's method is a 404, a double
submit records one method, a POST without the CSRF token changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain.core.models import AuditEntry
from portal.domain.gateway.protocol import SetupRequest
from portal.domain.methods.models import MethodSetup, SavedMethod
from portal.domain.payments.models import StripeEvent
from tests.support.factories import make_contact, make_customer, make_invoice, make_invoice_link, sign_in
from tests.support.fixtures.links import csrf_for
from tests.support.fixtures.stripe import setup_intent_object, stripe_event
from tests.support.methods import save_bank_account, save_card
from tests.support.paying import post_event

JSON = {"Accept": "application/json"}


@pytest.fixture
def clerk(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    make_invoice(db, clock, customer, currency="USD")
    return make_contact(db, clock, customer, email="ap@acme.example")


@pytest.fixture
def real(make_app, clerk, clock):
    """A clerk signed in to an app speaking the real dialect (the fake gateway behind it)."""
    client = make_app(stripe_dialect="real").test_client()
    sign_in(client, clerk, clock)
    return client


def _start(client):
    token = csrf_for(client, "/payment-methods/new")
    response = client.post("/payment-methods/new", headers={**JSON, "X-CSRFToken": token, "User-Agent": "Mozilla/5.0 T"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _complete(client, url):
    return client.post(url, headers={**JSON, "X-CSRFToken": csrf_for(client, "/payment-methods")})


def _send(client, clock, type_, setup, **kwargs):
    now = int(clock.now().timestamp())
    response = post_event(client, stripe_event(type_, setup_intent_object(setup), created=now, **kwargs), now)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _method(db, method_id):
    db.commit()
    db.expire_all()
    return db.get(SavedMethod, method_id)


def test_the_form_offers_a_bank_account_with_its_mandate(real):
    body = real.get("/payment-methods/new").get_data(as_text=True)
    assert "Add a card or bank account" in body and 'data-bank-accounts="true"' in body
    assert 'id="bank-mandate"' in body and "through the ACH network" in body and "Acme Corp" in body
    assert "Add a card or bank account" in real.get("/payment-methods").get_data(as_text=True)


def test_a_card_only_dialect_or_currency_offers_no_bank_account(client, db, clock, clerk):
    sign_in(client, clerk, clock)  # the default test app speaks localstripe: cards only
    body = client.get("/payment-methods/new").get_data(as_text=True)
    assert 'id="bank-mandate"' not in body and "data-bank-accounts" not in body and "Add a card<" in body


def test_microdeposits_pending_until_stripe_says_succeeded(real, client, db, clock, fake_gateway, clerk):
    card = save_card(db, clock, fake_gateway, clerk)
    db.commit()
    started = _start(real)
    [request] = fake_gateway.saved.setup_requests[-1:]
    assert request.bank_accounts is True
    setup_intent_id = started["client_secret"].split("_secret_")[0]
    fake_gateway.confirm_bank_setup(setup_intent_id, microdeposits=True)  # the Payment Element
    done = _complete(real, started["complete_url"])
    assert done.status_code == 200 and done.get_json()["verification"] == "pending_verification"
    bank = db.scalar(select(SavedMethod).where(SavedMethod.method_type == "us_bank_account"))
    assert "ACH" in bank.consent_text and bank.ip == "127.0.0.1" and bank.user_agent == "Mozilla/5.0 T"
    page = real.get("/payment-methods").get_data(as_text=True)
    assert "waiting for verification: Stripe sends two small deposits" in page
    assert "Waiting for verification" in page and "STRIPE TEST BANK checking account ending 6789" in page
    assert f"/payment-methods/{bank.public_id}/default" not in page  # no "Make default" for it
    refused = real.post(f"/payment-methods/{bank.public_id}/default",
                        data={"csrf_token": csrf_for(real, "/payment-methods")})
    assert refused.status_code == 400 and "waiting for verification" in refused.get_data(as_text=True)
    assert _method(db, card.id).is_default is True

    # The customer confirms the amounts at Stripe; Stripe sends setup_intent.succeeded.
    answer = _send(client, clock, "setup_intent.succeeded", fake_gateway.finish_setup(setup_intent_id),
                   event_id="evt_bank_verified")
    assert answer["outcome"].endswith("pending_verification -> verified")
    bank = _method(db, bank.id)
    assert bank.verification_status == "verified" and bank.verified_at == clock.now()
    assert bank.is_default is False  # the card stays the default
    again = _send(client, clock, "setup_intent.succeeded", fake_gateway.saved.setups[setup_intent_id],
                  event_id="evt_bank_verified")
    assert again["duplicate"] is True
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "method.verification")) == 1
    made = real.post(f"/payment-methods/{bank.public_id}/default", data={"csrf_token": csrf_for(real, "/payment-methods")})
    assert made.status_code == 302 and _method(db, bank.id).is_default is True


def test_a_requires_action_event_before_the_browser_reports_records_the_pending_account(
        real, client, db, clock, fake_gateway):
    started = _start(real)
    setup_intent_id = started["client_secret"].split("_secret_")[0]
    setup = fake_gateway.confirm_bank_setup(setup_intent_id, microdeposits=True)
    answer = _send(client, clock, "setup_intent.requires_action", setup)
    assert "recorded from the webhook (pending_verification)" in answer["outcome"]
    done = _complete(real, started["complete_url"])  # the browser reports afterwards: same row
    assert done.status_code == 200
    assert db.scalar(select(func.count()).select_from(SavedMethod)) == 1
    failed = _send(client, clock, "setup_intent.setup_failed", fake_gateway.finish_setup(setup_intent_id, succeeded=False))
    assert failed["outcome"].endswith("pending_verification -> failed")
    method = _method(db, db.scalar(select(SavedMethod.id)))
    assert (method.verification_status, method.is_default) == ("failed", False)
    assert "Verification failed" in real.get("/payment-methods").get_data(as_text=True)
    # A late success cannot bring it back.
    late = _send(client, clock, "setup_intent.succeeded", fake_gateway.finish_setup(setup_intent_id))
    assert late["outcome"].startswith("ignored") and _method(db, method.id).verification_status == "failed"


def test_a_card_stripe_confirmed_whose_browser_never_came_back_is_recorded_from_the_event(
        real, client, db, clock, fake_gateway, clerk):
    started = _start(real)
    setup_intent_id = started["client_secret"].split("_secret_")[0]
    setup = fake_gateway.confirm_setup(setup_intent_id, last4="1881")  # then the tab was closed
    answer = _send(client, clock, "setup_intent.succeeded", setup)
    assert "recorded from the webhook (verified)" in answer["outcome"]
    method = db.scalar(select(SavedMethod))
    assert (method.method_type, method.last4, method.is_default, method.saved_by_contact_id) == (
        "card", "1881", True, clerk.id)
    assert method.consent_text == db.scalar(select(MethodSetup.consent_text))
    assert "Visa ending 1881" in real.get("/payment-methods").get_data(as_text=True)


def test_events_for_someone_elses_setup_intent_or_mode_change_nothing(real, client, db, clock, fake_gateway):
    started = _start(real)
    setup_intent_id = started["client_secret"].split("_secret_")[0]
    setup = fake_gateway.confirm_setup(setup_intent_id)
    reads = fake_gateway.saved.read_calls
    live = _send(client, clock, "setup_intent.succeeded", setup, livemode=True)
    assert live["outcome"] == "ignored: livemode mismatch"
    stranger = fake_gateway.create_setup_intent(fake_gateway.saved.setup_requests[-1])
    other = _send(client, clock, "setup_intent.succeeded", stranger)
    assert other["outcome"] == "ignored: not one of our SetupIntents"
    assert fake_gateway.saved.read_calls == reads  # neither was read back from Stripe
    assert db.scalar(select(func.count()).select_from(SavedMethod)) == 0
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 2


def test_stripe_unreachable_while_reading_back_asks_for_the_event_again(real, client, db, clock, fake_gateway):
    started = _start(real)
    setup = fake_gateway.confirm_setup(started["client_secret"].split("_secret_")[0])
    fake_gateway.saved.unavailable = 1
    now = int(clock.now().timestamp())
    response = post_event(client, stripe_event("setup_intent.succeeded", setup_intent_object(setup), created=now), now)
    assert response.status_code == 503
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 0  # recorded on the next delivery
    assert db.scalar(select(func.count()).select_from(SavedMethod)) == 0


def test_a_badly_signed_setup_event_is_refused(client, db, clock, fake_gateway):
    now = int(clock.now().timestamp())
    setup = fake_gateway.create_setup_intent(SetupRequest(stripe_customer_id="cus_x", idempotency_key="k", reference="r"))
    payload = stripe_event("setup_intent.succeeded", setup_intent_object(setup), created=now)
    assert post_event(client, payload, now, secret="whsec_wrong").status_code == 400
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 0


def test_a_double_submitted_completion_records_one_bank_account(real, db, fake_gateway):
    started = _start(real)
    fake_gateway.confirm_bank_setup(started["client_secret"].split("_secret_")[0])
    first, second = _complete(real, started["complete_url"]), _complete(real, started["complete_url"])
    assert first.status_code == second.status_code == 200
    assert first.get_json()["method"] == second.get_json()["method"]
    assert db.scalar(select(func.count()).select_from(SavedMethod)) == 1


def test_without_the_csrf_token_nothing_is_started_or_changed(real, db, clock, fake_gateway, clerk):
    bank = save_bank_account(db, clock, fake_gateway, clerk)
    card = save_card(db, clock, fake_gateway, clerk)
    db.commit()
    requests = len(fake_gateway.saved.setup_requests)
    assert real.post("/payment-methods/new", headers=JSON).status_code == 400
    assert real.post(f"/payment-methods/{card.public_id}/default").status_code == 400
    assert real.post(f"/payment-methods/{bank.public_id}/remove").status_code == 400
    assert len(fake_gateway.saved.setup_requests) == requests
    assert _method(db, bank.id).removed_at is None and _method(db, bank.id).is_default is True


def test_an_invoice_link_holder_cannot_see_or_use_a_saved_bank_account(client, db, clock, fake_gateway, clerk):
    bank = save_bank_account(db, clock, fake_gateway, clerk, microdeposits=True)
    invoice = make_invoice(db, clock, clerk.customer)
    sign_in(client, clerk, clock, link=make_invoice_link(db, clock, clerk, [invoice]))
    token = csrf_for(client, f"/invoices/{invoice.public_id}")
    page = client.get("/payment-methods")
    assert page.status_code == 403 and "ending 6789" not in page.get_data(as_text=True)
    for path in (f"/payment-methods/{bank.public_id}/default", f"/payment-methods/{bank.public_id}/remove"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert _method(db, bank.id).removed_at is None and fake_gateway.saved.detached == []


def test_another_companys_bank_account_is_a_404(real, db, clock, fake_gateway):
    other = make_contact(db, clock, make_customer(db, clock, name="Bravo Corp"), email="ap@bravo.example")
    theirs = save_bank_account(db, clock, fake_gateway, other)
    db.commit()
    token = csrf_for(real, "/payment-methods")
    assert real.get(f"/payment-methods/{theirs.public_id}/remove").status_code == 404
    assert real.post(f"/payment-methods/{theirs.public_id}/remove", data={"csrf_token": token}).status_code == 404
    assert real.post(f"/payment-methods/{theirs.public_id}/default", data={"csrf_token": token}).status_code == 404
    assert "ending 6789" not in real.get("/payment-methods").get_data(as_text=True)
    assert fake_gateway.saved.detached == []
