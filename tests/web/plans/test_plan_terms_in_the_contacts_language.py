"""The terms of a plan are built in the contact's language: the preview shows them in French or
German (installment dates and amounts written the language's way, the saved card named in the
language), accepting them stores exactly the words shown, and a counter-proposal or a new
schedule reads and is accepted the same way. The language of the acceptance is the language of
the digest: terms shown in one language and accepted in another are refused like any changed
terms, nothing stored."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.domain.core.locales import format_day, format_money
from portal.domain.core.money import Money
from portal.domain.plans.models import Plan, PlanAgreement
from portal.domain.plans.policy import PlanPolicy
from portal.domain.plans.service import move_installment
from portal.domain.staff.states import StaffRole
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, sign_in, staff_sign_in
from tests.support.fixtures.links import csrf_from
from tests.support.methods import save_card
from tests.support.plans import customer_today, make_test_plan

_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
ENGLISH_TERMS = ["agrees", "installments", "Each installment", "If installments are not paid", "ending", "card visa"]
WORDS = {
    "fr": {"opening": "Fromagerie Dupont s'engage à payer à Northwind Supplies les factures INV-100, INV-200 "
                      "en 3 échéances\u00a0:",
           "card": "sur le moyen de paiement enregistré\u00a0: carte visa se terminant par 4242.",
           "closing": "l'échéancier prend fin et le solde restant est dû immédiatement",
           "amendment": "convient avec Northwind Supplies d'un nouveau calendrier",
           "replaces": "Ce calendrier remplace les échéances non encore payées",
           "myself": "Nous paierons chaque échéance sur le portail au plus tard à sa date.",
           "changed": "Le calendrier a changé"},
    "de": {"opening": "Fromagerie Dupont verpflichtet sich, Northwind Supplies die Rechnungen INV-100, INV-200 "
                      "in 3 Raten zu bezahlen:",
           "card": "über das gespeicherte Zahlungsmittel abgebucht: Karte visa mit Endung 4242.",
           "closing": "endet der Ratenplan und der verbleibende Betrag ist sofort fällig",
           "amendment": "vereinbart mit Northwind Supplies einen neuen Zahlungsplan",
           "replaces": "Dieser Zahlungsplan ersetzt die noch nicht bezahlten Raten",
           "myself": "Wir bezahlen jede Rate bis zu ihrem Fälligkeitstag im Portal.",
           "changed": "Der Zahlungsplan hat sich"},
}


@pytest.fixture
def dupont(db, clock):
    customer = make_customer(db, clock, name="Fromagerie Dupont")
    clerk = make_contact(db, clock, customer, email="compta@dupont.example")
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=60_000)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=30_001)
    db.commit()
    return clerk, first, second


def _terms(html: str, element_id: str) -> str:
    match = re.search(rf'<pre class="terms" id="{element_id}">(.*?)</pre>', html, re.S)
    assert match, element_id
    return unescape(match.group(1))


def _preview(client, db, clock, clerk, invoices, **fields):
    page = client.get("/plans/new", query_string=[("invoice", i.public_id) for i in invoices])
    assert page.status_code == 200
    data = MultiDict([("csrf_token", csrf_from(page)), *(("invoice", i.public_id) for i in invoices)])
    data.update({"count": "3", "cadence": "monthly", "first": customer_today(db, clock, clerk).isoformat(),
                 "pay_by": "myself", **fields})
    return client.post("/plans/preview", data=data)


@pytest.mark.parametrize("language", ["fr", "de"])
def test_the_preview_shows_the_terms_in_the_contacts_language_and_accepting_stores_them(
        client, db, clock, fake_gateway, dupont, language):
    clerk, first, second = dupont
    clerk.language = language
    card = save_card(db, clock, fake_gateway, clerk)
    db.commit()
    sign_in(client, clerk, clock)
    shown = _preview(client, db, clock, clerk, [first, second], pay_by="autopay", card=card.public_id)
    assert shown.status_code == 200, shown.get_data(as_text=True)[:500]
    html = shown.get_data(as_text=True)
    terms = _terms(html, "terms")
    today = customer_today(db, clock, clerk)
    words = WORDS[language]
    assert terms.startswith(words["opening"] + "\n")
    assert words["card"] in terms and words["closing"] in terms
    # Each schedule line: its number, its date and its amount, written the language's way.
    colon = "\u00a0:" if language == "fr" else ":"
    first_line = f"{format_day(today, language)}{colon} {format_money(Money(30_001, 'USD'), language)}"
    assert f"  1. {first_line}" in terms
    assert today.isoformat() not in terms and "$300.01" not in terms
    for english in ENGLISH_TERMS:
        assert english not in terms, english

    accepted = client.post("/plans", data=MultiDict(_HIDDEN.findall(html)))
    assert accepted.status_code == 303, accepted.get_data(as_text=True)[:500]
    db.expire_all()
    agreement = db.scalar(select(PlanAgreement))
    assert agreement.terms_text == terms  # exactly the words shown
    page = client.get(accepted.headers["Location"]).get_data(as_text=True)
    assert words["opening"] in unescape(page)


def test_an_english_contact_still_reads_and_stores_the_english_terms(client, db, clock, dupont):
    clerk, first, second = dupont
    sign_in(client, clerk, clock)
    shown = _preview(client, db, clock, clerk, [first, second])
    html = shown.get_data(as_text=True)
    terms = _terms(html, "terms")
    today = customer_today(db, clock, clerk)
    assert terms.startswith("Fromagerie Dupont agrees to pay Northwind Supplies the invoices INV-100, INV-200 in 3 "
                            "installments:\n")
    assert f"  1. {today.isoformat()}: $300.01\n" in terms
    assert "Each installment will be paid by us on the portal by its date." in terms
    assert client.post("/plans", data=MultiDict(_HIDDEN.findall(html))).status_code == 303
    db.expire_all()
    assert db.scalar(select(PlanAgreement)).terms_text == terms


def test_terms_shown_in_one_language_and_accepted_in_another_are_refused(client, db, clock, dupont):
    clerk, first, second = dupont
    clerk.language = "fr"
    db.commit()
    sign_in(client, clerk, clock)
    html = _preview(client, db, clock, clerk, [first, second]).get_data(as_text=True)
    assert WORDS["fr"]["myself"] in _terms(html, "terms")
    clerk.language = "de"  # switched in another tab before accepting
    db.commit()
    refused = client.post("/plans", data=MultiDict(_HIDDEN.findall(html)))
    assert refused.status_code == 400
    assert WORDS["de"]["changed"] in unescape(refused.get_data(as_text=True))
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Plan)) == 0
    assert db.scalar(select(func.count()).select_from(PlanAgreement)) == 0


def _answer(client, public_id: str, language: str) -> tuple[str, str, str]:
    """The plan page's proposed terms, their digest and the form's token."""
    page = client.get(f"/plans/{public_id}")
    html = page.get_data(as_text=True)
    assert f'<html lang="{language}">' in html
    digest = re.search(r'name="terms_digest" value="([0-9a-f]{64})"', html).group(1)
    return html, digest, csrf_from(page)


@pytest.mark.parametrize("language", ["fr", "de"])
def test_a_counter_proposal_is_shown_and_stored_in_the_contacts_language(client, db, clock, dupont, language):
    clerk, first, _ = dupont
    clerk.language = language
    waiting = make_test_plan(db, clock, clerk, [first], count=6, policy=PlanPolicy(max_count=3))
    db.commit()
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.COLLECTOR), clock)
    token = csrf_from(client.get(f"/admin/plans/{waiting.public_id}"))
    assert client.post(f"/admin/plans/{waiting.public_id}/counter", data={
        "csrf_token": token, "count": "3", "cadence": "monthly", "first": "2026-07-01",
        "reason": "Three months at most."}).status_code == 303
    sign_in(client, clerk, clock)
    html, digest, token = _answer(client, waiting.public_id, language)
    terms = _terms(html, "counter-terms")
    assert WORDS[language]["myself"] in terms and "INV-100" in terms
    assert f"{format_day(date(2026, 9, 1), language)}" in terms
    assert format_money(Money(20_000, "USD"), language) in terms and "$200.00" not in terms
    for english in ENGLISH_TERMS:
        assert english not in terms, english
    accepted = client.post(f"/plans/{waiting.public_id}/answer",
                           data={"csrf_token": token, "answer": "accept", "terms_digest": digest})
    assert accepted.status_code == 303, accepted.get_data(as_text=True)[:500]
    db.expire_all()
    agreements = db.scalars(select(PlanAgreement).where(PlanAgreement.plan_id == waiting.id)
                            .order_by(PlanAgreement.id)).all()
    assert db.get(Plan, waiting.id).status == "active" and agreements[-1].terms_text == terms


@pytest.mark.parametrize("language", ["fr", "de"])
def test_a_new_schedule_is_shown_and_stored_in_the_contacts_language(client, db, clock, dupont, language):
    clerk, first, _ = dupont
    clerk.language = language
    plan = make_test_plan(db, clock, clerk, [first], count=4)
    move_installment(plan.installments[0], "paid", clock.now())
    db.commit()
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.COLLECTOR), clock)
    token = csrf_from(client.get(f"/admin/plans/{plan.public_id}"))
    assert client.post(f"/admin/plans/{plan.public_id}/amend", data={
        "csrf_token": token, "count": "3", "cadence": "weekly", "first": "2026-07-06",
        "reason": "Smaller payments."}).status_code == 303
    sign_in(client, clerk, clock)
    html, digest, token = _answer(client, plan.public_id, language)
    terms = _terms(html, "amendment-terms")
    words = WORDS[language]
    assert words["amendment"] in terms and words["replaces"] in terms and words["myself"] in terms
    assert format_money(Money(45_000, "USD"), language) in terms
    assert f"  5. {format_day(date(2026, 7, 6), language)}" in terms and "2026-07-06" not in terms
    for english in ENGLISH_TERMS:
        assert english not in terms, english
    accepted = client.post(f"/plans/{plan.public_id}/answer",
                           data={"csrf_token": token, "answer": "accept", "terms_digest": digest})
    assert accepted.status_code == 303, accepted.get_data(as_text=True)[:500]
    db.expire_all()
    agreements = db.scalars(select(PlanAgreement).where(PlanAgreement.plan_id == plan.id)
                            .order_by(PlanAgreement.id)).all()
    assert len(agreements) == 2 and agreements[-1].terms_text == terms
