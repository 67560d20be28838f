"""Card testing: after 5 declines for one customer within an hour, new card attempts pause
(429, nothing sent to Stripe) until the oldest of those declines is an hour old."""

from __future__ import annotations

from portal.domain.payments.policy import DECLINES_BEFORE_PAUSE
from tests.factories import sign_in
from tests.fixtures.stripe import CARD_DECLINED, CARD_OK
from tests.payments.conftest import make_company
from tests.payments.paying import counts, pay


def test_declines_pause_card_payments_for_the_customer_only(app, client, db, clock, localstripe):
    company = make_company(db, clock, 12_500)
    other = make_company(db, clock, 9_000)
    sign_in(client, company.clerk, clock)
    invoice = company.invoices[0]

    for attempt in range(DECLINES_BEFORE_PAUSE):
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

    # Another customer is not affected.
    other_client = app.test_client()
    sign_in(other_client, other.clerk, clock)
    assert pay(other_client, {other.invoices[0]: "90.00"}, localstripe.card_token(CARD_OK)).status_code == 200

    # Declines came at 0, 5, 10, 15 and 20 minutes; it is now 25. Once the first is an hour
    # old, four remain in the window and payments resume.
    clock.advance(minutes=35, seconds=1)
    sign_in(client, company.clerk, clock)  # 35 idle minutes ended the session, as they should
    response = pay(client, {invoice: "125.00"}, localstripe.card_token(CARD_OK))
    assert response.status_code == 200, response.get_json()
