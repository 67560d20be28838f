"""The words the domain names things with (statuses, dispute reasons and history, payment
methods, plan cadences, aging buckets, ledger entries, follow-up kinds) are shown to a French
or German contact in their language, dates inside them written the language's way; staff
pages keep the English. The card consent and the ACH mandates are shown in the contact's
language and stored exactly as shown."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pprint import pformat

import pytest
from sqlalchemy import select

from portal.domain.core.locales import format_day
from portal.domain.methods.models import MethodSetup, SavedMethod
from portal.domain.payments.models import BankDebit
from portal.domain.payments.policy import ach_expected_by
from portal.domain.plans.policy import PlanPolicy
from portal.domain.staff.states import StaffRole
from tests.support.disputes import raise_test_dispute
from tests.support.factories import (
    add_invoice_entry, make_allocated_payment, make_contact, make_customer, make_invoice, make_staff, sign_in,
    staff_sign_in,
)
from tests.support.fixtures.links import csrf_for
from tests.support.followups import report_test_payment
from tests.support.methods import save_card
from tests.support.paying import open_pay_page, pay_form, payment_by_public_id, post_payment
from tests.support.plans import make_test_plan
from tests.support.promises import make_test_promise

JSON = {"Accept": "application/json"}

WORDS = {
    "fr": {
        "overview": ["Non échu", "1–30 jours", "31–60 jours", "61–90 jours", "Plus de 90 jours"],
        "invoice": ["Facture émise", "Paiement reçu", "par carte"],
        "pending": ["En cours, prévu d'ici le", "par virement bancaire (ACH)"],
        "history": ["En cours, prévu d'ici le", 'badge-paid">Payé<'],  # un paiement: masculine
        "disputes": ["Reçue", "Prix"],
        "dispute": ["Reçue", "Prix", "Contestation ouverte"],
        "new_dispute": ["Quantité manquante", "Facturation en double", "Bon de commande manquant ou erroné"],
        "promises": ["Promis", "Virement"],
        "new_promise": ["Virement bancaire ACH", "Carte, sur ce portail", "Déjà payée."],
        "plans": ["En attente de notre accord", "mensuelles"],
        "plan": ["En attente de notre accord", "3 échéances, mensuelles, payées par vous.", "Prévue"],
        "new_plan": ["Mensuel", "Toutes les deux semaines", "Hebdomadaire"],
        "methods": ["Vérifié"],
        "followup": ["Nous l'avons déjà payée", "Nous nous en occupons", "Payé le", "Moyen", "Virement"],
    },
    "de": {
        "overview": ["Nicht fällig", "1–30 Tage", "31–60 Tage", "61–90 Tage", "Über 90 Tage"],
        "invoice": ["Rechnung ausgestellt", "Zahlung eingegangen", "per Karte"],
        "pending": ["In Bearbeitung, erwartet bis", "per Banküberweisung (ACH)"],
        "history": ["In Bearbeitung, erwartet bis", 'badge-paid">Bezahlt<'],
        "disputes": ["Eingegangen", "Preis"],
        "dispute": ["Eingegangen", "Preis", "Reklamation eingereicht"],
        "new_dispute": ["Fehlmenge", "Doppelte Berechnung", "Bestellnummer fehlt oder ist falsch"],
        "promises": ["Zugesagt", "Überweisung"],
        "new_promise": ["ACH-Banküberweisung", "Karte, in diesem Portal", "Bereits bezahlt."],
        "plans": ["Wartet auf unsere Zustimmung", "monatlich"],
        "plan": ["Wartet auf unsere Zustimmung", "3 Raten, monatlich, von Ihnen bezahlt.", "Geplant"],
        "new_plan": ["Monatlich", "Alle zwei Wochen", "Wöchentlich"],
        "methods": ["Verifiziert"],
        "followup": ["Wir haben bereits bezahlt", "Wir kümmern uns darum", "Bezahlt am", "Zahlungsart", "Überweisung"],
    },
}
# The English each page showed before (none of it may be left in a French or German page).
ENGLISH = {
    "overview": ["31–60 days", "90+ days"], "invoice": ["Invoice issued", "Payment received", "by card"],
    "pending": ["Processing, expected by", "bank transfer (ACH)"], "history": ["Processing, expected by", ">Paid<"], "disputes": ["Received", "Pricing"],
    "dispute": ["Dispute raised", "· Pricing"], "new_dispute": ["Quantity short", "Duplicate billing"],
    "promises": ["Wire transfer", ">Promised<"], "new_promise": ["ACH bank transfer", "Already paid."],
    "plans": ["pending approval", "× monthly"], "plan": ["pending approval", ">scheduled<"],
    "new_plan": ["Every two weeks", ">Monthly<"], "methods": [">Verified<"],
    "followup": ["We're on it", "Paid on", "Wire transfer"],
}


def page_text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return unescape(response.get_data(as_text=True))


@pytest.fixture
def contact_language() -> str | None:
    """The language the account's contact reads in from the start (None: not chosen)."""
    return None


@pytest.fixture
def account(db, clock, fake_gateway, contact_language):
    """A USD customer with invoices in several aging buckets, a bank debit on its way, a dispute,
    a promise, a plan (its terms accepted in `contact_language`), a saved card and a "we already
    paid it" report."""
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    today = clock.now().date()
    invoices = {days: make_invoice(db, clock, customer, number=f"INV-{7100 + days}", total_minor=10_000,
                                   issue_date=today - timedelta(days=days + 30), due_date=today - timedelta(days=days))
                for days in (0, 10, 40, 70, 100)}
    debited = make_invoice(db, clock, customer, number="INV-7300", total_minor=30_000)
    paid = make_invoice(db, clock, customer, number="INV-7301", total_minor=5_000)
    promised = make_invoice(db, clock, customer, number="INV-7302", total_minor=8_000)
    planned = make_invoice(db, clock, customer, number="INV-7303", total_minor=9_000)
    reported = make_invoice(db, clock, customer, number="INV-7304", total_minor=7_000)
    contact = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    contact.language = contact_language
    make_allocated_payment(db, clock, customer, [(debited, 30_000)], status="processing", method="us_bank_account")
    settled = make_allocated_payment(db, clock, customer, [(paid, 5_000)], status="succeeded", method="card")
    add_invoice_entry(db, clock, paid, "payment", -5_000, payment_id=settled.id)  # what settling wrote
    dispute = raise_test_dispute(db, clock, contact, [invoices[10]], amount_text="20.00")
    make_test_promise(db, clock, contact, [promised], method="wire")
    plan = make_test_plan(db, clock, contact, [planned], count=3, cadence="monthly",
                          policy=PlanPolicy(max_count=2))  # outside the policy: it waits for us
    followup = report_test_payment(db, clock, contact, [reported], method="wire")
    save_card(db, clock, fake_gateway, contact)
    db.commit()
    return {"contact": contact, "dispute": dispute, "plan": plan, "followup": followup, "debited": debited,
            "paid": paid, "promised": promised, "planned": planned, "first": invoices[0]}


def customer_pages(client, account) -> dict[str, str]:
    return {
        "overview": page_text(client.get("/account")),
        "invoice": page_text(client.get(f"/invoices/{account['paid'].public_id}")),
        "pending": page_text(client.get(f"/invoices/{account['debited'].public_id}")),
        "history": page_text(client.get("/payments")),
        "disputes": page_text(client.get("/disputes")),
        "dispute": page_text(client.get(f"/disputes/{account['dispute'].public_id}")),
        "new_dispute": page_text(client.get(f"/disputes/new?invoice={account['first'].public_id}")),
        "promises": page_text(client.get("/promises")),
        "new_promise": page_text(client.get(
            f"/promises/new?invoice={account['first'].public_id}&invoice={account['paid'].public_id}")),
        "plans": page_text(client.get("/plans")),
        "plan": page_text(client.get(f"/plans/{account['plan'].public_id}")),
        "new_plan": page_text(client.get(f"/plans/new?invoice={account['first'].public_id}")),
        "methods": page_text(client.get("/payment-methods")),
        "followup": page_text(client.get(f"/problems/{account['followup'].public_id}")),
    }


@pytest.mark.parametrize("language", ["fr", "de"])
def test_the_domains_labels_are_in_the_contacts_language(client, db, clock, account, language):
    account["contact"].language = language
    db.commit()
    sign_in(client, account["contact"], clock)
    pages = customer_pages(client, account)
    for name, text in pages.items():
        assert f'<html lang="{language}">' in text, name
        for word in WORDS[language][name]:
            assert word in text, (language, name, word)
        for english in ENGLISH[name]:
            assert english not in text, (language, name, english)
    # The bank debit's expected day, in the label the domain builds, is written the language's way.
    expected_by = ach_expected_by(clock.now().date())
    assert format_day(expected_by, language) in pages["pending"]
    assert expected_by.strftime("%d %b %Y") not in pages["pending"]


def test_an_english_contact_reads_the_same_labels_in_english(client, db, clock, account):
    sign_in(client, account["contact"], clock)
    pages = customer_pages(client, account)
    assert "31–60 days" in pages["overview"] and "Invoice issued" in pages["invoice"]
    assert "Processing, expected by " + ach_expected_by(clock.now().date()).strftime("%d %b %Y") in pages["pending"]
    assert "Received" in pages["dispute"] and "Pricing" in pages["dispute"] and "Dispute raised" in pages["dispute"]
    assert "Wire transfer" in pages["promises"] and "Every two weeks" in pages["new_plan"]
    assert "3 installments, monthly, paid by you." in pages["plan"] and "Verified" in pages["methods"]
    assert "We're on it" in pages["followup"] and "Paid on" in pages["followup"]


def test_staff_pages_keep_the_english_labels_of_a_french_contacts_things(app, db, clock, account):
    account["contact"].language = "fr"
    member = make_staff(db, clock, role=StaffRole.SUPERVISOR, name="Sam Supervisor")
    db.commit()
    staff = app.test_client()
    staff_sign_in(staff, member, clock)
    dispute = page_text(staff.get(f"/admin/disputes/{account['dispute'].public_id}"))
    assert "Pricing" in dispute and "Received" in dispute and "Dispute raised" in dispute
    assert "Prix" not in dispute and "Reçue" not in dispute
    followup = page_text(staff.get(f"/admin/followups/{account['followup'].public_id}"))
    paid_on = format_day(clock.now().date() - timedelta(days=1), "en")
    assert "Wire transfer" in followup and paid_on in followup and "Paid on" in followup
    assert "Virement" not in followup and "Payé le" not in followup


def _shown(html: str, element_id: str) -> str:
    match = re.search(rf'<p [^>]*id="{element_id}"[^>]*>(.*?)</p>', html, re.S)
    assert match, element_id
    return unescape(match.group(1)).strip()


@pytest.fixture
def usd_clerk(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    invoice = make_invoice(db, clock, customer, number="INV-7400", total_minor=12_500, currency="USD")
    contact = make_contact(db, clock, customer, email="compta@dupont.example", name="Claire Martin")
    db.commit()
    return contact, invoice


@pytest.mark.parametrize("language, words", [("fr", "J'autorise"), ("de", "Ich ermächtige")])
def test_the_card_consent_and_bank_mandate_are_stored_as_shown_in_the_contacts_language(
        make_app, db, clock, fake_gateway, usd_clerk, language, words):
    contact, _ = usd_clerk
    contact.language = language
    db.commit()
    client = make_app(stripe_dialect="real").test_client()
    sign_in(client, contact, clock)
    form = page_text(client.get("/payment-methods/new"))
    consent = _shown(form, "consent-text")
    mandate = _shown(form, "bank-mandate")
    assert words in consent and "Fromagerie Dupont" in consent and "I authorise" not in consent
    assert "ACH" in mandate and "I authorize" not in mandate

    token = csrf_for(client, "/payment-methods/new")
    started = client.post("/payment-methods/new", headers={**JSON, "X-CSRFToken": token, "User-Agent": "Mozilla/5.0 T"})
    assert started.status_code == 200, started.get_data(as_text=True)
    setup = db.scalar(select(MethodSetup))
    # What the page showed after "For a card:" / "For a bank account:" is what is kept.
    assert consent.endswith(setup.consent_text) and mandate.endswith(setup.mandate_text)
    fake_gateway.confirm_bank_setup(started.get_json()["client_secret"].split("_secret_")[0])
    done = client.post(started.get_json()["complete_url"],
                       headers={**JSON, "X-CSRFToken": csrf_for(client, "/payment-methods")})
    assert done.status_code == 200, done.get_data(as_text=True)
    db.expire_all()
    bank = db.scalar(select(SavedMethod).where(SavedMethod.method_type == "us_bank_account"))
    assert bank.consent_text == setup.mandate_text


@pytest.mark.parametrize("language, words", [("fr", "vous autorisez"), ("de", "ermächtigen Sie")])
def test_the_pay_pages_ach_mandate_is_stored_as_shown_in_the_contacts_language(
        make_app, db, clock, usd_clerk, language, words):
    contact, invoice = usd_clerk
    contact.language = language
    db.commit()
    client = make_app(stripe_dialect="real").test_client()
    sign_in(client, contact, clock)
    page = page_text(client.get("/pay", query_string=[("invoice", invoice.public_id)]))
    shown = _shown(page, "mandate-text")
    assert words in shown and "you authorize" not in shown

    fields = open_pay_page(client, [invoice])
    response = post_payment(client, pay_form(fields, {invoice: "125.00"}, "ctoken_bank_account",
                                             method="us_bank_account", mandate_accepted="1"))
    assert response.status_code == 200, response.get_data(as_text=True)
    payment = payment_by_public_id(db, response.get_json()["payment_url"].rsplit("/", 1)[1])
    assert db.get(BankDebit, payment.id).mandate_text == shown


# English words that are no French or German word: one of them in a French or German page's
# text is English left over. (Not "on", "was", "will", "all", "see", "or", "an", "in": those
# are French or German too.)
ENGLISH_ONLY_WORDS = frozenset("""
    the your you and with this these those that for from have has been not are our here there
    which when what who how of to is it its any each can may must should would paid due invoice
    invoices payment payments amount balance overdue pending received processing dispute disputes
    promise promises sign out language change view next previous days month
    monthly weekly yes cancel remove save saved add open close closed back choose select ending
    charged installment installments
""".split())
_TAG = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.S)
_WORD = re.compile(r"[A-Za-z]+")


def english_words_left(html: str, own_data: tuple[str, ...] = ()) -> dict[str, str]:
    """The English-only words in a page's visible text and its aria-labels, placeholders and
    titles, each with the words around it (to find it in the template). `own_data`: what the
    account's people wrote themselves, shown as written and left out of the check."""
    labels = " ".join(re.findall(r'(?:aria-label|placeholder|title|alt)="([^"]*)"', html))
    text = " ".join((_TAG.sub(" ", html) + " " + labels).split())
    for written in own_data:
        text = text.replace(" ".join(written.split()), " ")
    return {match.group(): text[max(match.start() - 60, 0):match.end() + 40]
            for match in _WORD.finditer(text) if match.group().lower() in ENGLISH_ONLY_WORDS}


def own_data(account) -> tuple[str, ...]:
    """What the account's contact wrote (the dispute's description), which no page translates."""
    return (account["dispute"].description,)


@pytest.mark.parametrize("contact_language", ["fr", "de"])
def test_no_english_is_left_on_the_customer_pages(client, db, clock, account, contact_language):
    assert account["contact"].language == contact_language  # the plan's terms were accepted in it
    sign_in(client, account["contact"], clock)
    data = own_data(account)
    pages = customer_pages(client, account)
    assert all(written in pages["dispute"] for written in data)  # what is left out is on the page
    left = {name: words for name, html in pages.items() if (words := english_words_left(html, data))}
    assert not left, pformat(left)


def test_the_english_detector_finds_english(client, db, clock, account):
    sign_in(client, account["contact"], clock)
    pages = customer_pages(client, account)
    left = {name for name, html in pages.items() if english_words_left(html, own_data(account))}
    assert left == set(pages)  # every page, read in English, is caught
