"""The saved cards pages through the app: listing, saving (the JSON steps static/js/methods.js
takes), the default, removal behind a confirmation; refused for an invoice-link holder and for
another company's ids; and the whole save against localstripe (its SetupIntent confirm does
what Stripe.js's confirmCardSetup does in the browser)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.methods.models import MethodSetup, SavedMethod, StripeCustomer
from tests.support.factories import make_contact, make_customer, make_invoice, make_invoice_link, sign_in
from tests.support.fixtures.links import csrf_for
from tests.support.methods import save_card

JSON = {"Accept": "application/json"}


@pytest.fixture
def clerk(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    make_invoice(db, clock, customer, currency="EUR")
    return make_contact(db, clock, customer, email="ap@acme.example")


@pytest.fixture
def signed_in(client, clerk, clock):
    sign_in(client, clerk, clock)
    return client


def _start(client, user_agent="Mozilla/5.0 Test"):
    token = csrf_for(client, "/payment-methods/new")
    return client.post("/payment-methods/new", headers={**JSON, "X-CSRFToken": token, "User-Agent": user_agent})


def _complete(client, url):
    return client.post(url, headers={**JSON, "X-CSRFToken": csrf_for(client, "/payment-methods")})


def test_the_form_shows_the_consent_and_the_dialect(signed_in, settings):
    body = signed_in.get("/payment-methods/new").get_data(as_text=True)
    assert "I authorise" in body and "Acme Corp" in body
    assert f'data-stripe-dialect="{settings.stripe_dialect}"' in body
    assert 'data-currency="EUR"' in body  # the Payment Element's setup mode needs one
    assert "js/methods.js" in body


def test_save_a_card_through_the_json_steps(signed_in, db, fake_gateway, clerk):
    started = _start(signed_in, "Mozilla/5.0 Test\x00evil")
    assert started.status_code == 200, started.get_data(as_text=True)
    body = started.get_json()
    [setup] = fake_gateway.saved.setups.values()
    assert body["client_secret"] == setup.client_secret
    assert body["return_url"] == "http://localhost/payment-methods"
    fake_gateway.confirm_setup(setup.id)  # Stripe.js in the browser

    done = _complete(signed_in, body["complete_url"])
    assert done.status_code == 200 and done.get_json()["methods_url"] == "/payment-methods"
    db.expire_all()
    method = db.scalar(select(SavedMethod))
    assert method.user_agent == "Mozilla/5.0 Testevil" and method.ip == "127.0.0.1"
    assert "Acme Corp" in method.consent_text
    page = signed_in.get("/payment-methods").get_data(as_text=True)
    assert "Visa ending 4242" in page and "12/2034" in page and "Default" in page


def test_the_page_says_when_the_card_was_not_saved(signed_in, db, fake_gateway):
    body = _start(signed_in).get_json()
    done = _complete(signed_in, body["complete_url"])  # the browser says done; Stripe says not
    assert done.status_code == 400 and "not saved" in done.get_json()["error"]
    assert db.scalar(select(SavedMethod)) is None


def test_stripe_unavailable_saves_nothing_and_says_so(signed_in, db, fake_gateway):
    fake_gateway.saved.unavailable = 1
    response = _start(signed_in)
    assert response.status_code == 400 and "Nothing was saved" in response.get_json()["error"]
    assert db.scalar(select(StripeCustomer)) is None


def test_default_and_removal(signed_in, db, clock, fake_gateway, clerk):
    first = save_card(db, clock, fake_gateway, clerk, last4="4242")
    second = save_card(db, clock, fake_gateway, clerk, last4="5556", brand="mastercard")
    db.commit()
    token = csrf_for(signed_in, "/payment-methods")
    response = signed_in.post(f"/payment-methods/{second.public_id}/default", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/payment-methods"
    assert "Mastercard ending 5556 is now the default payment method." in signed_in.get("/payment-methods").get_data(as_text=True)

    confirm = signed_in.get(f"/payment-methods/{first.public_id}/remove")
    assert confirm.status_code == 200 and "Remove Visa ending 4242?" in confirm.get_data(as_text=True)
    assert fake_gateway.saved.detached == []  # the confirmation page removes nothing
    removed = signed_in.post(f"/payment-methods/{first.public_id}/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    page = signed_in.get("/payment-methods").get_data(as_text=True)
    assert "Visa ending 4242 is removed." in page
    assert page.count("ending 4242") == 1  # only in the message, no longer listed
    assert fake_gateway.saved.detached == [first.stripe_payment_method_id]
    assert signed_in.get(f"/payment-methods/{first.public_id}/remove").status_code == 404


def test_an_invoice_link_holder_cannot_see_or_use_saved_cards(client, db, clock, fake_gateway, clerk):
    method = save_card(db, clock, fake_gateway, clerk)
    invoice = make_invoice(db, clock, clerk.customer)
    sign_in(client, clerk, clock, link=make_invoice_link(db, clock, clerk, [invoice]))
    token = csrf_for(client, f"/invoices/{invoice.public_id}")
    for path in ("/payment-methods", "/payment-methods/new", f"/payment-methods/{method.public_id}/remove"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "ending 4242" not in response.get_data(as_text=True)
    for path in ("/payment-methods/new", f"/payment-methods/{method.public_id}/default",
                 f"/payment-methods/{method.public_id}/remove",
                 f"/payment-methods/setups/{db.get(MethodSetup, method.setup_id).public_id}/complete"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert "Saved cards" not in client.get(f"/invoices/{invoice.public_id}").get_data(as_text=True)
    db.expire_all()
    assert db.get(SavedMethod, method.id).removed_at is None
    assert fake_gateway.saved.detached == [] and len(fake_gateway.saved.setups) == 1


def test_another_companys_card_is_a_404(signed_in, db, clock, fake_gateway):
    other = make_contact(db, clock, make_customer(db, clock, name="Bravo Corp"), email="ap@bravo.example")
    theirs = save_card(db, clock, fake_gateway, other)
    db.commit()
    token = csrf_for(signed_in, "/payment-methods")
    assert signed_in.get(f"/payment-methods/{theirs.public_id}/remove").status_code == 404
    assert signed_in.post(f"/payment-methods/{theirs.public_id}/remove", data={"csrf_token": token}).status_code == 404
    assert signed_in.post(f"/payment-methods/{theirs.public_id}/default", data={"csrf_token": token}).status_code == 404
    assert "ending 4242" not in signed_in.get("/payment-methods").get_data(as_text=True)
    assert fake_gateway.saved.detached == []


class TestAgainstLocalstripe:
    """The real adapter over HTTP: Customer, SetupIntent, the attach localstripe needs, detach."""

    @pytest.fixture
    def gateway(self, localstripe_gateway):
        return localstripe_gateway

    @pytest.fixture
    def settings(self, settings, localstripe_server):
        return settings.with_changes(stripe_api_base=localstripe_server)

    def test_save_list_and_remove_a_card(self, signed_in, db, localstripe):
        body = _start(signed_in).get_json()
        setup_id = body["client_secret"].split("_secret_")[0]
        card = localstripe.client.v1.payment_methods.create(params={"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        # What confirmCardSetup(clientSecret, {payment_method: {card}}) does in the browser.
        localstripe.client.v1.setup_intents.confirm(setup_id, params={"payment_method": card["id"]})

        done = _complete(signed_in, body["complete_url"])
        assert done.status_code == 200, done.get_json()
        db.expire_all()
        method = db.scalar(select(SavedMethod))
        stripe_customer = db.scalar(select(StripeCustomer))
        assert method.stripe_payment_method_id == card["id"] and method.last4 == "4242"
        at_stripe = localstripe.client.v1.payment_methods.retrieve(card["id"])
        assert at_stripe["customer"] == stripe_customer.stripe_customer_id  # attached explicitly
        customer = localstripe.client.v1.customers.retrieve(stripe_customer.stripe_customer_id)
        assert customer["invoice_settings"]["default_payment_method"] == card["id"]

        token = csrf_for(signed_in, "/payment-methods")
        assert signed_in.post(f"/payment-methods/{method.public_id}/remove", data={"csrf_token": token}).status_code == 302
        assert localstripe.client.v1.payment_methods.retrieve(card["id"])["customer"] is None
