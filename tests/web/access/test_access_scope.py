"""A2: a forwarded reminder (an invoice link) opens its invoices and nothing else.

Written against the account and payments endpoints (`account.invoice`, `account.invoices`,
`account.overview`, `account.statement_pdf`, `account.invoice_pdf`, `payments.history`,
`payments.pay`); it skips, naming what is missing, until those routes exist. Pages added later
are covered by the sweep: every page without an id argument that is not in
`INVOICE_LINK_PAGES` must refuse an invoice-link session.
"""

from __future__ import annotations

import pytest

from portal.domain.access.service import issue_invoice_link
from tests.support.factories import make_allocated_payment
from tests.support.fixtures.links import csrf_from, path_of, rule_path, swept_rules

REQUIRED_ENDPOINTS = (
    "account.invoice", "account.invoices", "account.overview", "account.statement_pdf",
    "account.invoice_pdf", "payments.history",
)
# Pages an invoice-link holder may open: the linked invoices' list, paying them, and their
# disputes (the list shows only disputes of the linked invoices, the raise form takes only
# those: tests/web/disputes/test_dispute_pages.py), and their promises to pay (the same:
# tests/web/promises/test_promise_pages.py), and the reminder's page where the link lands (the
# pay page's figures for the named invoices only: tests/web/reminders/test_reminder_journey.py).
# The "we need a PO" and "I'm not the right person" forms take only the linked invoices too
# (tests/web/followups/test_followup_source_pages.py), and so do "There's a problem" and its
# "we already paid it" and "waiting for approval" forms (tests/web/followups/).
INVOICE_LINK_PAGES = {"account.invoices", "payments.pay", "disputes.index", "disputes.new", "promises.index",
                      "promises.new", "reminders.act", "followup_sources.po_form", "followup_sources.contact_form",
                      "followups.menu", "followups.new_paid", "followups.new_approval"}
# Blueprints that are not customer pages.
# The ERP's API (`api.`) takes a bearer key, never a customer session: tests/web/api checks it.
NOT_CUSTOMER_PAGES = ("auth.", "webhooks.", "admin.", "api.")


@pytest.fixture
def forwarded(app, db, clock, link_signer, acme):
    """A colleague's browser signed in through an invoice link for Acme's first invoice."""
    missing = [endpoint for endpoint in REQUIRED_ENDPOINTS if endpoint not in app.view_functions]
    assert missing == [], "routes this test protects are gone"
    issued = issue_invoice_link(db, clock, link_signer, contact=acme.contact, invoices=acme.invoices[:1])
    db.commit()
    colleague = app.test_client()
    page = colleague.get(path_of(issued.url))
    assert colleague.post(path_of(issued.url), data={"csrf_token": csrf_from(page)}).status_code == 302
    return colleague


def _url(app, endpoint, **values):
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values)


def test_the_linked_invoice_opens(app, forwarded, acme):
    linked = acme.invoices[0]
    page = forwarded.get(_url(app, "account.invoice", public_id=linked.public_id))
    assert page.status_code == 200 and linked.number in page.get_data(as_text=True)
    assert forwarded.get(_url(app, "account.invoice_pdf", public_id=linked.public_id)).status_code == 200


def test_other_invoices_of_the_same_company_do_not(app, forwarded, acme):
    other = acme.invoices[1]
    assert forwarded.get(_url(app, "account.invoice", public_id=other.public_id)).status_code == 404
    assert forwarded.get(_url(app, "account.invoice_pdf", public_id=other.public_id)).status_code == 404
    listing = forwarded.get(_url(app, "account.invoices")).get_data(as_text=True)
    assert acme.invoices[0].number in listing and other.number not in listing
    assert other.public_id not in listing
    search = forwarded.get(_url(app, "account.invoices", q=other.number)).get_data(as_text=True)
    assert other.public_id not in search  # (the search box echoes the number typed)


@pytest.mark.parametrize("endpoint", ["account.overview", "account.statement_pdf", "payments.history"])
def test_account_wide_pages_explain_and_offer_a_sign_in_link(app, forwarded, endpoint):
    response = forwarded.get(_url(app, endpoint))
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "This page needs a sign-in link" in body
    assert 'action="/sign-in/email-me"' in body and "ap@acme.example" in body


def test_every_other_page_refuses_an_invoice_link_session(app, forwarded):
    """A sweep: pages added later (disputes, settings...) are refused unless listed above."""
    opened = []
    for rule in swept_rules(app):
        if rule.arguments or "GET" not in rule.methods or rule.endpoint.startswith(NOT_CUSTOMER_PAGES):
            continue
        if rule.endpoint in INVOICE_LINK_PAGES:
            continue
        status = forwarded.get(rule_path(rule)).status_code
        if status not in (403, 404):
            opened.append(f"{rule.rule} ({rule.endpoint}) → {status}")
    assert opened == [], "\n".join(opened)


def test_the_pay_page_does_not_take_other_invoices(app, forwarded, acme):
    other = acme.invoices[1]
    response = forwarded.get(_url(app, "payments.pay"), query_string={"invoice": other.public_id})
    assert response.status_code in (400, 403, 404) or other.number not in response.get_data(as_text=True)


def test_payments_on_other_invoices_stay_hidden(app, db, clock, forwarded, acme):
    payment = make_allocated_payment(db, clock, acme.customer, [(acme.invoices[1], 1_000)], status="succeeded")
    for endpoint in ("payments.payment", "payments.status"):
        if endpoint in app.view_functions:
            assert forwarded.get(_url(app, endpoint, public_id=payment.public_id)).status_code in (403, 404)
