"""A French contact's whole path in real Chromium, against localstripe and the SMTP sink.

The ERP file names the contact's language (`language=fr`); `send-reminders` writes to them in
French; the email read from the SMTP sink on 127.0.0.1 has a French subject and text, and its
link opens French pages (`<html lang="fr">`, French words, French money); the clerk pays by
card, localstripe's webhook settles it; the next `send-reminders` sends nothing for the paid
invoice, and `export-cash` lists the payment with its allocation. The same path in English
for a contact whose row names no language.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.domain.core.clock import FixedClock
from portal.domain.notifications.jobs import DeliveryPolicy, deliver_due
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.transport import SmtpTransport
from portal.domain.payments.models import Payment
from tests.support import localstripe_app
from tests.support.erp import HEADER, contact_row, customer_row, erp_csv, invoice_rows
from tests.support.fixtures.browser import fill_test_card
from tests.support.fixtures.stripe import CARD_OK

gateway, settings = localstripe_app.gateway, localstripe_app.settings
real_time_clock, webhooks_to_app = localstripe_app.real_time_clock, localstripe_app.webhooks_to_app

pytestmark = [pytest.mark.browser, pytest.mark.stripe]
NBSP, NNBSP = "\u00a0", "\u202f"

# language -> what the contact reads: subject, an email line, the page's words, the amount.
EXPECTED = {
    "fr": {"subject": f"Factures en retard{NBSP}: merci de régler 1{NNBSP}234,56{NBSP}$US", "line": "Bonjour Dupont SARL,",
           "continue": "Continuer", "heading": "Factures à régler", "amount": f"1{NNBSP}234,56{NBSP}$US",
           "pay": "Payer", "paid": "Payé"},
    "en": {"subject": "Overdue invoices: please pay $1,234.56", "line": "Hello Dupont SARL,",
           "continue": "Continue", "heading": "Invoices to settle", "amount": "$1,234.56",
           "pay": "Pay", "paid": "Paid"},
}


@pytest.fixture
def clock(real_time_clock) -> FixedClock:
    return real_time_clock


def _business_moment(now: datetime) -> datetime:
    """The latest weekday 10:00 UTC before `now`: reminders go out in business hours only."""
    moment = now.replace(hour=10, minute=0, second=0, microsecond=0)
    if moment > now:
        moment -= timedelta(days=1)
    while moment.weekday() >= 5:
        moment -= timedelta(days=1)
    return moment


def _run(runner, *args: str):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def _deliver(db, clock, smtp_sink) -> None:
    db.commit()
    deliver_due(db, clock, SmtpTransport(smtp_sink.host, smtp_sink.port), mail_from="billing@northwind.example",
                policy=DeliveryPolicy(batch_size=10, lease=timedelta(minutes=5), max_attempts=3))
    db.commit()


def _reminders(db, address: str) -> int:
    db.commit()
    return len(list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder",
                                                           OutboxMessage.to_address == address))))


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_imported_contact_is_reminded_pays_and_is_not_reminded_again_in_their_language(
        app, page: Page, db, clock, live_server, smtp_sink, webhooks_to_app, tmp_path, language):
    expected = EXPECTED[language]
    runner = app.test_cli_runner()
    business = _business_moment(clock.now())
    due = business.date() - timedelta(days=8)
    file = tmp_path / "erp.csv"
    contact = {**contact_row("P-9", customer="C-9", email="compta@dupont.example", name=""),
               "language": language if language != "en" else ""}
    file.write_bytes(erp_csv(customer_row("C-9", account="DUP-9", name="Dupont SARL", timezone="UTC"), contact,
                             *invoice_rows("I-9", customer="C-9", number="FA-9", total="1234.56",
                                           issue=(due - timedelta(days=30)).isoformat(), due=due.isoformat(),
                                           lines=(("Fromages", "1", "1234.56"),)),
                             header=[*HEADER, "language"]))
    assert _run(runner, "import-invoices", str(file)).output.strip() == "3 created, 0 updated, 0 unchanged"
    _, start = _cash(runner, "")

    clock.set(business)
    _run(runner, "send-reminders")
    _deliver(db, clock, smtp_sink)
    clock.set(datetime.now(UTC))  # localstripe signs its webhooks with the wall clock
    [mail] = smtp_sink.wait_for(1)
    assert mail.to == "compta@dupont.example"
    assert mail.subject == expected["subject"]
    assert expected["line"] in mail.text
    [url] = {u for u in re.findall(r"https?://\S+", mail.text) if "reminders%2Fact" in u}

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    page.goto(url.replace("http://localhost", live_server.url))
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.get_by_role("button", name=expected["continue"]).click()
    expect(page.get_by_role("heading", name=expected["heading"])).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", language)
    pay_link = page.locator("#pay-selected")
    expect(pay_link).to_have_text(f"{expected['pay']} {expected['amount']}")
    pay_link.click()

    page.wait_for_url(re.compile(r"/pay\?"))
    expect(page.locator("#pay-button")).to_have_text(f"{expected['pay']} {expected['amount']}")
    expect(page.locator("#pay-total")).to_have_text(expected["amount"])
    fill_test_card(page, CARD_OK)
    page.locator("#pay-button").click()
    page.wait_for_url(re.compile(r"/payments/"))
    badge = page.locator("h1 .badge")
    for _ in range(30):  # localstripe's webhook lands about a second later
        if badge.inner_text() == expected["paid"]:
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(badge).to_have_text(expected["paid"])
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert errors == []

    # Paid: a week on, the next step (15 days late) has nothing to chase; the cash export lists
    # the payment's allocation.
    clock.set(business + timedelta(days=7))
    _run(runner, "send-reminders")
    clock.set(datetime.now(UTC))
    assert _reminders(db, "compta@dupont.example") == 1
    payment = db.scalar(select(Payment))
    assert payment.status == "succeeded"
    rows, _cursor = _cash(runner, start)
    assert [(row["kind"], row["payment_reference"], row["invoice_number"], row["invoice_erp_id"],
             row["customer_erp_id"], row["amount"], row["currency"], row["payment_method"]) for row in rows] == [
        ("payment", payment.reference, "FA-9", "I-9", "C-9", "-1234.56", "USD", "card")]


def _cash(runner, since: str) -> tuple[list[dict], str]:
    result = _run(runner, "export-cash", "--since", since)
    return list(csv.DictReader(io.StringIO(result.stdout))), re.search(r"next_cursor=(\S+)", result.stderr).group(1)
