"""The error pages a customer meets are in their language: nothing found (404), a form that
expired (CSRF), files too large for one form (413), control characters in a request (400);
as a page or as the JSON the pay page's script reads. Staff pages stay in English whatever the
browser asks for."""

from __future__ import annotations

import re
from html import unescape

import pytest

from portal.domain.attachments.policy import MB
from tests.support.factories import make_contact, make_customer, make_invoice, sign_in
from tests.support.fixtures.links import csrf_for

# language -> what each error page says (title, message) and the way back.
PAGES = {
    "fr": {"not_found": ("Introuvable", "Il n'y a rien ici, ou cela ne fait pas partie de votre compte."),
           "expired": ("Ce formulaire a expiré", "La page est restée ouverte trop longtemps ou a été envoyée deux fois."),
           "controls": ("Requête incorrecte",
                        "La requête contient des caractères non autorisés (caractères de contrôle)."),
           "too_large": ("Fichiers trop volumineux", "Les fichiers dépassent 1 MB au total"),
           "back": "Retour à l'accueil"},
    "de": {"not_found": ("Nicht gefunden", "Hier gibt es nichts, oder es gehört nicht zu Ihrem Konto."),
           "expired": ("Dieses Formular ist abgelaufen", "Die Seite war zu lange geöffnet oder wurde zweimal gesendet."),
           "controls": ("Ungültige Anfrage", "Die Anfrage enthält nicht zulässige Zeichen (Steuerzeichen)."),
           "too_large": ("Dateien zu groß", "Die Dateien sind zusammen größer als 1 MB"),
           "back": "Zurück zur Startseite"},
}
ENGLISH_WORDS = ("There is nothing here", "Back to the start", "This form has expired", "not allowed",
                 "The files are larger")


def page(response) -> str:
    return unescape(response.get_data(as_text=True))


def title_and_heading(html: str) -> tuple[str, str]:
    title = re.search(r"<title>([^<]*)</title>", html).group(1)
    heading = re.search(r"<h1>([^<]*)</h1>", html).group(1)
    return title, heading


def assert_error_page(response, status: int, language: str, kind: str) -> None:
    assert response.status_code == status
    html = page(response)
    title, message = PAGES[language][kind]
    assert f'<html lang="{language}">' in html
    assert title in title_and_heading(html)[0] and title_and_heading(html)[1] == title
    assert message in html
    assert PAGES[language]["back"] in html
    for english in ENGLISH_WORDS:
        assert english not in html, english


@pytest.fixture
def contact(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    make_invoice(db, clock, customer, number="INV-FR-1")
    return make_contact(db, clock, customer, email="compta@dupont.example")


@pytest.mark.parametrize("language", ["fr", "de"])
def test_an_invoice_that_is_not_there_is_a_404_in_the_contacts_language(client, db, clock, contact, language):
    contact.language = language
    sign_in(client, contact, clock)
    assert_error_page(client.get("/invoices/not-an-invoice"), 404, language, "not_found")


@pytest.mark.parametrize("language", ["fr", "de"])
def test_a_page_that_does_not_exist_is_a_404_in_the_browsers_language(client, language):
    response = client.get("/no-such-page", headers={"Accept-Language": language})
    assert_error_page(response, 404, language, "not_found")


@pytest.mark.parametrize("language", ["fr", "de"])
def test_an_expired_form_says_so_in_the_visitors_language(client, db, clock, contact, language):
    client.set_cookie("lang", language)
    sign_in(client, contact, clock)
    response = client.post("/language", data={"language": "en", "back": "/invoices"})  # no CSRF token
    assert_error_page(response, 400, language, "expired")
    assert {"fr": "Revenez en arrière, rechargez la page", "de": "Gehen Sie zurück, laden Sie die Seite neu"}[language] \
        in page(response)


@pytest.mark.parametrize("language", ["fr", "de"])
def test_control_characters_are_refused_in_the_visitors_language(client, language):
    response = client.get("/sign-in", query_string={"next": "/invoices\x00"}, headers={"Accept-Language": language})
    assert_error_page(response, 400, language, "controls")


def test_control_characters_in_a_form_answer_the_pay_pages_script_in_french(client, db, clock, contact):
    client.set_cookie("lang", "fr")
    sign_in(client, contact, clock)
    token = csrf_for(client, "/invoices")
    response = client.post("/pay", data={"csrf_token": token, "memo": "a\x00b"}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "La requête contient des caractères non autorisés (caractères de contrôle)."}


@pytest.mark.parametrize("language", ["fr", "de"])
def test_files_too_large_for_one_form_are_refused_in_the_visitors_language(make_app, language):
    app = make_app(upload_max_request_bytes=1 * MB, upload_max_file_bytes=1 * MB, upload_max_files=4)
    client = app.test_client()
    body = b"x" * (3 * MB)
    response = client.post("/disputes", data=body, content_type="multipart/form-data; boundary=x",
                           headers={"Accept-Language": language})
    assert_error_page(response, 413, language, "too_large")
    html = page(response)
    if language == "fr":
        assert "jusqu'à 4 fichiers de 1 MB chacun au plus" in html
        assert "Rien n'a été enregistré" in html
    else:
        assert "höchstens 4 Dateien mit je bis zu 1 MB" in html
        assert "Es wurde nichts gespeichert" in html


def test_an_english_visitor_still_reads_the_english_error_pages(client):
    response = client.get("/no-such-page")
    html = page(response)
    assert response.status_code == 404 and '<html lang="en">' in html
    assert title_and_heading(html)[1] == "Not found"
    assert "There is nothing here, or it is not part of your account." in html and "Back to the start" in html
    controls = page(client.get("/sign-in", query_string={"next": "\x1b[31m"}))
    assert "The request contains characters that are not allowed (control characters)." in controls


@pytest.mark.parametrize("path", ["/admin/no-such-page", "/admin"])
def test_staff_error_pages_stay_in_english_whatever_the_browser_asks(client, path):
    client.set_cookie("lang", "fr")
    headers = {"Accept-Language": "fr-FR,fr;q=0.9"}
    missing = client.get(path + "/nothing/here", headers=headers)
    html = page(missing)
    assert missing.status_code == 404 and '<html lang="en">' in html
    assert title_and_heading(html)[1] == "Not found" and "Back to the start" in html
    assert "Introuvable" not in html and "Retour" not in html
    controls = client.get(path, query_string={"lang": "fr", "q": "a\x00"}, headers=headers)
    assert controls.status_code == 400
    assert "The request contains characters that are not allowed (control characters)." in page(controls)
    assert "caractères" not in page(controls)


def test_the_erps_api_answers_in_english_whatever_the_client_asks(client):
    response = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "fr", "Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "There is nothing here, or it is not part of your account."


SIGNED_OUT_WORDS = {
    "fr": {"idle": "Vous avez été déconnecté après 30 minutes d'inactivité.", "signed_out": "Vous êtes déconnecté."},
    "de": {"idle": "Sie wurden nach 30 Minuten ohne Aktivität abgemeldet.", "signed_out": "Sie sind abgemeldet."},
}


@pytest.mark.parametrize("language", ["fr", "de"])
@pytest.mark.parametrize("reason", ["idle", "signed_out"])
def test_the_signed_out_page_says_why_in_the_visitors_language(client, language, reason):
    """The reason was English on an otherwise French or German page."""
    text = page(client.get(f"/signed-out?reason={reason}", headers={"Accept-Language": language}))
    assert SIGNED_OUT_WORDS[language][reason] in text
    assert "You were signed out" not in text and "You are signed out" not in text
