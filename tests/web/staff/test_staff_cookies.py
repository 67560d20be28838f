"""A9 for staff: the staff cookie's flags, what it holds, and how the admin pages are served."""

from __future__ import annotations

from sqlalchemy import select

from admin.session import STAFF_COOKIE
from portal.domain.staff.models import StaffSession
from portal.domain.core.ids import token_hash
from tests.support.factories import STAFF_PASSWORD, make_staff
from tests.support.fixtures.links import csrf_from

HTTPS = "https://localhost"


def _cookie(response, name: str) -> tuple[str, dict[str, str]]:
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        cookie_name, _, value = first.partition("=")
        if cookie_name == name:
            parsed = {}
            for attribute in attributes:
                key, _, attribute_value = attribute.partition("=")
                parsed[key.lower()] = attribute_value
            return value, parsed
    raise AssertionError(f"no {name} cookie set")


def _sign_in(app, db, clock, base_url="http://localhost"):
    member = make_staff(db, clock)
    client = app.test_client()
    page = client.get("/admin/sign-in", base_url=base_url)
    # Over HTTPS Flask-WTF also checks the Referer, which a browser sends on a same-origin POST.
    response = client.post("/admin/sign-in", base_url=base_url, headers={"Referer": base_url + "/admin/sign-in"},
                           data={"csrf_token": csrf_from(page), "email": member.email, "password": STAFF_PASSWORD})
    assert response.status_code == 302
    return client, response


def test_in_production_the_staff_cookie_is_secure_httponly_lax_and_only_for_admin(make_app, db, clock):
    app = make_app(session_cookie_secure=True)
    _, response = _sign_in(app, db, clock, base_url=HTTPS)
    token, flags = _cookie(response, STAFF_COOKIE)
    assert "secure" in flags and "httponly" in flags
    assert flags["samesite"] == "Lax" and flags["path"] == "/admin"
    # Dies with the browser; the server ends it after 15 idle minutes or 8 hours anyway.
    assert "expires" not in flags and "max-age" not in flags
    # The cookie is a random id whose hash names the row; the row does not hold the id.
    db.commit()
    row = db.scalar(select(StaffSession))
    assert len(token) >= 43 and row.token_hash == token_hash(token) and token not in row.token_hash


def test_signing_in_gives_a_fresh_csrf_token_and_ends_the_browsers_previous_staff_session(app, db, clock):
    client, first = _sign_in(app, db, clock)
    old_token, _ = _cookie(first, STAFF_COOKIE)
    before = csrf_from(client.get("/admin/account"))
    member = make_staff(db, clock, role="supervisor")
    page = client.get("/admin/account")
    client.post("/admin/sign-out", data={"csrf_token": csrf_from(page)})
    page = client.get("/admin/sign-in")
    second = client.post("/admin/sign-in", data={"csrf_token": csrf_from(page), "email": member.email,
                                                 "password": STAFF_PASSWORD})
    new_token, _ = _cookie(second, STAFF_COOKIE)
    assert new_token != old_token
    assert csrf_from(client.get("/admin/account")) != before


def test_admin_pages_are_never_cached(app, db, clock):
    client, _ = _sign_in(app, db, clock)
    for path in ("/admin/", "/admin/account", "/admin/sign-in"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_a_garbage_or_oversized_cookie_is_just_signed_out(app):
    for value in ("x", "y" * 500, "%00"):
        client = app.test_client()
        client.set_cookie(STAFF_COOKIE, value, path="/admin")
        response = client.get("/admin/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/sign-in")
