"""A7: one company can never reach another company's objects, on any route, by any method.

The sweep reads `app.url_map` at run time: every rule with an id-like argument (`public_id`,
`invoice_id`, ...) is requested as company A with every public id company B owns (whatever
its table), for every method the rule allows. All must be 404, like an id that does not
exist. A positive control proves the same requests with A's own ids reach the views, so a
sweep that 404s everything for another reason would fail too.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import pytest
from sqlalchemy import select

from portal.domain.access.service import issue_invoice_link, issue_sign_in_link
from tests.support import attachment_files as files
from tests.support.disputes import raise_test_dispute, uploads
from portal.domain.core.types import Base
from tests.support.followups import report_test_payment
from tests.support.factories import make_allocated_payment, make_contact, make_customer, make_invoice, sign_in
from tests.support.fixtures.links import is_id_argument, methods_of, rule_path, swept_rules
from tests.support.fixtures.stripe import FakeGateway
from tests.support.methods import save_card
from tests.support.plans import make_test_plan
from tests.support.promises import make_test_promise


@dataclass
class World:
    contact: object
    marker_texts: list[str]  # texts only this company's pages may show


def _all_public_ids(db) -> set[str]:
    """Every public id in the database, from every table that has one."""
    db.commit()
    ids: set[str] = set()
    for table in Base.metadata.sorted_tables:
        if "public_id" in table.c:
            ids |= set(db.scalars(select(table.c.public_id)))
    return ids


def _build_company(db, clock, signer, storage, name: str, prefix: str) -> World:
    """A company with one of everything that has a public id. Add new kinds of object here."""
    customer = make_customer(db, clock, name=name)
    contact = make_contact(db, clock, customer, email=f"ap@{prefix.lower()}.example")
    invoices = [make_invoice(db, clock, customer, number=f"{prefix}-INV-{n}", po_number=f"{prefix}-PO-{n}")
                for n in (1, 2)]
    make_allocated_payment(db, clock, customer, [(invoices[0], 5_000)], status="processing")
    make_allocated_payment(db, clock, customer, [(invoices[1], 7_000)], status="succeeded")
    make_test_promise(db, clock, contact, [invoices[1]], note=f"{prefix} payment run")
    issue_invoice_link(db, clock, signer, contact=contact, invoices=invoices)
    issue_sign_in_link(db, clock, signer, contact=contact)
    raise_test_dispute(db, clock, contact, [invoices[1]], amount_text="10.00",
                       files=uploads(storage, (f"{prefix} delivery note.pdf", files.tiny_pdf(name))))
    save_card(db, clock, FakeGateway(), contact)  # a saved method and the setup it came from
    make_test_plan(db, clock, contact, [invoices[0]])  # a plan, its installments and agreement
    report_test_payment(db, clock, contact, [invoices[1]], amount_text="10.00",  # a follow-up with a file
                        files=uploads(storage, (f"{prefix} remittance.pdf", files.tiny_pdf(name))))
    db.commit()
    return World(contact, [name, f"{prefix} payment run", *(invoice.number for invoice in invoices)])


@pytest.fixture
def two_companies(db, clock, link_signer, file_storage):
    before = _all_public_ids(db)
    a = _build_company(db, clock, link_signer, file_storage, "Alpha Corp", "ALPHA")
    a_ids = _all_public_ids(db) - before
    b = _build_company(db, clock, link_signer, file_storage, "Bravo Corp", "BRAVO")
    b_ids = _all_public_ids(db) - before - a_ids
    return a, sorted(a_ids), b, sorted(b_ids)


def _shows(response, texts: list[str]) -> bool:
    """Whether a response body (HTML, JSON, or a PDF's uncompressed parts) contains a text."""
    data = response.get_data()
    return any(text.encode() in data for text in texts)


def _id_rules(app):
    # The staff side is not scoped by company: test_admin_access_sweep.py sweeps it (A8). The
    # ERP's API takes no customer session at all, only a key (tests/web/api/test_api_access.py).
    rules = [rule for rule in swept_rules(app) if any(is_id_argument(name) for name in rule.arguments)
             and not rule.endpoint.startswith(("admin.", "api."))]
    assert rules, "no route takes an object id: the sweep would prove nothing"
    return rules


def _requests(rule, ids):
    """(method, path) for every method of `rule` and every assignment of `ids` to its id args."""
    names = sorted(name for name in rule.arguments if is_id_argument(name))
    for combo in product(ids, repeat=len(names)):
        path = rule_path(rule, dict(zip(names, combo, strict=True)))
        for method in methods_of(rule):
            yield method, path


def test_company_a_gets_404_for_every_object_of_company_b(app, db, clock, two_companies):
    app.config["WTF_CSRF_ENABLED"] = False  # A10 sweeps CSRF; here every request must reach its view
    a, _, b, b_ids = two_companies
    client = app.test_client()
    sign_in(client, a.contact, clock)

    failures, count = [], 0
    for rule in _id_rules(app):
        for method, path in _requests(rule, b_ids):
            response = client.open(path, method=method)
            count += 1
            if response.status_code != 404:
                failures.append(f"{method} {path} ({rule.endpoint}) → {response.status_code}")
            elif _shows(response, b.marker_texts):
                failures.append(f"{method} {path} ({rule.endpoint}) shows company B's data")
    assert failures == [], "\n".join(failures)
    assert count >= len(b_ids)
    assert client.get("/").headers["Location"] == "/account"  # still signed in as A throughout


def test_query_string_ids_of_company_b_show_nothing_of_it(app, db, clock, two_companies):
    """Pages that take ids in the query string (`/pay?invoice=...`) must not show B's data."""
    a, _, b, b_ids = two_companies
    client = app.test_client()
    sign_in(client, a.contact, clock)
    leaks = []
    for rule in swept_rules(app):
        if rule.arguments or "GET" not in rule.methods or rule.endpoint.startswith(("auth.", "webhooks.")):
            continue
        if client.get(rule_path(rule)).mimetype == "application/pdf":
            continue  # compressed: the text check cannot see inside; PDFs take no query ids
        names = ("invoice", "invoices", "public_id", "payment", "id")
        # One id under every name (for `args.get`), then all ids under every name (`getlist`).
        queries = [{name: object_id for name in names} for object_id in b_ids]
        queries.append({name: b_ids for name in names})
        for query in queries:
            response = client.get(rule_path(rule), query_string=query)
            if _shows(response, b.marker_texts):
                leaks.append(f"GET {rule.rule} with {query} ({rule.endpoint})")
    assert leaks == [], "\n".join(leaks)


def test_positive_control_company_a_reaches_its_own_objects(app, db, clock, two_companies):
    """Each GET route with an id answers something other than 404 for one of A's own ids;
    otherwise the sweep above could not tell scoping from a broken route."""
    a, a_ids, _, _ = two_companies
    client = app.test_client()
    sign_in(client, a.contact, clock)
    unreached = []
    for rule in _id_rules(app):
        if "GET" not in rule.methods:
            continue
        reached = False
        for method, path in _requests(rule, a_ids):
            if method != "GET":
                continue
            try:
                # buffered: the body is read and the response closed, as a server does (a
                # download's stored file is closed with it).
                reached = client.get(path, buffered=True).status_code != 404
            except Exception:  # the view ran past its lookup (a collaborator stub failed)
                reached = True
            if reached:
                break
        if not reached:
            unreached.append(f"{rule.rule} ({rule.endpoint}): add its object to _build_company")
    assert unreached == [], "\n".join(unreached)
