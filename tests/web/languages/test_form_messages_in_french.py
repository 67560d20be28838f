"""A French or German contact's forms refuse bad input in their language (the pay form's
amounts and fields, the invoice search, the sign-in form), and the words the pay page's, the
invoice list's and the saved-card page's scripts show are in the page, translated (the
form's data-messages), as are the payment page's texts."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from portal.domain.account.queries import MAX_SEARCH_LENGTH
from tests.support import localstripe_app
from tests.support.factories import sign_in
from tests.support.fixtures.links import csrf_for
from tests.support.fixtures.stripe import CARD_3DS
from tests.support.paying import make_company, open_pay_page, pay, pay_form, post_payment

# The pay page's 3-D Secure case needs localstripe (the suite's fake gateway otherwise).
gateway, settings = localstripe_app.gateway, localstripe_app.settings


@pytest.fixture
def company(db, clock):
    return make_company(db, clock, 12_500, 8_000)


def signed_in_as(client, clock, company, language: str | None):
    company.clerk.language = language
    sign_in(client, company.clerk, clock)
    return client


def refusal(client, company, amount: str, **extra) -> str:
    first = company.invoices[0]
    page = open_pay_page(client, [first])
    response = post_payment(client, pay_form(page, {first: amount}, "tok_unused", **extra))
    assert response.status_code == 400
    return response.get_json()["error"]


@pytest.mark.parametrize(("language", "amount", "extra", "message"), [
    ("fr", "abc", {}, "Saisissez le montant en chiffres, par exemple 1,234.50."),
    ("fr", "-5.00", {}, "Saisissez le montant en chiffres, par exemple 1,234.50."),
    ("fr", "", {}, "Saisissez un montant."),
    ("fr", "1" * 40, {}, "Ce montant est trop long\u00a0: 32 caractères au plus."),
    ("fr", "10.0001", {}, "Un montant a au plus 3 décimales."),
    ("fr", "1" * 16, {}, "Ce montant est trop élevé\u00a0: 15 chiffres au plus avant le séparateur décimal."),
    ("de", "1E+5", {}, "Geben Sie den Betrag in Ziffern ein, zum Beispiel 1,234.50."),
    ("de", "10.0001", {}, "Ein Betrag hat höchstens 3 Nachkommastellen."),
    ("fr", "100.00", {"reason-{id}": "Paiement\r\npartiel"}, "Un motif\u00a0: une seule ligne de texte simple."),
    ("de", "125.00", {"memo": "x" * 501}, "Die Notiz: höchstens 500 Zeichen."),
    ("fr", "125.00", {"po_number": "PO\n1"}, "La référence de paiement\u00a0: une seule ligne de texte simple."),
])
def test_the_pay_form_refuses_in_the_contacts_language(client, db, clock, company, language, amount, extra, message):
    signed_in_as(client, clock, company, language)
    extra = {key.replace("{id}", company.invoices[0].public_id): value for key, value in extra.items()}
    assert refusal(client, company, amount, **extra) == message


def test_an_english_contact_reads_the_same_refusals_in_english(client, db, clock, company):
    signed_in_as(client, clock, company, None)
    assert refusal(client, company, "abc") == "Enter the amount as digits, for example 1,234.50."
    assert refusal(client, company, "10.0001") == "An amount has at most 3 decimal places."
    reason = {f"reason-{company.invoices[0].public_id}": "a\nb"}
    assert refusal(client, company, "100.00", **reason) == "A reason must be one line of plain text."


def test_too_many_invoices_or_a_foreign_id_is_refused_in_french(client, db, clock, company):
    signed_in_as(client, clock, company, "fr")
    page = open_pay_page(client, company.invoices[:1])
    form = [(k, v) for k, v in pay_form(page, {}, "tok_unused")] + [("invoice", "../etc")]
    response = post_payment(client, form)
    assert response.status_code == 400
    assert response.get_json()["error"] == "L'une de ces factures ne fait pas partie de votre compte."


@pytest.mark.parametrize(("language", "message"), [
    ("fr", f"La recherche\u00a0: {MAX_SEARCH_LENGTH} caractères au plus."),
    ("de", f"Die Suche: höchstens {MAX_SEARCH_LENGTH} Zeichen."),
])
def test_a_search_too_long_is_refused_in_the_contacts_language(client, db, clock, company, language, message):
    signed_in_as(client, clock, company, language)
    response = client.get("/invoices", query_string={"q": "x" * (MAX_SEARCH_LENGTH + 1)})
    assert response.status_code == 400
    assert message in unescape(response.get_data(as_text=True))


@pytest.mark.parametrize(("language", "message"), [
    ("fr", "Saisissez l'adresse e-mail à laquelle nos factures sont envoyées."),
    ("de", "Geben Sie die E-Mail-Adresse ein, an die wir unsere Rechnungen senden."),
])
def test_the_sign_in_form_refuses_an_odd_address_in_the_visitors_language(client, language, message):
    client.set_cookie("lang", language)
    response = client.post("/sign-in", data={"csrf_token": csrf_for(client), "email": "not an address"})
    assert response.status_code == 400
    assert message in unescape(response.get_data(as_text=True))
    assert "Enter the email address" not in response.get_data(as_text=True)


def data_messages(html: str, form_id: str) -> dict[str, str]:
    tag = re.search(rf'<form id="{form_id}"[^>]*>', html, re.S).group(0)
    return json.loads(unescape(re.search(r"data-messages='([^']*)'", tag).group(1)))


def test_the_pay_pages_script_gets_its_words_in_french(client, db, clock, company):
    signed_in_as(client, clock, company, "fr")
    first = company.invoices[0]
    html = client.get(f"/pay?invoice={first.public_id}").get_data(as_text=True)
    words = data_messages(html, "pay-form")
    assert words["amountExample"] == "Saisissez un montant, par exemple {example}"
    assert words["rowAmountAtMost"] == "{invoice}\u00a0: montant dû de {amount} au plus"
    assert words["rowReasonRequired"] == "{invoice}\u00a0: motif requis (vous payez moins que le solde dû)"
    assert words["checkFields"] == "Vérifiez ces champs\u00a0:"
    assert words["backToPay"] == "Retour au bouton Payer"
    assert words["acceptMandate"] == "Acceptez l'autorisation de prélèvement pour payer depuis un compte bancaire."
    assert words["connectionFailed"].startswith("La connexion a échoué.")
    assert not [text for text in words.values() if re.search(r"\b(the|Enter|Check|Back)\b", text)]
    # The example is the amount as the field reads it back, whatever the page's language.
    assert re.search(r'data-payable-field="125\.00"', html)
    assert 'src="/static/js/messages.js"' in html


def test_the_pay_pages_script_gets_its_words_in_german_and_english(client, db, clock, company):
    signed_in_as(client, clock, company, "de")
    path = f"/pay?invoice={company.invoices[0].public_id}"
    words = data_messages(client.get(path).get_data(as_text=True), "pay-form")
    assert words["useAnotherCard"] == "Verwenden Sie eine andere Karte"
    assert words["checkOneField"] == "Prüfen Sie dieses Feld:"
    assert words["reasonRequired"] == "Grund erforderlich"

    company.clerk.language = "en"
    english = data_messages(client.get(path).get_data(as_text=True), "pay-form")
    assert english["backToPay"] == "Back to Pay" and english["reasonRequired"] == "Reason required"
    assert english["rowAmountExample"] == "{invoice}: Enter an amount, for example {example}"


def test_the_invoice_list_and_the_card_page_scripts_get_their_words_translated(client, db, clock, company):
    signed_in_as(client, clock, company, "de")
    words = data_messages(client.get("/invoices").get_data(as_text=True), "pay-form")
    assert words["selectedTotalOne"] == "{count} Rechnung ausgewählt: {amount} zu zahlen."
    assert words["selectedTotalMany"] == "{count} Rechnungen ausgewählt: {amount} zu zahlen."
    assert words["selectAllLabel"] == "Alle zahlbaren Rechnungen in {currency} auf dieser Seite auswählen"

    company.clerk.language = "fr"
    listed = data_messages(client.get("/invoices").get_data(as_text=True), "pay-form")
    assert listed["selectedMany"] == "{count} factures sélectionnées."
    assert listed["oneCurrency"].startswith("Un paiement se fait dans une seule devise\u00a0: vous avez sélectionné "
                                            "{currencies}.")
    card = data_messages(client.get("/payment-methods/new").get_data(as_text=True), "method-form")
    assert card["saving"] == "Enregistrement…"
    assert card["unreachable"] == "Le serveur n'a pas pu être joint. Vérifiez votre connexion et réessayez."


def test_a_payment_waiting_for_3ds_says_so_in_french(client, db, clock, company, localstripe):
    signed_in_as(client, clock, company, "fr")
    started = pay(client, {company.invoices[0]: "125.00"}, localstripe.card_token(CARD_3DS)).get_json()
    assert started["status"] == "requires_action"
    html = unescape(client.get(started["payment_url"]).get_data(as_text=True))
    assert "<strong>En attente de l'authentification de la carte.</strong>" in html
    assert "le paiement est annulé dans l'heure et rien n'est débité." in html
    assert "Abandonné, ou lancé par un collègue absent\u00a0?" in html
    assert "Annuler ce paiement inachevé" in html
    for english in ("Waiting for card authentication", "Abandoned, or started", "Cancel this unfinished payment"):
        assert english not in html
