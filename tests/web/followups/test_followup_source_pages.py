"""The "we need a PO" and "I'm not the right person" forms through the test client, and the
staff actions on their follow-ups: a report from the form, the form shown again with the
reason and nothing changed for bad input (control characters, over-long text, a bad
address), a double submit reporting once, CSRF, another company's invoice or an invoice
outside a forwarded link a 404, and each staff action allowed to its roles only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.domain.customers.models import Contact
from portal.domain.followups.models import Followup
from portal.domain.invoicing.models import Invoice
from portal.domain.notifications.models import OutboxMessage
from portal.domain.staff.states import StaffRole
from tests.support.factories import (
    make_contact, make_customer, make_invoice, make_invoice_link, make_staff, sign_in, staff_sign_in,
)
from tests.support.fixtures.links import csrf_for, csrf_from

_KEY = re.compile(r'name="request_key" value="([^"]+)"')
PO, CONTACT = "/problems/new/po", "/problems/new/contact"


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=16_500)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=8_000)
    other = make_customer(db, clock, name="Other Co")
    foreign = make_invoice(db, clock, other, number="INV-900")
    return {"customer": customer, "clerk": clerk, "first": first, "second": second, "foreign": foreign}


@pytest.fixture
def signed_in(client, acme, clock):
    sign_in(client, acme["clerk"], clock)
    return client


def _count(db, model=Followup) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(model))


def _form(client, path, invoices, **fields):
    page = client.get(path, query_string=[("invoices", ",".join(i.public_id for i in invoices))])
    assert page.status_code == 200, page.get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "request_key": _KEY.search(page.get_data(as_text=True)).group(1),
            "invoices": [i.public_id for i in invoices]}
    data.update(fields)
    return data


def test_the_po_form_lists_the_invoices_and_a_report_reaches_billing_once(signed_in, db, acme):
    page = signed_in.get(PO, query_string={"invoices": f"{acme['first'].public_id},{acme['second'].public_id}"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "INV-100" in html and "INV-200" in html and 'name="po_number"' in html
    form = _form(signed_in, PO, [acme["first"]], po_number="PO-4471")
    response = signed_in.post(PO, data=form)
    assert response.status_code == 200 and "our billing team has it" in response.get_data(as_text=True)
    assert signed_in.post(PO, data=form).status_code == 200  # a double submit finds the first report
    assert _count(db) == 1
    followup = db.scalar(select(Followup))
    assert (followup.kind, followup.details, [i.invoice_id for i in followup.invoices]) == (
        "needs_po", {"po_number": "PO-4471"}, [acme["first"].id])


@pytest.mark.parametrize(("fields", "message"), [
    ({"po_number": "PO\r\nBcc: x@evil.example"}, "one line"),
    ({"po_number": "PO\x00"}, "not allowed"),
    ({"po_number": "P" * 61}, "at most 60"),
    ({"po_number": "9" * 50_000}, "at most 60"),
    ({"po_number": ""}, "tell us who issues it"),
    ({"po_number": "", "issuer_name": "Dana", "issuer_email": "dana"}, "does not look like"),
    ({"po_number": "PO-1", "note": "x" * 1001}, "at most 1000"),
    ({"po_number": "PO-1", "request_key": "short"}, "expired"),
])
def test_bad_po_input_shows_the_form_again_and_changes_nothing(signed_in, db, acme, fields, message):
    form = _form(signed_in, PO, [acme["first"]], **fields)
    response = signed_in.post(PO, data=form)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _count(db) == 0


@pytest.mark.parametrize("path", [PO, CONTACT])
def test_another_companys_invoice_or_a_bad_id_is_not_found(signed_in, db, acme, path):
    assert signed_in.get(path, query_string={"invoices": acme["foreign"].public_id}).status_code == 404
    assert signed_in.get(path, query_string={"invoices": "no-such-invoice"}).status_code == 404
    assert signed_in.get(path, query_string={"invoices": "bad\r\nid"}).status_code == 400
    assert signed_in.get(path, query_string={"invoices": ",".join(["abc"] * 21)}).status_code == 400
    form = _form(signed_in, path, [acme["first"]], po_number="PO-1", name="Robin", email="robin@acme.example")
    form["invoices"] = [acme["foreign"].public_id]
    assert signed_in.post(path, data=form).status_code == 404
    assert _count(db) == 0


@pytest.mark.parametrize("path", [PO, CONTACT])
def test_a_forwarded_links_holder_reports_only_on_its_invoices(client, db, clock, acme, path):
    link = make_invoice_link(db, clock, acme["clerk"], [acme["first"]])
    sign_in(client, acme["clerk"], clock, link=link)
    assert client.get(path, query_string={"invoices": acme["first"].public_id}).status_code == 200
    assert client.get(path, query_string={"invoices": acme["second"].public_id}).status_code == 404
    form = _form(client, path, [acme["first"]], po_number="PO-1", name="Robin", email="robin@acme.example")
    form["invoices"] = [acme["second"].public_id]
    assert client.post(path, data=form).status_code == 404
    form["invoices"] = [acme["first"].public_id]
    assert client.post(path, data=form).status_code == 200
    assert db.scalar(select(Followup.link_id)) == link.id


@pytest.mark.parametrize("path", [PO, CONTACT])
def test_posting_without_the_csrf_token_is_refused(signed_in, db, acme, path):
    form = _form(signed_in, path, [acme["first"]], po_number="PO-1", name="Robin", email="robin@acme.example")
    del form["csrf_token"]
    assert signed_in.post(path, data=form).status_code == 400
    assert _count(db) == 0


def test_signed_out_visitors_are_sent_to_sign_in(client, acme):
    response = client.get(PO, query_string={"invoices": acme["first"].public_id})
    assert response.status_code in (302, 303, 401)


def test_a_colleague_at_the_company_domain_is_added_and_sent_a_link(signed_in, db, acme):
    form = _form(signed_in, CONTACT, [acme["first"]], name="Robin Right", email="robin@acme.example", i_left="yes")
    response = signed_in.post(CONTACT, data=form)
    assert response.status_code == 200 and "Robin Right has the invoices" in response.get_data(as_text=True)
    db.commit()
    assert db.scalar(select(Contact.name).where(Contact.email == "robin@acme.example")) == "Robin Right"
    assert db.scalar(select(OutboxMessage.to_address).where(OutboxMessage.kind == "invoice_link")) == \
        "robin@acme.example"
    assert db.scalar(select(Contact.left_at).where(Contact.id == acme["clerk"].id)) is not None


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": "Robin", "email": "robin@acme.example\r\nBcc: x@evil.example"}, "one line"),
    ({"name": "Robin", "email": "robin"}, "does not look like"),
    ({"name": "", "email": "robin@acme.example"}, "Enter"),
    ({"name": "R" * 201, "email": "robin@acme.example"}, "at most 200"),
    ({"name": "Robin\x00", "email": "robin@acme.example"}, "not allowed"),
    ({"name": "Robin", "email": "r" * 300 + "@acme.example"}, "at most 254"),
])
def test_bad_contact_input_shows_the_form_again_and_changes_nothing(signed_in, db, acme, fields, message):
    form = _form(signed_in, CONTACT, [acme["first"]], **fields)
    response = signed_in.post(CONTACT, data=form)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _count(db) == 0 and _count(db, Contact) == 1


def test_a_free_mail_address_waits_for_staff(signed_in, db, acme):
    form = _form(signed_in, CONTACT, [acme["first"]], name="Robin", email="robin@gmail.com")
    response = signed_in.post(CONTACT, data=form)
    assert response.status_code == 200 and "our team checks it" in response.get_data(as_text=True)
    assert _count(db, Contact) == 1 and db.scalar(select(Followup.status)) == "open"


# ---------------------------------------------------------------------------------------------
# Staff


@pytest.fixture
def reported(signed_in, db, acme):
    signed_in.post(PO, data=_form(signed_in, PO, [acme["first"]], po_number="PO-4471"))
    signed_in.post(CONTACT, data=_form(signed_in, CONTACT, [acme["first"]], name="Robin", email="robin@gmail.com"))
    db.commit()
    po = db.scalar(select(Followup).where(Followup.kind == "needs_po"))
    contact = db.scalar(select(Followup).where(Followup.kind == "wrong_contact"))
    return po, contact


def _as(client, db, clock, role):
    staff = make_staff(db, clock, role=role)
    client.delete_cookie("portal_session")
    staff_sign_in(client, staff, clock)
    return csrf_for(client, "/admin/account")


def test_billing_applies_the_po_and_the_invoice_carries_it(client, db, clock, acme, reported):
    po, _ = reported
    token = _as(client, db, clock, StaffRole.ANALYST)
    response = client.post(f"/admin/followups/{po.public_id}/po/apply",
                           data={"csrf_token": token, "po_number": "PO-4471"})
    # To the follow-up's page, or this one's actions page where the portal has none.
    assert response.status_code == 303 and response.headers["Location"].startswith(f"/admin/followups/{po.public_id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Resolved" in page and "PO-4471" in page
    db.expire_all()
    assert db.get(Invoice, acme["first"].id).po_number == "PO-4471"
    assert db.get(Followup, po.id).status == "resolved"
    again = client.post(f"/admin/followups/{po.public_id}/po/apply", data={"csrf_token": token, "po_number": "X"})
    assert again.status_code == 400 and "already closed" in again.get_data(as_text=True)


@pytest.mark.parametrize(("action", "data", "message"), [
    ("po/apply", {"po_number": "PO\r\n1"}, "one line"),
    ("po/apply", {"po_number": ""}, "Enter the PO number"),
    ("po/decline", {"reason": ""}, "why"),
    ("po/decline", {"reason": "x" * 1001}, "at most 1000"),
])
def test_bad_staff_input_is_refused_and_changes_nothing(client, db, clock, acme, reported, action, data, message):
    po, _ = reported
    token = _as(client, db, clock, StaffRole.ANALYST)
    response = client.post(f"/admin/followups/{po.public_id}/{action}", data={"csrf_token": token, **data})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Followup, po.id).status == "open" and db.get(Invoice, acme["first"].id).po_number is None


def test_each_action_is_for_its_roles_and_its_kind(client, db, clock, acme, reported):
    po, contact = reported
    token = _as(client, db, clock, StaffRole.COLLECTOR)
    assert client.post(f"/admin/followups/{po.public_id}/po/apply",
                       data={"csrf_token": token, "po_number": "PO-1"}).status_code == 403
    # A contact follow-up's id on a PO action, and an unknown id, are not found.
    token = _as(client, db, clock, StaffRole.ANALYST)
    assert client.post(f"/admin/followups/{contact.public_id}/po/apply",
                       data={"csrf_token": token, "po_number": "PO-1"}).status_code == 404
    assert client.post("/admin/followups/nosuchfollowup/po/decline",
                       data={"csrf_token": token, "reason": "no"}).status_code == 404
    assert client.post(f"/admin/followups/{contact.public_id}/contact/approve",
                       data={"csrf_token": token}).status_code == 403
    assert client.post(f"/admin/followups/{po.public_id}/po/apply", data={"po_number": "PO-1"}).status_code == 400


def test_collections_approve_the_contact_and_undo_a_left_mark_only_within_the_company(client, db, clock, acme,
                                                                                      reported):
    _, contact = reported
    token = _as(client, db, clock, StaffRole.COLLECTOR)
    response = client.post(f"/admin/followups/{contact.public_id}/contact/approve", data={"csrf_token": token})
    assert response.status_code == 303
    db.expire_all()
    assert db.scalar(select(Contact.id).where(Contact.email == "robin@gmail.com")) is not None
    clerk = db.get(Contact, acme["clerk"].id)
    clerk.left_at = clock.now()
    stranger = make_contact(db, clock, make_customer(db, clock), email="stranger@else.example")
    stranger.left_at = clock.now()
    db.commit()
    assert client.post(f"/admin/followups/{contact.public_id}/contacts/{stranger.public_id}/returned",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/followups/{contact.public_id}/contacts/{clerk.public_id}/returned",
                       data={"csrf_token": token}).status_code == 303
    db.expire_all()
    assert db.get(Contact, clerk.id).left_at is None and db.get(Contact, stranger.id).left_at is not None


def test_a_customer_cannot_reach_the_staff_actions(signed_in, db, reported):
    po, _ = reported
    response = signed_in.post(f"/admin/followups/{po.public_id}/po/apply", data={"po_number": "PO-1"})
    assert response.status_code in (302, 303, 400, 403)
    db.expire_all()
    assert db.get(Followup, po.id).status == "open"


def test_the_actions_page_shows_the_follow_up_with_its_kinds_actions(client, db, clock, acme, reported):
    po, contact = reported
    _as(client, db, clock, StaffRole.COLLECTOR)
    page = client.get(f"/admin/followups/{po.public_id}/actions")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "PO needed: re-issue the invoice" in html and "INV-100" in html
    assert 'id="given-po">PO-4471<' in html and "Re-issue with this PO" not in html  # collectors do not re-issue
    html = client.get(f"/admin/followups/{contact.public_id}/actions").get_data(as_text=True)
    assert "robin@gmail.com" in html and "Add Robin and send the link" in html
    assert client.get("/admin/followups/nosuchfollowup/actions").status_code == 404
