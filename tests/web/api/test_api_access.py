"""Who may call the ERP API, how often and with what: a bearer key (401 without one, with a
wrong, unknown or revoked one), its scope (403), a rate limit per key (429 with Retry-After),
bounded JSON bodies (413, 415, 400). Every refusal is the JSON error shape and changes nothing."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from portal.domain.apikeys.models import ApiKey
from portal.domain.apikeys.service import revoke_api_key
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.forms.erp_api import MAX_BODY_BYTES
from tests.support.api import bearer, customer_body, make_api_key
from tests.support.erp import table_counts


def _error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer erpk_nope", "Bearer " + "x" * 5000,
    "Bearer erpk_0123456789ab_" + "A" * 43,
])
def test_no_key_or_a_malformed_or_unknown_key_is_401(app, db, header):
    headers = {"Authorization": header} if header is not None else {}
    response = app.test_client().put("/api/v1/customers/C-1", json=customer_body(), headers=headers)
    assert response.status_code == 401 and _error(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert table_counts(db)["customers"] == 0


def test_a_wrong_secret_for_a_real_prefix_is_401(app, db, clock):
    key = make_api_key(db, clock)
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = app.test_client().get("/api/v1/customers", headers=bearer(wrong))
    assert response.status_code == 401 and "not valid" in _error(response)["message"]
    assert app.test_client().get("/api/v1/customers", headers=bearer(key)).status_code == 200


def test_a_revoked_key_is_401(app, db, clock):
    key = make_api_key(db, clock)
    client = app.test_client()
    assert client.get("/api/v1/customers", headers=bearer(key)).status_code == 200
    revoke_api_key(Context(db, clock, Actor.system("test")), key.split("_")[1])
    db.commit()
    response = client.get("/api/v1/customers", headers=bearer(key))
    assert response.status_code == 401 and "revoked" in _error(response)["message"]


def test_the_key_is_stored_as_a_hash_of_its_secret_only(db, clock):
    key = make_api_key(db, clock)
    db.commit()
    stored = db.scalar(select(ApiKey))
    secret = key[len("erpk_") + 12 + 1:]  # the secret may hold "_" itself
    assert len(secret) == 43 and key == f"erpk_{stored.prefix}_{secret}"
    assert stored.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {stored.prefix, stored.name, stored.secret_sha256, stored.scopes}


@pytest.mark.parametrize(("method", "path", "needed"), [
    ("PUT", "/customers/C-1", "customers:write"), ("GET", "/customers", "customers:read"),
    ("PUT", "/invoices/I-1", "invoices:write"), ("GET", "/invoices", "invoices:read"),
    ("GET", "/cash", "cash:read"),
])
def test_a_key_without_the_scope_is_403(app, db, clock, method, path, needed):
    others = [scope for scope in ("customers:write", "customers:read", "invoices:write", "invoices:read", "cash:read")
              if scope != needed]
    key = make_api_key(db, clock, scopes=others)
    response = app.test_client().open(f"/api/v1{path}", method=method, json={}, headers=bearer(key))
    assert response.status_code == 403
    error = _error(response)
    assert error["code"] == "insufficient_scope" and needed in error["message"]


def test_using_a_key_records_when_it_was_last_used(app, db, clock):
    key = make_api_key(db, clock)
    db.commit()
    assert db.scalar(select(ApiKey.last_used_at)) is None
    app.test_client().get("/api/v1/customers", headers=bearer(key))
    db.expire_all()
    assert db.scalar(select(ApiKey.last_used_at)) == clock.now()


def test_each_key_is_rate_limited_with_retry_after(make_app, db, clock):
    app = make_app(api_requests_per_minute=3)
    key, other = make_api_key(db, clock), make_api_key(db, clock, name="Other ERP")
    client = app.test_client()
    assert [client.get("/api/v1/customers", headers=bearer(key)).status_code for _ in range(3)] == [200] * 3
    refused = client.get("/api/v1/customers", headers=bearer(key))
    assert refused.status_code == 429 and _error(refused)["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "60"
    assert client.get("/api/v1/customers", headers=bearer(other)).status_code == 200  # per key
    clock.advance(seconds=61)
    assert client.get("/api/v1/customers", headers=bearer(key)).status_code == 200


def test_a_body_above_the_limit_is_413_unread(app, db, clock):
    key = make_api_key(db, clock)
    body = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = app.test_client().put("/api/v1/customers/C-1", data=body, content_type="application/json",
                                     headers=bearer(key))
    assert response.status_code == 413 and _error(response)["code"] == "too_large"
    assert table_counts(db)["customers"] == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_a_body_that_is_not_json_is_415(app, db, clock, content_type):
    key = make_api_key(db, clock)
    kwargs = {"content_type": content_type} if content_type else {}
    response = app.test_client().put("/api/v1/customers/C-1", data=b'{"name": "x"}', headers=bearer(key), **kwargs)
    assert response.status_code == 415 and _error(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("data", [b"{", b"[" * 100_000, b'{"account_number": NaN}', b"\xff\xfe", b"[]", b'"x"'])
def test_malformed_json_is_refused_with_a_json_error(app, db, clock, data):
    key = make_api_key(db, clock)
    response = app.test_client().put("/api/v1/customers/C-1", data=data, content_type="application/json",
                                     headers=bearer(key))
    assert response.status_code in (400, 422)
    assert _error(response)["code"] in ("malformed_json", "invalid_request")
    assert table_counts(db)["customers"] == 0


@pytest.mark.parametrize(("erp_id", "status"), [(" C-1", 422), ("C" * 65, 422), ("C\u2028", 422), ("C\x00", 404),
                                              ("C%0D%0AX", 404), ("C\x1b", 404)])
def test_a_bad_erp_id_in_the_path_is_refused(app, db, clock, erp_id, status):
    key = make_api_key(db, clock)
    client = app.test_client()
    for method in ("PUT", "GET"):
        response = client.open(f"/api/v1/customers/{erp_id}", method=method, json=customer_body(),
                               headers=bearer(key))
        assert response.status_code == (status if method == "PUT" else 404), (method, response.status_code)
        assert _error(response)["code"] in ("not_found", "invalid_request")
    assert table_counts(db)["customers"] == 0


def test_every_api_route_but_the_document_needs_a_key(app, db, clock, acme):
    """Swept from the URL map: a signed-in customer's cookie is no key either."""
    from tests.support.factories import sign_in
    from tests.support.fixtures.links import methods_of, rule_path

    client = app.test_client()
    sign_in(client, acme.contact, clock)
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]
    assert len(rules) >= 10
    failures = []
    for rule in rules:
        for method in methods_of(rule):
            response = client.open(rule_path(rule), method=method, json={})
            expected = 200 if rule.endpoint == "api.openapi" else 401
            if response.status_code != expected or response.mimetype != "application/json":
                failures.append(f"{method} {rule.rule} → {response.status_code}")
    assert failures == []


def test_the_openapi_document_is_served_without_a_key(app):
    response = app.test_client().get("/api/v1/openapi.json")
    document = response.get_json()
    assert response.status_code == 200 and document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    invoice = document["components"]["schemas"]["InvoiceInput"]["properties"]
    assert invoice["number"]["maxLength"] == 40 and invoice["total_minor"]["maximum"] == 999_999_999
    assert invoice["lines"]["maxItems"] == 500
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    routes = {(method, rule.rule.replace("<", "{").replace(">", "}")) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert operations == routes  # every route is described, and nothing else
