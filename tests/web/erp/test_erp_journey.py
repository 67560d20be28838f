"""End to end: the ERP's CSV imported by the command, the imported contact sent an invoice
link, the invoice paid by card at localstripe (through the real SDK over HTTP) and settled by
the webhook, and `export-cash` listing that payment with its allocation to the imported
invoice, then nothing new after the cursor it gave."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, UTC

import pytest
from sqlalchemy import select

from portal.domain.invoicing.models import Invoice
from tests.support import localstripe_app
from tests.support.erp import contact_row, customer_row, erp_csv, invoice_rows
from tests.support.fixtures.links import csrf_from, path_of
from tests.support.fixtures.stripe import CARD_OK, stripe_event
from tests.support.paying import balance, payment_by_public_id, pay, post_event

pytestmark = pytest.mark.stripe

# The app under test talks to localstripe, as the payments tests' app does.
gateway, settings = localstripe_app.gateway, localstripe_app.settings


def _cash(runner, since: str) -> tuple[list[dict], str]:
    result = runner.invoke(args=["export-cash", "--since", since])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout))), re.search(r"next_cursor=(\S+)", result.stderr).group(1)


def test_an_imported_invoice_paid_by_card_reaches_the_cash_export(app, client, db, clock, localstripe, tmp_path):
    clock.set(datetime.now(UTC))  # localstripe signs with the wall clock
    runner = app.test_cli_runner()
    file = tmp_path / "erp.csv"
    file.write_bytes(erp_csv(customer_row("C-77", account="ACME-77"), contact_row("P-77", customer="C-77",
                                                                                 email="pat@acme77.example"),
                             *invoice_rows("I-77", customer="C-77", number="SI-77", total="240.00",
                                           lines=(("Widgets", "2", "120.00"),))))
    result = runner.invoke(args=["import-invoices", str(file)])
    assert result.exit_code == 0 and result.output.strip() == "3 created, 0 updated, 0 unchanged", result.output
    assert runner.invoke(args=["import-invoices", str(file)]).output.strip() == "0 created, 0 updated, 3 unchanged"
    _, start = _cash(runner, "")

    result = runner.invoke(args=["invoice-link", "pat@acme77.example"])
    assert result.exit_code == 0, result.output
    url = re.search(r"http://localhost/link/invoices/\S+", result.output).group(0)
    page = client.get(path_of(url))
    landed = client.post(path_of(url), data={"csrf_token": csrf_from(page)})
    invoice = db.scalar(select(Invoice).where(Invoice.number == "SI-77"))
    assert landed.headers["Location"] == f"/pay?invoice={invoice.public_id}"

    response = pay(client, {invoice: "240.00"}, localstripe.card_token(CARD_OK))
    assert response.status_code == 200, response.get_json()
    [event] = localstripe.events("payment_intent.succeeded")
    settled = post_event(client, stripe_event("payment_intent.succeeded", event["data"]["object"],
                                              event_id=event["id"], created=event["created"]), event["created"])
    assert settled.status_code == 200 and balance(db, invoice) == 0
    payment = payment_by_public_id(db, response.get_json()["payment_url"].rsplit("/", 1)[1])
    assert payment.reference.startswith("PAY-")

    rows, cursor = _cash(runner, start)
    assert [(row["kind"], row["payment_reference"], row["invoice_number"], row["invoice_erp_id"],
             row["customer_erp_id"], row["amount"], row["currency"], row["payment_method"]) for row in rows] == [
        ("payment", payment.reference, "SI-77", "I-77", "C-77", "-240.00", "USD", "card")]
    assert cursor == rows[0]["cursor"]
    assert _cash(runner, cursor) == ([], cursor)
