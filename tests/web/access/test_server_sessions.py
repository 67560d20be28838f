"""A13: a copied session cookie dies with its session. Sessions are rows on the server, checked
on every request; signing out, staff revocation and the timeouts end them for every copy.

Before the fix the cookie was the whole session: a copy taken before `POST /sign-out` stayed
signed in for up to 12 hours.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from portal.domain.access.models import CustomerSession
from portal.domain.access.service import issue_sign_in_link, revoke_contact_access
from portal.domain.core.audit import Actor
from tests.support.fixtures.links import csrf_from, path_of

COOKIE = "portal_session"


def _sign_in(app, db, clock, signer, contact):
    issued = issue_sign_in_link(db, clock, signer, contact=contact)
    db.commit()
    client = app.test_client()
    page = client.get(path_of(issued.url))
    assert client.post(path_of(issued.url), data={"csrf_token": csrf_from(page)}).status_code == 302
    return client


def _copy(app, client):
    """A second browser holding a copy of `client`'s session cookie (the stolen one)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def _signed_in(client) -> bool:
    response = client.get("/invoices")
    return response.status_code == 200


def _sessions(db, contact):
    db.rollback()
    return list(db.scalars(select(CustomerSession).where(CustomerSession.contact_id == contact.id)
                           .order_by(CustomerSession.id)))


def test_a_copied_cookie_is_signed_out_with_its_original(app, db, clock, link_signer, acme):
    client = _sign_in(app, db, clock, link_signer, acme.contact)
    thief = _copy(app, client)
    assert _signed_in(thief)

    page = client.get("/invoices")
    assert client.post("/sign-out", data={"csrf_token": csrf_from(page)}).status_code == 302

    replay = thief.get("/invoices")
    assert replay.status_code == 302 and "reason=signed_out" in replay.headers["Location"]
    [row] = _sessions(db, acme.contact)
    assert row.ended_at == clock.now() and row.end_reason == "signed_out"


def test_the_session_row_holds_no_usable_id(app, db, clock, link_signer, acme):
    client = _sign_in(app, db, clock, link_signer, acme.contact)
    [row] = _sessions(db, acme.contact)
    with client.session_transaction() as session:
        sid = session["customer"]["sid"]
    assert len(sid) >= 43 and sid not in row.token_hash and len(row.token_hash) == 64
    assert row.scope == "account" and row.ended_at is None and row.created_at == row.last_seen_at == clock.now()


def test_staff_revocation_ends_every_live_session_of_the_contact(app, db, clock, link_signer, acme):
    first = _sign_in(app, db, clock, link_signer, acme.contact)
    second = _sign_in(app, db, clock, link_signer, acme.contact)
    copies = [first, second, _copy(app, first)]
    assert all(_signed_in(c) for c in copies)

    revoke_contact_access(db, clock, contact=acme.contact, actor=Actor("staff", "cli:test"))
    db.commit()

    for c in copies:
        response = c.get("/invoices")
        assert response.status_code == 302 and "reason=revoked" in response.headers["Location"]
    assert {(row.end_reason, row.ended_at is not None) for row in _sessions(db, acme.contact)} == {("revoked", True)}


def test_the_server_ends_an_idle_session_whatever_the_cookie_says(app, db, clock, link_signer, acme):
    client = _sign_in(app, db, clock, link_signer, acme.contact)
    [row] = _sessions(db, acme.contact)
    db.execute(update(CustomerSession).where(CustomerSession.id == row.id)
               .values(last_seen_at=clock.now() - timedelta(minutes=31)))
    db.commit()
    response = client.get("/invoices")
    assert response.status_code == 302 and "reason=idle" in response.headers["Location"]


def test_use_keeps_the_session_alive_on_the_server_and_a_stale_copy_then_dies_at_its_absolute_limit(
        app, db, clock, link_signer, acme):
    client = _sign_in(app, db, clock, link_signer, acme.contact)
    for _ in range(4):
        clock.advance(minutes=20)
        assert _signed_in(client)
    [row] = _sessions(db, acme.contact)
    assert row.last_seen_at == clock.now()
    db.execute(update(CustomerSession).where(CustomerSession.id == row.id)
               .values(created_at=clock.now() - timedelta(hours=12, minutes=1)))
    db.commit()
    response = client.get("/invoices")
    assert response.status_code == 302 and "reason=expired" in response.headers["Location"]


def test_signing_in_again_ends_the_browsers_previous_session(app, db, clock, link_signer, acme):
    client = _sign_in(app, db, clock, link_signer, acme.contact)
    thief = _copy(app, client)
    issued = issue_sign_in_link(db, clock, link_signer, contact=acme.contact)
    db.commit()
    page = client.get(path_of(issued.url))
    assert client.post(path_of(issued.url), data={"csrf_token": csrf_from(page)}).status_code == 302

    assert _signed_in(client)
    response = thief.get("/invoices")
    assert response.status_code == 302 and "reason=replaced" in response.headers["Location"]
    assert [row.end_reason for row in _sessions(db, acme.contact)] == ["replaced", ""]
