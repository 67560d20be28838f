"""Which language a page is in: the contact's, else the visitor's choice, else the browser's,
else English; and the switcher that changes it."""

from __future__ import annotations

import re
from html import unescape

import pytest

from portal.domain.customers.models import Contact
from tests.support.factories import make_contact, make_customer, make_invoice, sign_in
from tests.support.fixtures.links import csrf_for


def html_lang(response) -> str:
    return re.search(r'<html lang="([a-z]+)">', response.get_data(as_text=True)).group(1)


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


@pytest.fixture
def contact(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    make_invoice(db, clock, customer, number="INV-FR-1")
    return make_contact(db, clock, customer)


def test_without_any_choice_the_page_is_in_english(client):
    response = client.get("/sign-in")
    assert response.status_code == 200
    assert html_lang(response) == "en"


@pytest.mark.parametrize(("header", "expected"), [
    ("fr-FR,fr;q=0.9,en;q=0.5", "fr"),
    ("de-CH, de;q=0.8", "de"),
    ("es-ES, it;q=0.8", "en"),
    ("en-GB;q=0.4, de;q=0.9", "de"),
])
def test_the_browsers_language_is_the_best_match_among_the_portals(client, header, expected):
    assert html_lang(client.get("/sign-in", headers={"Accept-Language": header})) == expected


def test_the_cookie_wins_over_the_browser_and_the_parameter_over_the_cookie(client):
    client.set_cookie("lang", "de")
    assert html_lang(client.get("/sign-in", headers={"Accept-Language": "fr"})) == "de"
    assert html_lang(client.get("/sign-in?lang=fr", headers={"Accept-Language": "en"})) == "fr"
    client.set_cookie("lang", "xx")
    assert html_lang(client.get("/sign-in", headers={"Accept-Language": "fr"})) == "fr"


def test_the_contacts_language_wins_over_cookie_and_browser(client, clock, db, contact):
    contact.language = "fr"
    sign_in(client, contact, clock)
    client.set_cookie("lang", "de")
    response = client.get("/invoices", headers={"Accept-Language": "de"})
    assert html_lang(response) == "fr"
    assert "Factures" in text(response)


def test_a_contact_without_a_language_gets_the_visitors_choice(client, clock, contact):
    sign_in(client, contact, clock)
    response = client.get("/invoices", headers={"Accept-Language": "de-DE"})
    assert html_lang(response) == "de"
    assert "Rechnungen" in text(response)


def test_staff_pages_stay_in_english(client):
    client.set_cookie("lang", "fr")
    response = client.get("/admin/sign-in", headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    assert "Se déconnecter" not in text(response)
    assert 'lang="fr"' not in response.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# The switcher


def switch(client, language: str, next_path: str = "/sign-in", **extra):
    form = {"csrf_token": csrf_for(client), "language": language, "back": next_path, **extra}
    return client.post("/language", data=form)


def test_every_customer_page_offers_the_switcher_with_its_own_path(client, clock, contact):
    sign_in(client, contact, clock)
    page = client.get("/invoices?page=1").get_data(as_text=True)
    assert 'action="/language"' in page
    assert 'name="back" value="/invoices?page=1"' in page
    assert re.search(r'<option value="fr" lang="fr"\s*>Français</option>', page)


def test_a_huge_query_is_not_repeated_in_the_switchers_back_path(client, clock, contact):
    sign_in(client, contact, clock)
    response = client.get("/invoices?q=" + "A" * 100_000)
    page = response.get_data(as_text=True)
    assert response.status_code == 400  # the search is refused, and the page says so once
    assert 'name="back" value="/invoices"' in page
    assert len(page) < 20_000


def test_switching_without_signing_in_sets_the_cookie_and_goes_back(client):
    response = switch(client, "fr", "/sign-in?next=/invoices")
    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in?next=/invoices"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=fr;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert html_lang(client.get("/sign-in", headers={"Accept-Language": "de"})) == "fr"


def test_switching_signed_in_stores_the_language_on_the_contact(client, clock, db, contact):
    sign_in(client, contact, clock)
    response = switch(client, "de", "/invoices")
    assert response.status_code == 303 and response.headers["Location"] == "/invoices"
    db.expire_all()
    assert db.get(Contact, contact.id).language == "de"
    client.delete_cookie("lang")
    assert html_lang(client.get("/invoices", headers={"Accept-Language": "fr"})) == "de"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/invoices", "/\\evil.example", "javascript:alert(1)", "",
])
def test_a_foreign_or_odd_target_lands_on_the_start_page(client, target):
    response = switch(client, "de", target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("language", ["es", "", "FR-fr", "fr" * 20, "en\n"])
def test_a_language_the_portal_does_not_speak_is_refused_and_nothing_changes(client, clock, db, contact, language):
    contact.language = "fr"
    sign_in(client, contact, clock)
    response = switch(client, language, "/invoices")
    assert response.status_code == 400
    assert "Choose one of the languages offered: English, Français, Deutsch." in text(response)
    assert "Set-Cookie" not in response.headers or "lang=" not in response.headers["Set-Cookie"]
    db.expire_all()
    assert db.get(Contact, contact.id).language == "fr"


def test_the_switcher_needs_the_csrf_token(client, clock, db, contact):
    sign_in(client, contact, clock)
    response = client.post("/language", data={"language": "de", "back": "/invoices"})
    assert response.status_code == 400
    db.expire_all()
    assert db.get(Contact, contact.id).language is None
