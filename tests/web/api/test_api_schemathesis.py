"""The API against its own OpenAPI document: schemathesis generates requests for every
operation from /api/v1/openapi.json (valid and invalid bodies, paths and queries), sends them
to the app in-process (WSGI) with a key holding every scope, and checks that no answer is a
5xx and every answer's status, content type, headers and body are what the document says.

Bounded and repeatable: 25 examples per operation, derandomized (a fixed seed), no deadline,
no example database; the rate limit is raised so the fixed test clock's one minute holds them.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)

from portal.routes.api_openapi import openapi_document
from tests.support.api import bearer, customer_body, invoice_body, make_api_key

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture
def api_app(make_app):
    return make_app(api_requests_per_minute=100_000)


@pytest.fixture
def api_headers(api_app, db, clock):
    """A key with every scope, and a customer with an invoice and a credit note for the GETs
    and PUTs that name them."""
    key = make_api_key(db, clock)
    db.commit()
    client = api_app.test_client()
    for path, body in (("/customers/C-1", customer_body()), ("/invoices/I-1", invoice_body()),
                       ("/credit-notes/N-1", {"invoice_erp_id": "I-1", "number": "CN-1", "currency": "USD",
                                              "amount": "10.00"})):
        assert client.put(f"/api/v1{path}", json=body, headers=bearer(key)).status_code == 200
    return bearer(key)


# The document the app serves is built from data (no app needed): loaded at import, so each
# operation is its own test; `test_the_served_document_is_this_one` ties the two together.
schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_served_document_is_this_one(api_app):
    assert api_app.test_client().get("/api/v1/openapi.json").get_json() == openapi_document()


@schema.parametrize()
@hypothesis.settings(max_examples=25, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_document_says(case, api_app, api_headers):
    case.call_and_validate(headers=api_headers, checks=CHECKS, app=api_app, base_url="http://localhost")
