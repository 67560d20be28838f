"""Card testing: only real card declines count, per invoice link, per contact and per customer
(policy.DECLINES_BEFORE_PAUSE), so one holder of a forwarded link cannot lock the company out.
A paused request answers 429 and sends nothing to Stripe until the oldest counted decline is
an hour old."""

from __future__ import annotations

from portal.domain.payments.policy import DECLINES_BEFORE_PAUSE
from tests.support.factories import make_contact, make_invoice_link, sign_in
from tests.support.fixtures.stripe import CARD_DECLINED, CARD_OK
from tests.support.paying import make_company
from tests.support.paying import counts, pay


def test_declines_pause_the_contact_who_made_them_not_the_other_clerk(app, client, db, clock, localstripe):
    company = make_company(db, clock, 12_500, 8_000)
    other_clerk = make_contact(db, clock, company.customer, email=f"second-{company.customer.id}@example.com")
    other = make_company(db, clock, 9_000)
    sign_in(client, company.clerk, clock)
    invoice = company.invoices[0]

    for attempt in range(DECLINES_BEFORE_PAUSE["contact"]):
        response = pay(client, {invoice: "125.00"}, localstripe.card_token(CARD_DECLINED))
        assert response.status_code == 402, (attempt, response.get_json())
        clock.advance(minutes=5)

    intents_before, rows_before = len(localstripe.intents()), counts(db)
    response = pay(client, {invoice: "125.00"}, localstripe.card_token(CARD_OK))
    assert response.status_code == 429
    assert "paused for 35 minutes" in response.get_json()["error"]
    assert response.headers["Retry-After"] == str(35 * 60)
    assert len(localstripe.intents()) == intents_before  # Stripe never saw the good card
    assert counts(db) == rows_before  # no attempt, no audit row

    # The company's other clerk, and another customer, still pay.
    for contact, amounts in ((other_clerk, {company.invoices[1]: "80.00"}), (other.clerk, {other.invoices[0]: "90.00"})):
        other_client = app.test_client()
        sign_in(other_client, contact, clock)
        answer = pay(other_client, amounts, localstripe.card_token(CARD_OK))
        assert answer.status_code == 200, answer.get_json()

    # Declines came at 0, 5, 10, 15 and 20 minutes; it is now 25. Once the first is an hour
    # old, four remain in the window and the clerk may pay again.
    clock.advance(minutes=35, seconds=1)
    sign_in(client, company.clerk, clock)  # 35 idle minutes ended the session, as they should
    response = pay(client, {invoice: "125.00"}, localstripe.card_token(CARD_OK))
    assert response.status_code == 200, response.get_json()


def test_bogus_tokens_from_a_forwarded_link_are_not_declines(app, client, db, clock, localstripe):
    """Five `card_token=tok_bogus...` posts from a forwarded invoice link used to pause the whole
    company for an hour. Stripe's "No such token" is not a card decline: nothing counts."""
    company = make_company(db, clock, 12_500, 8_000)
    link = make_invoice_link(db, clock, company.ap_mailbox, company.invoices[:1])
    sign_in(client, company.ap_mailbox, clock, link=link)
    first = company.invoices[0]
    for attempt in range(DECLINES_BEFORE_PAUSE["customer"] + 1):
        response = pay(client, {first: "125.00"}, f"tok_bogus{attempt:04d}")
        assert response.status_code == 402, (attempt, response.get_json())
        assert "could not be used" in response.get_json()["error"]

    clerk = app.test_client()
    sign_in(clerk, company.clerk, clock)
    assert pay(clerk, {company.invoices[1]: "80.00"}, localstripe.card_token(CARD_OK)).status_code == 200


def test_real_declines_through_a_link_pause_that_link_only(app, client, db, clock, localstripe):
    company = make_company(db, clock, 12_500, 8_000)
    link = make_invoice_link(db, clock, company.clerk, company.invoices[:1])
    sign_in(client, company.clerk, clock, link=link)  # the clerk's reminder link, forwarded
    first = company.invoices[0]
    for _ in range(DECLINES_BEFORE_PAUSE["link"]):
        assert pay(client, {first: "125.00"}, localstripe.card_token(CARD_DECLINED)).status_code == 402
    paused = pay(client, {first: "125.00"}, localstripe.card_token(CARD_OK))
    assert paused.status_code == 429 and "through this link" in paused.get_json()["error"]

    # The clerk, signed in on their own, is below the contact's limit and pays.
    own = app.test_client()
    sign_in(own, company.clerk, clock)
    assert pay(own, {company.invoices[1]: "80.00"}, localstripe.card_token(CARD_OK)).status_code == 200


def test_the_whole_customer_pauses_after_declines_from_many_contacts(app, db, clock, localstripe):
    company = make_company(db, clock, 12_500)
    invoice = company.invoices[0]
    limit = DECLINES_BEFORE_PAUSE["customer"]
    per_contact = DECLINES_BEFORE_PAUSE["contact"] - 1
    made = 0
    while made < limit:
        contact = make_contact(db, clock, company.customer, email=f"c{made}-{company.customer.id}@example.com")
        tester = app.test_client()
        sign_in(tester, contact, clock)
        for _ in range(min(per_contact, limit - made)):
            assert pay(tester, {invoice: "125.00"}, localstripe.card_token(CARD_DECLINED)).status_code == 402
            made += 1
    sign_in(tester := app.test_client(), company.clerk, clock)
    paused = pay(tester, {invoice: "125.00"}, localstripe.card_token(CARD_OK))
    assert paused.status_code == 429 and "for this account" in paused.get_json()["error"]
