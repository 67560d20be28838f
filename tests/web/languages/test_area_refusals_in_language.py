"""The refusals of the plan, dispute, file, "not the right person", saved-method, problem and
promise forms, and of an expired link, reach a French or German contact in their language,
field names, file kinds, sizes, amounts and dates included; an English contact reads the
English as before."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from werkzeug.datastructures import MultiDict

from portal.domain.access.service import issue_sign_in_link
from portal.domain.core.clock import today_in
from tests.support import attachment_files as files
from tests.support.attachment_files import multipart
from tests.support.factories import make_contact, make_customer, make_invoice, sign_in
from tests.support.fixtures.links import csrf_for, csrf_from, path_of
from tests.support.methods import save_bank_account, save_card

_KEY = re.compile(r'name="request_key" value="([^"]+)"')


def text_of(response) -> str:
    """The page's words as a reader sees them (entities decoded, narrow and no-break spaces plain)."""
    return unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    clerk = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    invoice = make_invoice(db, clock, customer, number="INV-100", lines=[
        ("Widgets", 10, 1_250), ("Freight", 1, 4_000)])  # 165.00
    db.commit()
    return customer, clerk, invoice


def speaking(db, clerk, language: str) -> None:
    clerk.language = language
    db.commit()


def today(clock, clerk):
    return today_in(clock, clerk.customer.timezone)


# --------------------------------------------------------------------------------------------
# Plans

PLAN = {
    "fr": "La première échéance ne peut pas être dans le passé.",
    "de": "Die erste Rate darf nicht in der Vergangenheit liegen.",
    "en": "The first installment cannot be in the past.",
}
PLAN_BANK = {
    "fr": "Ce compte bancaire ne peut pas être débité : il n'est pas vérifié, ou sa banque a refusé un prélèvement.",
    "de": "Dieses Bankkonto kann nicht belastet werden: Es ist nicht bestätigt, oder seine Bank hat eine Lastschrift "
          "abgelehnt.",
    "en": "This bank account cannot be charged: it is not verified, or its bank refused a debit.",
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_a_plan_proposal_is_refused_in_the_contacts_language(client, db, clock, acme, fake_gateway, language):
    _, clerk, invoice = acme
    pending = save_bank_account(db, clock, fake_gateway, clerk, microdeposits=True, last4="1111")
    speaking(db, clerk, language)
    sign_in(client, clerk, clock)

    def preview(**fields):
        page = client.get("/plans/new", query_string={"invoice": invoice.public_id})
        assert page.status_code == 200
        data = MultiDict([("csrf_token", csrf_from(page)), ("invoice", invoice.public_id)])
        data.update({"count": "3", "cadence": "monthly", "first": today(clock, clerk).isoformat(),
                     "pay_by": "myself", **fields})
        return client.post("/plans/preview", data=data)

    past = preview(first=(today(clock, clerk) - timedelta(days=3)).isoformat())
    assert past.status_code == 400 and PLAN[language] in text_of(past)
    autopay = preview(pay_by="autopay", card=pending.public_id)
    assert autopay.status_code == 400 and PLAN_BANK[language] in text_of(autopay)
    if language != "en":
        assert PLAN["en"] not in text_of(past) and "cannot be charged" not in text_of(autopay)


# --------------------------------------------------------------------------------------------
# Disputes: the line's name ("Invoice INV-100, line 1") is in the sentence's language too

DISPUTE = {
    "fr": {"quantity": "Facture INV-100, ligne 1 : la ligne porte sur une quantité de 10 ; vous pouvez contester "
                       "au plus cette quantité.",
           "amount": "Facture INV-100, ligne 2 : vous pouvez contester au plus les 40,00 $US de la ligne.",
           "twice": "Facture INV-100 : une ligne est choisie deux fois."},
    "de": {"quantity": "Rechnung INV-100, Position 1: Die Position hat eine Menge von 10; höchstens diese Menge kann "
                       "beanstandet werden.",
           "amount": "Rechnung INV-100, Position 2: Höchstens die 40,00 $ der Position können beanstandet werden.",
           "twice": "Rechnung INV-100: Eine Position ist zweimal gewählt."},
    "en": {"quantity": "Invoice INV-100, line 1: the line has a quantity of 10; at most that can be disputed.",
           "amount": "Invoice INV-100, line 2: at most the line's $40.00 can be disputed.",
           "twice": "Invoice INV-100: a line is chosen twice."},
}


def dispute_form(client, invoice, *fields) -> list[tuple[str, str]]:
    page = client.get("/disputes/new", query_string={"invoice": invoice.public_id})
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return [("csrf_token", csrf_from(page)), ("request_key", _KEY.search(page.get_data(as_text=True)).group(1)),
            ("reason", "pricing"), ("description", "The widgets were priced at the old rate."),
            ("invoice", invoice.public_id), *fields]


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_a_dispute_refusal_names_the_line_in_the_contacts_language(client, db, clock, acme, language):
    _, clerk, invoice = acme
    speaking(db, clerk, language)
    sign_in(client, clerk, clock)
    pid = invoice.public_id
    cases = {
        "quantity": [(f"mode-{pid}", "lines"), (f"line-{pid}", "1"), (f"quantity-{pid}-1", "11")],
        "amount": [(f"mode-{pid}", "lines"), (f"line-{pid}", "2"), (f"line-amount-{pid}-2", "50.00")],
        "twice": [(f"mode-{pid}", "lines"), (f"line-{pid}", "1"), (f"line-{pid}", "1")],
    }
    for case, fields in cases.items():
        response = client.post("/disputes", data=MultiDict(dispute_form(client, invoice, *fields)))
        assert response.status_code == 400
        assert DISPUTE[language][case] in text_of(response), (case, text_of(response)[:3000])
    if language != "en":
        assert "line 1" not in text_of(response) and "Invoice INV-100" not in text_of(response)


# --------------------------------------------------------------------------------------------
# Files: their kinds and the size limit written the reader's way

FILES = {
    "fr": {"kind": "Le nom de « photo.pdf » annonce un PDF, mais son contenu est une image PNG : renommez-le pour "
                   "qu'il se termine par .png, ou joignez le bon fichier.",
           "size": "« big.pdf » dépasse 10 Mo, la taille maximale d'un fichier."},
    "de": {"kind": "Der Name „photo.pdf“ weist auf eine PDF-Datei hin, der Inhalt ist aber ein PNG-Bild: Benennen "
                   "Sie die Datei so um, dass sie auf .png endet, oder hängen Sie die richtige Datei an.",
           "size": "„big.pdf“ ist größer als 10 MB, die zulässige Höchstgröße einer Datei."},
    "en": {"kind": "“photo.pdf” is named as a PDF but its content is a PNG image: rename it to end with .png, "
                   "or attach the right file.",
           "size": "“big.pdf” is larger than 10 MB, the most a file may be."},
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_a_refused_file_is_explained_in_the_contacts_language(client, db, clock, acme, file_storage, language):
    _, clerk, invoice = acme
    speaking(db, clerk, language)
    sign_in(client, clerk, clock)
    amount = [(f"mode-{invoice.public_id}", "amount"), (f"amount-{invoice.public_id}", "20.00")]
    for case, named in {"kind": ("photo.pdf", files.png()), "size": ("big.pdf", files.big_pdf(10.5))}.items():
        response = client.post("/disputes", **multipart(dispute_form(client, invoice, *amount), [named]))
        assert response.status_code == 400
        assert FILES[language][case] in text_of(response), (case, text_of(response)[:3000])


# --------------------------------------------------------------------------------------------
# "I'm not the right person": the field named in the sentence's language

CONTACT = {
    "fr": {"name": "Saisissez le nom.", "long": "Le nom ne peut pas dépasser 200 caractères.",
           "email": "L'adresse e-mail ne ressemble pas à une adresse e-mail (nom@entreprise.com)."},
    "de": {"name": "Geben Sie den Namen ein.", "long": "Der Name darf höchstens 200 Zeichen lang sein.",
           "email": "Die E-Mail-Adresse sieht nicht wie eine E-Mail-Adresse aus (name@firma.de)."},
    "en": {"name": "Enter the name.", "long": "The name can be at most 200 characters.",
           "email": "The email address does not look like an email address (name@company.com)."},
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_right_person_form_refuses_in_the_contacts_language(client, db, clock, acme, language):
    _, clerk, invoice = acme
    speaking(db, clerk, language)
    sign_in(client, clerk, clock)
    cases = {"name": {"name": "", "email": "robin@dupont.example"},
             "long": {"name": "R" * 201, "email": "robin@dupont.example"},
             "email": {"name": "Robin", "email": "robin"}}
    for case, fields in cases.items():
        page = client.get("/problems/new/contact", query_string={"invoices": invoice.public_id})
        assert page.status_code == 200
        form = {"csrf_token": csrf_from(page), "request_key": _KEY.search(page.get_data(as_text=True)).group(1),
                "invoices": [invoice.public_id], **fields}
        response = client.post("/problems/new/contact", data=form)
        assert response.status_code == 400
        assert CONTACT[language][case] in text_of(response), (case, text_of(response)[:3000])


# --------------------------------------------------------------------------------------------
# Saved methods

METHOD = {
    "fr": "Ce compte bancaire attend sa vérification : il ne peut pas devenir le moyen de paiement par défaut tant "
          "que les deux petits virements envoyés par Stripe ne sont pas confirmés.",
    "de": "Dieses Bankkonto wartet auf seine Bestätigung: Es kann erst die Standard-Zahlungsmethode werden, wenn die "
          "beiden kleinen Gutschriften von Stripe bestätigt sind.",
    "en": "This bank account is waiting for verification: it cannot be the default until the two small deposits "
          "Stripe sends are confirmed.",
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_a_saved_method_refusal_is_in_the_contacts_language(client, db, clock, acme, fake_gateway, language):
    _, clerk, _ = acme
    card = save_card(db, clock, fake_gateway, clerk)
    pending = save_bank_account(db, clock, fake_gateway, clerk, microdeposits=True)
    speaking(db, clerk, language)
    sign_in(client, clerk, clock)
    refused = client.post(f"/payment-methods/{pending.public_id}/default",
                          data={"csrf_token": csrf_for(client, "/payment-methods")})
    assert refused.status_code == 400 and METHOD[language] in text_of(refused), text_of(refused)[:3000]
    db.expire_all()
    assert card.is_default is True


# --------------------------------------------------------------------------------------------
# Problems ("we already paid it")

FOLLOWUP = {
    "fr": {"future": "La date du paiement ne peut pas être dans le futur.",
           "balance": "C'est plus que le solde de ces factures : indiquez toutes les factures que ce paiement réglait."},
    "de": {"future": "Das Zahlungsdatum darf nicht in der Zukunft liegen.",
           "balance": "Das ist mehr als der offene Betrag dieser Rechnungen: Nennen Sie alle Rechnungen, für die die "
                      "Zahlung bestimmt war."},
    "en": {"future": "The payment date cannot be in the future.",
           "balance": "That is more than these invoices' balance: name every invoice the payment was for."},
}


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_a_reported_payment_is_refused_in_the_contacts_language(client, db, clock, acme, language):
    _, clerk, invoice = acme
    speaking(db, clerk, language)
    sign_in(client, clerk, clock)
    day = today(clock, clerk)
    cases = {"future": {"paid_on": (day + timedelta(days=1)).isoformat()}, "balance": {"amount": "9999999.00"}}
    for case, fields in cases.items():
        page = client.get("/problems/new/already-paid", query_string={"invoice": invoice.public_id})
        assert page.status_code == 200
        form = MultiDict([("csrf_token", csrf_from(page)),
                          ("request_key", _KEY.search(page.get_data(as_text=True)).group(1)),
                          ("paid_on", day.isoformat()), ("amount", "165.00"), ("method", "wire"),
                          ("reference", "WIRE-991"), ("note", ""), ("invoice", invoice.public_id)])
        for name, value in fields.items():
            form[name] = value
        response = client.post("/problems/already-paid", data=form)
        assert response.status_code == 400
        assert FOLLOWUP[language][case] in text_of(response), (case, text_of(response)[:3000])


# --------------------------------------------------------------------------------------------
# A promise's date, and an expired link

PROMISE = {
    "fr": re.compile(r"Choisissez une date dans les 30 jours \(au plus tard le \d{1,2} [a-zéû]+\.? \d{4}\)\."),
    "de": re.compile(r"Wählen Sie ein Datum innerhalb von 30 Tagen \(spätestens am \d\d\.\d\d\.\d{4}\)\."),
}


@pytest.mark.parametrize("language", ["fr", "de"])
def test_a_promise_too_far_ahead_is_refused_with_the_date_written_the_languages_way(client, db, clock, acme,
                                                                                   language):
    _, clerk, invoice = acme
    speaking(db, clerk, language)
    sign_in(client, clerk, clock)
    page = client.get("/promises/new", query_string={"invoice": invoice.public_id})
    assert page.status_code == 200
    form = MultiDict([("csrf_token", csrf_from(page)),
                      ("request_key", _KEY.search(page.get_data(as_text=True)).group(1)),
                      ("date", (today(clock, clerk) + timedelta(days=45)).isoformat()), ("method", "ach"),
                      ("note", ""), ("invoice", invoice.public_id)])
    response = client.post("/promises", data=form)
    assert response.status_code == 400
    assert PROMISE[language].search(text_of(response)), text_of(response)[:3000]
    assert "Choose a date within" not in text_of(response)


EXPIRED = {"fr": ("Ce lien a expiré", "Ce lien a expiré."), "de": ("Dieser Link ist abgelaufen",
                                                                   "Dieser Link ist abgelaufen.")}


@pytest.mark.parametrize("language", ["fr", "de"])
def test_an_expired_link_says_so_in_the_visitors_language(client, db, clock, link_signer, acme, language):
    _, clerk, _ = acme
    issued = issue_sign_in_link(db, clock, link_signer, contact=clerk)
    db.commit()
    clock.advance(minutes=16)
    page = client.get(path_of(issued.url), headers={"Accept-Language": language})
    body = text_of(page)
    assert page.status_code == 410
    title, message = EXPIRED[language]
    assert f"<h1>{title}</h1>" in body and f"<p>{message}</p>" in body
    assert "This link has expired" not in body
