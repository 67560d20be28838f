"""The pay page's own checks speak the contact's language in Chromium: pay.js takes its words
from the form's data-messages (French here), and the example amount is the one the field
reads back ("125.00"), not the money as the page shows it ("125,00 $US")."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.fixtures.browser import real_stripe_dialect, sign_in_browser
from tests.support.paying import make_company

pytestmark = pytest.mark.browser


settings, gateway = real_stripe_dialect()


def test_a_french_contact_reads_the_pay_pages_field_errors_in_french(page: Page, app, db, clock, live_server,
                                                                     stripe_recorder):
    company = make_company(db, clock, 12_500, 8_000)
    company.clerk.language = "fr"
    db.commit()
    first, second = company.invoices
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    page.goto(f"{live_server.url}/pay?invoice={first.public_id}&invoice={second.public_id}")
    page.locator(f"#amount-{first.public_id}").fill("cent")
    page.locator(f"#amount-{second.public_id}").fill("50.00")
    page.locator("#pay-button").click()

    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#pay-error")).to_have_text("Vérifiez ces champs\u00a0:")
    expect(page.locator("#error-list a")).to_have_text([
        f"{first.number}\u00a0: saisissez un montant, par exemple 125.00",
        f"{second.number}\u00a0: motif requis (vous payez moins que le solde dû)",
    ])
    expect(page.locator(f"#amount-{first.public_id}-error")).to_have_text("Saisissez un montant, par exemple 125.00")
    expect(page.locator(f"#reason-{second.public_id}-error")).to_have_text("Motif requis")

    # Too much on one invoice: at most its balance, shown as the page shows money.
    page.locator(f"#amount-{first.public_id}").fill("200.00")
    page.locator(f"#reason-{second.public_id}").fill("Avoir attendu")
    page.locator("#pay-button").click()
    expect(page.locator("#pay-error")).to_have_text("Vérifiez ce champ\u00a0:")
    expect(page.locator("#error-list a")).to_have_text([f"{first.number}\u00a0: montant dû de 125,00\u00a0$US au plus"])
    assert stripe_recorder.recorder.requests == []  # nothing was sent anywhere


def test_a_failed_connection_is_told_in_french_with_the_way_back_to_pay(page: Page, app, db, clock, live_server,
                                                                          stripe_recorder):
    company = make_company(db, clock, 12_500)
    company.clerk.language = "fr"
    db.commit()
    sign_in_browser(app, db, clock, page, live_server, company.clerk)
    page.add_init_script("window.STRIPE_STANDIN_SCRIPT = ['ok'];")
    page.route("**/pay", lambda route: route.abort("connectionreset") if route.request.method == "POST"
               else route.continue_())
    page.goto(f"{live_server.url}/pay?invoice={company.invoices[0].public_id}")
    page.locator("#pay-button").click()

    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#pay-error")).to_have_text(
        "La connexion a échoué. Vérifiez vos paiements avant de payer à nouveau\u00a0: le paiement a peut-être été effectué.")
    back = page.get_by_role("link", name="Retour au bouton Payer")
    back.click()
    expect(page.locator("#pay-button")).to_be_focused()
