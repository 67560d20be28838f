"""A10: every state-changing request needs a CSRF token; only the Stripe webhook (signed) and
the ERP's API (a bearer key, never a cookie) are exempt.

The sweep reads `app.url_map` at run time, so forms added later by anyone are covered.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.domain.access.models import AccessLink
from portal.domain.core.models import AuditEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.payments.models import Payment
from tests.support.factories import sign_in
from tests.support.fixtures.links import csrf_from, csrf_for, methods_of, rule_path, swept_rules

CSRF_REFUSAL = "This form has expired"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXEMPT_BLUEPRINTS = {"webhooks", "api"}


def _unsafe_rules(app):
    return [(rule, method) for rule in swept_rules(app) for method in methods_of(rule) if method in UNSAFE_METHODS]


def _counts(db) -> tuple[int, ...]:
    db.commit()
    return tuple(db.scalar(select(func.count()).select_from(model))
                 for model in (OutboxMessage, AuditEntry, AccessLink, Payment))


def test_csrf_is_on_in_the_app_under_test(app):
    assert app.config["WTF_CSRF_ENABLED"] is True
    assert app.config.get("WTF_CSRF_CHECK_DEFAULT", True) is True


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("token", ["missing", "foreign"])
def test_every_unsafe_request_without_a_valid_token_is_refused(app, db, clock, acme, signed_in, token):
    client = app.test_client()
    if signed_in:
        sign_in(client, acme.contact, clock)
    form = {"email": "ap@acme.example", "invoice": acme.invoices[0].public_id}
    if token == "foreign":  # a real token, from someone else's session
        form["csrf_token"] = csrf_for(app.test_client())
    ids = {"public_id": acme.invoices[0].public_id}
    before = _counts(db)

    checked, failures = 0, []
    for rule, method in _unsafe_rules(app):
        if rule.endpoint.split(".")[0] in EXEMPT_BLUEPRINTS:
            continue
        response = client.open(rule_path(rule, ids), method=method, data=form)
        checked += 1
        if response.status_code != 400 or CSRF_REFUSAL not in response.get_data(as_text=True):
            failures.append(f"{method} {rule.rule} ({rule.endpoint}) → {response.status_code}")

    assert failures == [], "\n".join(failures)
    assert checked >= 5  # the auth forms at least
    assert _counts(db) == before  # nothing was written, no email queued
    if signed_in:
        assert client.get("/").status_code == 302 and client.get("/").headers["Location"] == "/account"


def test_the_webhook_is_not_refused_for_want_of_a_csrf_token(app):
    for rule, method in _unsafe_rules(app):
        if rule.endpoint.split(".")[0] in EXEMPT_BLUEPRINTS:
            response = app.test_client().open(rule_path(rule), method=method, data=b"{}")
            assert CSRF_REFUSAL not in response.get_data(as_text=True)


def test_the_exempt_set_is_exactly_the_webhook_and_api_blueprints(app):
    csrf = app.extensions["csrf"]
    assert {blueprint.name for blueprint in csrf._exempt_blueprints} == EXEMPT_BLUEPRINTS
    assert csrf._exempt_views == set()


def test_a_valid_token_gets_through(app, clock, acme):
    client = app.test_client()
    sign_in(client, acme.contact, clock)
    response = client.post("/sign-out", data={"csrf_token": csrf_for(client, "/invoices")})
    assert response.status_code == 302


_POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)


def test_every_post_form_on_the_auth_pages_carries_a_token(app, db, clock, link_signer, acme):
    from portal.domain.access.service import issue_invoice_link, issue_sign_in_link

    sign_in_link = issue_sign_in_link(db, clock, link_signer, contact=acme.contact)
    invoice_link = issue_invoice_link(db, clock, link_signer, contact=acme.contact, invoices=acme.invoices[:1])
    db.commit()
    client = app.test_client()
    pages = [client.get(path) for path in (
        "/sign-in", "/signed-out?reason=idle", sign_in_link.url[len("http://localhost"):],
        invoice_link.url[len("http://localhost"):],
    )]
    client.post(invoice_link.url[len("http://localhost"):], data={"csrf_token": csrf_from(pages[-1])})
    pages.append(client.get("/account"))  # the "needs a sign-in link" page
    forms = [form for page in pages for form in _POST_FORM.findall(page.get_data(as_text=True))]
    assert len(forms) >= 5
    assert all('name="csrf_token"' in form for form in forms)
