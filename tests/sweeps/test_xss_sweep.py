"""A12: text that customers or the ERP control is rendered escaped on every page, and the
pages need no inline script or style (the CSP forbids both).

Payloads go into the company name, the contact name, an invoice's PO number and a line
description; then every GET page of the URL map is rendered (as the whole account, with the
company's own ids) together with the link pages, and none may contain a payload unescaped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape

from portal.domain.notifications.rendering import render_email
from portal.domain.access.service import issue_invoice_link, issue_sign_in_link
from portal.domain.disputes import service as disputes
from tests.support.disputes import raise_test_dispute, staff_context
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, sign_in, staff_sign_in
from tests.support.fixtures.links import csrf_from, is_id_argument, path_of, rule_path, swept_rules

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(2)>'
PAYLOADS = (SCRIPT, ATTRIBUTE)
TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"


@pytest.fixture
def hostile(db, clock):
    customer = make_customer(db, clock, name=f"Acme {SCRIPT}")
    contact = make_contact(db, clock, customer, email="ap@acme.example", name=f"Pat {ATTRIBUTE}")
    invoice = make_invoice(db, clock, customer, po_number=ATTRIBUTE,
                           lines=[(f"Widgets {SCRIPT}{ATTRIBUTE}", 2, 1_000)])
    return customer, contact, invoice


def _html_pages(app, clock, contact, invoice, link_signer, db):
    """(name, body) of every HTML page the hostile company can see."""
    pages = []
    client = app.test_client()
    sign_in(client, contact, clock)
    for rule in swept_rules(app):
        if "GET" not in rule.methods or rule.endpoint.startswith("admin."):
            continue
        response = client.get(rule_path(rule, {name: invoice.public_id for name in rule.arguments if is_id_argument(name)}))
        if response.mimetype == "text/html":
            pages.append((rule.endpoint, response.get_data(as_text=True)))

    invoice_link = issue_invoice_link(db, clock, link_signer, contact=contact, invoices=[invoice])
    sign_in_link = issue_sign_in_link(db, clock, link_signer, contact=contact)
    db.commit()
    visitor = app.test_client()
    for name, issued in (("confirm invoice link", invoice_link), ("confirm sign-in link", sign_in_link)):
        pages.append((name, visitor.get(path_of(issued.url)).get_data(as_text=True)))
    confirm = visitor.get(path_of(invoice_link.url))
    visitor.post(path_of(invoice_link.url), data={"csrf_token": csrf_from(confirm)})
    pages.append(("account needed", visitor.get("/account").get_data(as_text=True)))
    clock.advance(minutes=20)
    pages.append(("expired sign-in link", visitor.get(path_of(sign_in_link.url)).get_data(as_text=True)))
    return pages


def test_payloads_render_escaped_on_every_page(app, db, clock, link_signer, hostile):
    customer, contact, invoice = hostile
    pages = _html_pages(app, clock, contact, invoice, link_signer, db)

    raw = [(name, payload) for name, body in pages for payload in PAYLOADS if payload in body]
    assert raw == []
    everything = "\n".join(body for _, body in pages)
    # Each field was actually shown somewhere, escaped (so the check above means something).
    for field_text in (customer.name, contact.name, invoice.po_number, invoice.lines[0].description):
        assert str(escape(field_text)) in everything, field_text


def test_payloads_render_escaped_on_every_admin_page(app, db, clock, hostile):
    """The staff pages show the same text (and the dispute's own) to an admin, who may open
    every one of them: the queue, the dispute page, the re-bill form's prefilled lines, the
    customer's timeline."""
    customer, contact, invoice = hostile
    dispute = raise_test_dispute(db, clock, contact, [invoice], description=f"Wrong price {SCRIPT}{ATTRIBUTE}")
    disputes.reply(staff_context(db, clock), None, dispute.public_id, f"Checking {ATTRIBUTE}", internal=True)
    db.commit()
    client = app.test_client()
    staff_sign_in(client, make_staff(db, clock, role="admin"), clock)
    pages = []
    for rule in swept_rules(app):
        if "GET" not in rule.methods or not rule.endpoint.startswith("admin."):
            continue
        object_id = customer.public_id if rule.endpoint == "admin.customer" else dispute.public_id
        response = client.get(rule_path(rule, {name: object_id for name in rule.arguments
                                               if is_id_argument(name)}), query_string={"tab": "all"})
        if response.mimetype == "text/html":
            pages.append((rule.endpoint, response.status_code, response.get_data(as_text=True)))

    assert [(name, payload) for name, _, body in pages for payload in PAYLOADS if payload in body] == []
    shown = {name: body for name, status, body in pages if status == 200}
    assert str(escape(customer.name)) in shown["admin.disputes_all"]
    assert str(escape(dispute.description)) in shown["admin.dispute"]
    assert str(escape(invoice.lines[0].description)) in shown["admin.dispute_rebill_form"]
    # The customers list and the customer's timeline (its name, the dispute's reason).
    assert str(escape(customer.name)) in shown["admin.customers"]
    assert str(escape(customer.name)) in shown["admin.customer"]


def test_the_sign_in_email_escapes_the_company_name(db, clock, supplier, hostile):
    customer, contact, _ = hostile
    email = render_email("sign_in_link", supplier=supplier, contact=contact, customer=customer, url="https://x/link", minutes=15)
    assert SCRIPT not in email.html and ATTRIBUTE not in email.html
    assert str(escape(customer.name)) in email.html


def _web_templates():
    """Templates rendered into pages (emails and PDFs are not served under the CSP)."""
    return [path for path in TEMPLATES.rglob("*.html")
            if path.relative_to(TEMPLATES).parts[0] not in ("email", "pdf")]


def test_no_template_turns_escaping_off():
    offenders = [str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*")
                 if path.is_file() and re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", path.read_text())]
    assert offenders == []


def test_pages_have_no_inline_script_or_style():
    offenders = []
    for path in _web_templates():
        source = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source) or re.search(r"<style\b|\sstyle=|\son[a-z]+=", source):
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []


def test_the_csp_forbids_inline_script_and_style(client):
    policy = client.get("/sign-in").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-inline'" not in directives["style-src"]
    assert directives["style-src"] == "'self'" and directives["object-src"] == "'none'"
