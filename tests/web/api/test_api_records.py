"""The ERP API's writes and reads: a PUT creates or updates by the ERP's id and the same PUT
twice changes nothing and answers the same; every refusal is a JSON error pointing at the
field, and changes nothing; an invoice someone has acted on is never edited (409)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain.core.models import AuditEntry
from tests.support.api import bearer, customer_body, invoice_body, make_api_key
from tests.support.erp import table_counts
from tests.support.disputes import raise_test_dispute
from tests.support.factories import make_allocated_payment, make_contact
from portal.domain.customers.models import Customer
from portal.domain.invoicing.models import Invoice


@pytest.fixture
def api(app, db, clock):
    key = make_api_key(db, clock)
    client = app.test_client()

    def call(method: str, path: str, body=None, **kwargs):
        return client.open(f"/api/v1{path}", method=method, json=body, headers=bearer(key), **kwargs)

    return call


def _audit_count(db) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "erp.imported"))


def _with_invoice(api):
    assert api("PUT", "/customers/C-1", customer_body()).status_code == 200
    response = api("PUT", "/invoices/I-1", invoice_body())
    assert response.status_code == 200, response.get_json()
    return response


def test_put_customer_twice_creates_once_and_answers_the_same(api, db):
    first = api("PUT", "/customers/C-1", customer_body())
    audits = _audit_count(db)
    counts = table_counts(db)
    second = api("PUT", "/customers/C-1", customer_body())
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json() == {
        "erp_id": "C-1", "account_number": "ACC-1", "name": "Acme Ltd", "timezone": "Europe/London", "contacts": []}
    assert table_counts(db) == counts and counts["customers"] == 1
    assert _audit_count(db) == audits == 1  # the unchanged second PUT wrote nothing at all


def test_put_customer_with_new_content_updates_it(api, db):
    api("PUT", "/customers/C-1", customer_body())
    response = api("PUT", "/customers/C-1", customer_body(name="Acme Holdings"))
    assert response.status_code == 200 and response.get_json()["name"] == "Acme Holdings"
    db.commit()
    assert db.scalars(select(Customer.name)).all() == ["Acme Holdings"]


def test_a_contact_is_put_under_its_customer_and_read_back_with_it(api):
    api("PUT", "/customers/C-1", customer_body())
    body = {"email": "Pat@Acme.example", "name": "Pat", "ap_mailbox": True}
    first, second = (api("PUT", "/customers/C-1/contacts/P-1", body) for _ in range(2))
    assert first.get_json() == second.get_json() == {"erp_id": "P-1", "customer_erp_id": "C-1",
                                                     "email": "pat@acme.example", "name": "Pat", "ap_mailbox": True}
    assert api("GET", "/customers/C-1").get_json()["contacts"] == [first.get_json()]
    assert api("GET", "/customers/C-2/contacts/P-1").status_code == 404


def test_a_contact_of_an_unknown_customer_is_refused(api, db):
    response = api("PUT", "/customers/NOPE/contacts/P-1", {"email": "pat@acme.example"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "unknown_reference" and "'NOPE' is not known" in error["details"][0]["message"]
    assert table_counts(db)["contacts"] == 0


def test_put_invoice_twice_issues_it_once(api, db):
    first = _with_invoice(api)
    second = api("PUT", "/invoices/I-1", invoice_body())
    assert second.status_code == 200 and second.get_json() == first.get_json()
    invoice = first.get_json()
    assert (invoice["total"], invoice["total_minor"], invoice["balance_minor"], invoice["status"]) == (
        "150.00", 15000, 15000, "open")
    assert invoice["lines"] == [{"sku": "", "description": "Widgets", "quantity": "1", "unit_price": "150.00",
                                 "unit_price_minor": 15000, "amount": "150.00", "amount_minor": 15000}]
    assert table_counts(db)["invoices"] == 1 and api("GET", "/invoices/I-1").get_json() == invoice


def test_amounts_in_minor_units_are_the_same_invoice(api):
    api("PUT", "/customers/C-1", customer_body())
    body = invoice_body(total=None, total_minor=150000, currency="JPY",
                        lines=[{"description": "Bolts", "quantity": "2", "unit_price_minor": 75000}])
    del body["total"]
    response = api("PUT", "/invoices/I-9", body)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["total"], response.get_json()["total_minor"]) == ("150000", 150000)


@pytest.mark.parametrize(("change", "pointer", "words"), [
    ({"total": "150.5"}, "/total", "is not a USD amount"),
    ({"total": "140.00"}, "/total", "is not the sum of its lines"),
    ({"currency": "XYZ"}, "/currency", "not a currency we accept"),
    ({"due_date": "2026-10-01"}, "/due_date", "is before issue_date"),
    ({"issue_date": "2026-02-30"}, "/issue_date", "is not a date"),
    ({"number": "N" * 41}, "/number", "too long"),
    ({"lines": []}, "/lines", "has no line rows"),
    ({"lines": [{"description": "x", "quantity": "0", "unit_price": "150.00"}]}, "/lines/0/quantity", "positive"),
    ({"lines": [{"description": "x", "quantity": "1", "unit_price": 150}]}, "/lines/0/unit_price", "a string"),
    ({"total_minor": 15000}, "/total_minor", "not both"),
    ({"total_minor": True, "total": None}, "/total_minor", "whole number"),
    ({"po_number": "PO\u00001"}, "/po_number", "control character"),
    ({"surprise": 1}, "/surprise", "not a field"),
])
def test_each_wrong_field_is_named_by_its_pointer_and_nothing_changes(api, db, change, pointer, words):
    api("PUT", "/customers/C-1", customer_body())
    counts = table_counts(db)
    response = api("PUT", "/invoices/I-1", {**invoice_body(), **change})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and "nothing was changed" in error["message"]
    assert any(detail["pointer"] == pointer and words in detail["message"] for detail in error["details"]), error
    assert table_counts(db) == counts


@pytest.mark.parametrize(("acted", "words"), [("paid", "payment attempts"), ("disputed", "a dispute")])
def test_an_invoice_someone_acted_on_is_not_changed(api, db, clock, acted, words):
    _with_invoice(api)
    db.commit()
    invoice = db.scalar(select(Invoice))
    customer = db.get(Customer, invoice.customer_id)
    if acted == "paid":
        make_allocated_payment(db, clock, customer, [(invoice, 5_000)], status="succeeded")
    else:
        raise_test_dispute(db, clock, make_contact(db, clock, customer), [invoice])
    response = api("PUT", "/invoices/I-1", invoice_body(due="2026-12-31"))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "conflict" and words in error["message"]
    assert "send a credit note instead" in error["message"]
    db.expire_all()
    assert db.scalar(select(Invoice.due_date)).isoformat() == "2026-12-01"


def test_an_untouched_invoice_takes_a_new_due_date(api):
    _with_invoice(api)
    response = api("PUT", "/invoices/I-1", invoice_body(due="2026-12-31"))
    assert response.status_code == 200 and response.get_json()["due_date"] == "2026-12-31"


def test_credit_note_and_void_are_put_once_each(api):
    _with_invoice(api)
    note = {"invoice_erp_id": "I-1", "number": "CN-1", "currency": "USD", "amount": "50.00"}
    first, second = (api("PUT", "/credit-notes/N-1", note) for _ in range(2))
    assert first.status_code == second.status_code == 200 and first.get_json() == second.get_json()
    assert first.get_json()["amount_minor"] == 5000
    assert api("GET", "/invoices/I-1").get_json()["balance_minor"] == 10000
    # Credited: a void would wipe what was taken back, so it is refused.
    refused = api("PUT", "/voids/V-1", {"invoice_erp_id": "I-1"})
    assert refused.status_code == 409 and "cannot be voided" in refused.get_json()["error"]["message"]
    changed = api("PUT", "/credit-notes/N-1", {**note, "amount": "60.00"})
    assert changed.status_code == 409


def test_a_void_cancels_an_untouched_invoice(api):
    _with_invoice(api)
    response = api("PUT", "/voids/V-1", {"invoice_erp_id": "I-1"})
    assert response.status_code == 200 and response.get_json()["credited_minor"] == 15000
    assert api("GET", "/invoices/I-1").get_json()["status"] == "closed"
    assert api("GET", "/voids/V-1").get_json() == response.get_json()


def test_lists_are_pages_with_a_cursor(api):
    for number in range(5):
        api("PUT", f"/customers/C-{number}", customer_body(account=f"ACC-{number}"))
    seen, cursor = [], ""
    while True:
        page = api("GET", f"/customers?limit=2&cursor={cursor}").get_json()
        seen += [item["erp_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == [f"C-{number}" for number in range(5)]
    assert api("GET", "/customers?limit=0").status_code == 400
    assert api("GET", "/customers?limit=201").status_code == 400
    assert api("GET", "/customers?cursor=abc").status_code == 400


def test_invoices_are_filtered_by_customer_and_status(api):
    _with_invoice(api)
    api("PUT", "/customers/C-2", customer_body(account="ACC-2"))
    api("PUT", "/invoices/I-2", invoice_body(customer="C-2", number="SI-2"))
    api("PUT", "/voids/V-2", {"invoice_erp_id": "I-2"})

    def numbers(query):
        return [item["number"] for item in api("GET", f"/invoices?{query}").get_json()["items"]]

    assert numbers("") == ["SI-1", "SI-2"]
    assert numbers("customer=C-2") == ["SI-2"]
    assert numbers("status=open") == ["SI-1"] and numbers("status=closed") == ["SI-2"]
    assert api("GET", "/invoices?status=paid").status_code == 400


def test_cash_rows_are_the_export_rows_with_the_next_cursor(api):
    _with_invoice(api)
    api("PUT", "/credit-notes/N-1", {"invoice_erp_id": "I-1", "number": "CN-1", "currency": "USD",
                                     "amount": "20.00"})
    page = api("GET", "/cash").get_json()
    [row] = page["rows"]
    assert (row["kind"], row["amount"], row["amount_minor"], row["document"], row["invoice_erp_id"]) == (
        "credit_note", "-20.00", -2000, "CN-1", "I-1")
    assert row["reference"].startswith("LE") and page["next_cursor"] == row["cursor"] and page["more"] is False
    assert api("GET", f"/cash?since={page['next_cursor']}").get_json()["rows"] == []
    assert api("GET", "/cash?since=nonsense").status_code == 400


def test_unknown_records_are_404_in_json(api):
    for path in ("/customers/C-404", "/invoices/I-404", "/credit-notes/N-404", "/voids/V-404", "/nothing-here"):
        response = api("GET", path)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found", path
