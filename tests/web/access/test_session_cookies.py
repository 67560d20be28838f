"""A9 (and the A4 header): session cookie flags, idle and absolute timeouts, fresh sessions."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from email.utils import parsedate_to_datetime

import pytest

from portal.domain.access.service import issue_invoice_link, issue_sign_in_link
from portal.web.customer_session import SESSION_KEY
from tests.support.fixtures.links import csrf_from, path_of

HTTPS = "https://localhost"


def _cookie_attributes(header: str) -> tuple[str, dict[str, str]]:
    """`name=value; Secure; HttpOnly; SameSite=Lax` → ("name", {"secure": "", ...})."""
    first, *attributes = [part.strip() for part in header.split(";")]
    name = first.split("=", 1)[0]
    parsed = {}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parsed[key.lower()] = value
    return name, parsed


def _session_cookie(response) -> dict[str, str]:
    for header in response.headers.getlist("Set-Cookie"):
        name, attributes = _cookie_attributes(header)
        if name == "portal_session":
            return attributes
    raise AssertionError("no portal_session cookie set")


def _signed_in_client(app, db, clock, signer, contact, base_url="http://localhost"):
    issued = issue_sign_in_link(db, clock, signer, contact=contact)
    db.commit()
    client = app.test_client()
    page = client.get(path_of(issued.url), base_url=base_url)
    # A browser sends the Referer on a same-origin POST under `Referrer-Policy: same-origin`.
    assert page.headers["Referrer-Policy"] == "same-origin"
    response = client.post(path_of(issued.url), data={"csrf_token": csrf_from(page)}, base_url=base_url,
                           headers={"Referer": base_url + path_of(issued.url)})
    assert response.status_code == 302
    return client, response


def test_session_cookie_is_secure_httponly_samesite_and_lives_12_hours(make_app, db, clock, link_signer, acme):
    app = make_app(session_cookie_secure=True)
    client, response = _signed_in_client(app, db, clock, link_signer, acme.contact, base_url=HTTPS)

    cookie = _session_cookie(response)
    assert "secure" in cookie and "httponly" in cookie
    assert cookie["samesite"] == "Lax" and cookie["path"] == "/"
    # Flask dates the cookie by the wall clock, not the app's clock.
    lifetime = parsedate_to_datetime(cookie["expires"]) - datetime.now(UTC)
    assert timedelta(hours=11, minutes=59) <= lifetime <= timedelta(hours=12, minutes=1)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_cookie_set_before_sign_in_has_the_same_flags(make_app):
    response = make_app(session_cookie_secure=True).test_client().get("/sign-in", base_url=HTTPS)
    cookie = _session_cookie(response)
    assert "secure" in cookie and "httponly" in cookie and cookie["samesite"] == "Lax"


def test_signing_in_starts_a_fresh_session(app, db, clock, link_signer, acme):
    issued = issue_sign_in_link(db, clock, link_signer, contact=acme.contact)
    db.commit()
    client = app.test_client()
    page = client.get(path_of(issued.url))
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.post(path_of(issued.url), data={"csrf_token": csrf_from(page)})
    with client.session_transaction() as session:
        assert "planted" not in session and SESSION_KEY in session


def test_idle_for_more_than_30_minutes_signs_out(app, db, clock, link_signer, acme):
    client, _ = _signed_in_client(app, db, clock, link_signer, acme.contact)
    for _ in range(3):  # activity keeps the session alive past 30 minutes in total
        clock.advance(minutes=29)
        assert client.get("/invoices").status_code == 200

    clock.advance(minutes=30, seconds=1)
    response = client.get("/invoices")
    assert response.status_code == 302
    assert response.headers["Location"] == "/signed-out?reason=idle&next=/invoices"
    with client.session_transaction() as session:
        assert SESSION_KEY not in session
    clock.advance(seconds=1)
    assert client.get("/invoices").status_code == 302  # stays signed out


def test_sessions_end_after_12_hours_however_active(app, db, clock, link_signer, acme):
    client, _ = _signed_in_client(app, db, clock, link_signer, acme.contact)
    for _ in range(28):  # every 25 minutes for 11 h 40 min
        clock.advance(minutes=25)
        assert client.get("/invoices").status_code == 200
    clock.advance(minutes=20, seconds=1)
    response = client.get("/invoices")
    assert response.headers["Location"].startswith("/signed-out?reason=expired")


def test_an_invoice_link_session_ends_when_the_link_expires(app, db, clock, link_signer, acme):
    issued = issue_invoice_link(db, clock, link_signer, contact=acme.contact, invoices=acme.invoices)
    db.commit()
    client = app.test_client()
    page = client.get(path_of(issued.url))
    client.post(path_of(issued.url), data={"csrf_token": csrf_from(page)})
    assert client.get("/invoices").status_code == 200
    clock.set(issued.link.expires_at)
    assert client.get("/invoices").headers["Location"].startswith("/signed-out?reason=expired")


def test_https_posts_need_the_same_origin_referer_the_policy_lets_browsers_send(make_app, db, clock, link_signer, acme):
    """Flask-WTF checks the Referer on HTTPS posts: a policy of `no-referrer` would refuse
    every form in production. `same-origin` sends it to us and to nobody else."""
    app = make_app(session_cookie_secure=True)
    client = app.test_client()
    page = client.get("/sign-in", base_url=HTTPS)
    form = {"csrf_token": csrf_from(page), "email": "ap@acme.example"}
    assert client.post("/sign-in", data=form, base_url=HTTPS).status_code == 400
    assert client.post("/sign-in", data=form, base_url=HTTPS,
                       headers={"Referer": "https://evil.example/sign-in"}).status_code == 400
    assert client.post("/sign-in", data=form, base_url=HTTPS,
                       headers={"Referer": HTTPS + "/sign-in"}).status_code == 200


@pytest.mark.parametrize("path", ["/sign-in", "/link/sign-in/whatever"])
def test_pages_keep_tokens_off_other_sites_and_out_of_caches(client, path):
    response = client.get(path)
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
