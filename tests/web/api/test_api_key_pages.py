"""/admin/api-keys: admins only (MANAGE_API_KEYS); making a key shows its secret on that one
answer and stores only its hash; revoking ends it at once; both need a CSRF token and a recent
sign-in, and each leaves an audit row."""

from __future__ import annotations

import hashlib
import html
import re

import pytest
from sqlalchemy import func, select

from portal.domain.apikeys.models import ApiKey
from portal.domain.core.models import AuditEntry
from tests.support.api import bearer
from tests.support.factories import make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from

KEY = re.compile(r"erpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def _client(app, db, clock, role="admin"):
    client = app.test_client()
    staff_sign_in(client, make_staff(db, clock, role=role), clock)
    return client


def _create(client, name="ERP production", scopes=("invoices:write", "cash:read"), csrf=None):
    token = csrf if csrf is not None else csrf_from(client.get("/admin/api-keys"))
    return client.post("/admin/api-keys", data={"csrf_token": token, "name": name, "scopes": list(scopes)})


def _audits(db, action):
    db.commit()
    return db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def test_making_a_key_shows_the_secret_once_and_stores_its_hash(app, db, clock):
    client = _client(app, db, clock)
    response = _create(client)
    assert response.status_code == 200
    [key] = KEY.findall(response.get_data(as_text=True))
    db.commit()
    stored = db.scalar(select(ApiKey))
    secret = key[len("erpk_") + 13:]
    assert stored.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert (stored.name, stored.scopes) == ("ERP production", "invoices:write cash:read")
    later = client.get("/admin/api-keys").get_data(as_text=True)
    assert secret not in later and f"erpk_{stored.prefix}_" in html.unescape(later)
    assert _audits(db, "api_key.created") == 1
    # The key works, within its scopes.
    assert app.test_client().get("/api/v1/cash", headers=bearer(key)).status_code == 200
    assert app.test_client().get("/api/v1/customers", headers=bearer(key)).status_code == 403


@pytest.mark.parametrize(("name", "scopes", "words"), [
    ("", ("cash:read",), "Give the key a name"),
    ("ERP", (), "Choose at least one scope"),
    ("ERP", ("root",), "Unknown scope"),
    ("line\nbreak", ("cash:read",), "one line"),
])
def test_a_bad_key_request_is_refused_and_makes_nothing(app, db, clock, name, scopes, words):
    client = _client(app, db, clock)
    response = _create(client, name=name, scopes=scopes)
    assert response.status_code == 400 and words in html.unescape(response.get_data(as_text=True))
    assert not KEY.search(response.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_revoking_a_key_ends_it(app, db, clock):
    client = _client(app, db, clock)
    [key] = KEY.findall(_create(client).get_data(as_text=True))
    prefix = key.split("_")[1]
    page = client.get("/admin/api-keys")
    response = client.post(f"/admin/api-keys/{prefix}/revoke", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert app.test_client().get("/api/v1/cash", headers=bearer(key)).status_code == 401
    assert _audits(db, "api_key.revoked") == 1
    assert "revoked" in client.get("/admin/api-keys").get_data(as_text=True)


def test_making_or_revoking_without_the_csrf_token_is_refused(app, db, clock):
    client = _client(app, db, clock)
    assert _create(client, csrf="forged").status_code == 400
    assert db.scalar(select(func.count()).select_from(ApiKey)) == 0
    [key] = KEY.findall(_create(client).get_data(as_text=True))
    response = client.post(f"/admin/api-keys/{key.split('_')[1]}/revoke", data={})
    assert response.status_code == 400
    db.expire_all()
    assert db.scalar(select(ApiKey.revoked_at)) is None


@pytest.mark.parametrize("role", ["supervisor", "analyst", "collector"])
def test_only_admins_reach_the_page(app, db, clock, role):
    client = _client(app, db, clock, role)
    assert client.get("/admin/api-keys").status_code == 403
    token = csrf_from(client.get("/admin/"))
    response = client.post("/admin/api-keys", data={"csrf_token": token, "name": "x", "scopes": ["cash:read"]})
    assert response.status_code == 403 and db.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_making_a_key_needs_a_recent_sign_in(app, db, clock):
    client = _client(app, db, clock)
    token = csrf_from(client.get("/admin/api-keys"))
    clock.advance(minutes=11)
    response = client.post("/admin/api-keys", data={"csrf_token": token, "name": "x", "scopes": ["cash:read"]})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/confirm-identity")
    assert db.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_the_settings_page_links_to_api_keys_for_admins_only(app, db, clock):
    assert "/admin/api-keys" in _client(app, db, clock).get("/admin/settings").get_data(as_text=True)
    assert "/admin/api-keys" not in _client(app, db, clock, "supervisor").get("/admin/settings").get_data(as_text=True)
