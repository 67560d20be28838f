"""The pay page's refusals reach a French or German contact in their language, with amounts
written their way; an English contact reads the same English as before, and a staff page
stays English."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from tests.support.fixtures.stripe import CARD_OK
from tests.support.paying import make_company, open_pay_page, pay, pay_form, post_payment

REFUSALS = {
    "fr": {"over": "Facture {number} : vous pouvez payer au plus 125,00 $US maintenant.",
           "bad": "Facture {number}\u00a0: saisissez un montant supérieur à zéro.",
           "foreign": "L'une de ces factures ne fait pas partie de votre compte."},
    "de": {"over": "Rechnung {number}: Derzeit können höchstens 125,00 $ bezahlt werden.",
           "bad": "Rechnung {number}: Geben Sie einen Betrag über null ein.",
           "foreign": "Eine dieser Rechnungen gehört nicht zu Ihrem Konto."},
    "en": {"over": "Invoice {number}: at most $125.00 can be paid now.",
           "bad": "Invoice {number}: enter an amount above zero.",
           "foreign": "One of these invoices is not part of your account."},
}


def spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_the_pay_pages_refusals_are_in_the_contacts_language(signed_in, db, clock, company, localstripe, language):
    company.clerk.language = language
    db.commit()
    first = company.invoices[0]
    words = {key: text.format(number=first.number) for key, text in REFUSALS[language].items()}
    over = pay(signed_in, {first: "125.01"}, localstripe.card_token(CARD_OK))
    assert over.status_code == 400 and spaces(over.get_json()["error"]) == words["over"]
    bad = pay(signed_in, {first: "0"}, localstripe.card_token(CARD_OK))
    assert bad.status_code == 400 and bad.get_json()["error"] == words["bad"]

    other = make_company(db, clock, 9_900)
    db.commit()
    page = open_pay_page(signed_in, [first])
    foreign = post_payment(signed_in, pay_form(page, {first: "125.00", other.invoices[0]: "99.00"},
                                               localstripe.card_token(CARD_OK)))
    assert foreign.status_code == 400 and foreign.get_json()["error"] == words["foreign"]
    assert localstripe.intents() == []


@pytest.mark.parametrize("language", ["fr", "de"])
def test_a_refusal_on_an_html_page_is_in_the_contacts_language(signed_in, db, company, localstripe, language):
    company.clerk.language = language
    db.commit()
    first = company.invoices[0]
    page = open_pay_page(signed_in, [first])
    response = signed_in.post("/pay", data=MultiDict(pay_form(page, {first: "125.01"}, localstripe.card_token(CARD_OK))),
                              headers={"Accept": "text/html"})
    body = spaces(response.get_data(as_text=True))
    assert response.status_code == 400
    assert REFUSALS[language]["over"].format(number=first.number).replace("'", "&#39;") in body
    assert "can be paid now" not in body


def test_a_staff_page_refusal_stays_english(app):
    from portal.domain.payments.policy import PaymentRefused
    from portal.domain.core.locales import N_
    from portal.web.i18n import refusal_message

    refused = PaymentRefused(N_("Invoice %(number)s is already paid."), number="INV-9")
    with app.test_request_context("/admin/customers", headers={"Accept-Language": "fr"}):
        assert refusal_message(refused) == "Invoice INV-9 is already paid."
    with app.test_request_context("/invoices", headers={"Accept-Language": "fr"}):
        assert refusal_message(refused) == "La facture INV-9 est déjà payée."
