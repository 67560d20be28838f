"""The dispute's owner is emailed through the outbox: when a dispute is raised and routed to
them, when the customer writes or answers our question, and when it is reassigned to them;
never for internal notes nor for a member who takes a dispute themselves. The email links to
the admin page (no signed link), names the customer, reason, amount and SLA dates, and quotes
the customer's words escaped."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.disputes import service
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.notifications import DisputeMail
from portal.domain.disputes.policy import InvoiceChoice
from portal.domain.disputes.service import RoutingDecision
from portal.domain.disputes.staff_notifications import StaffMail
from portal.domain.notifications.models import OutboxMessage
from portal.domain.routing.service import RuleDetails, create_rule
from portal.domain.staff.models import TeamMembership
from portal.domain.staff.service import TeamDetails, create_team
from portal.domain.staff.states import StaffStatus
from tests.support.disputes import contact_access, contact_context, raise_test_dispute, staff_context
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, sign_in, staff_sign_in
from tests.support.fixtures.links import csrf_from
from tests.web.disputes.test_dispute_pages import _form, _post

DESCRIPTION = "The widgets were priced at <b>last year's</b> rate.\nSee PO 7781 & our contract."


@pytest.fixture
def desk(db, clock):
    """The pricing desk (Ana, Bo; Cy is away) takes pricing disputes round-robin."""
    ctx = Context(db, clock, Actor.system("test"))
    ana = make_staff(db, clock, name="Ana Pereira", email="ana@northwind.example")
    bo = make_staff(db, clock, name="Bo Lindqvist", email="bo@northwind.example")
    cy = make_staff(db, clock, name="Cy Away", email="cy@northwind.example", away=True)
    pricing = create_team(ctx, TeamDetails("Pricing desk", "UTC", "12345", 540, 1020), [ana.id, bo.id, cy.id])
    create_rule(ctx, RuleDetails("Pricing questions", pricing.id, "round_robin", "high", 4, 3, reasons=("pricing",)))
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    invoice = make_invoice(db, clock, customer, number="INV-100", total_minor=16_500)
    db.commit()
    return {"ana": ana, "bo": bo, "cy": cy, "pricing": pricing, "customer": customer, "clerk": clerk,
            "invoice": invoice}


def _staff_mail(db) -> list[OutboxMessage]:
    db.commit()
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind.like("dispute_staff_%"))
                           .order_by(OutboxMessage.id)))


def _raise_on_the_web(client, db, desk) -> Dispute:
    invoice = desk["invoice"]
    response = _post(client, _form(client, [invoice], description=DESCRIPTION, **{
        f"mode-{invoice.public_id}": "amount", f"amount-{invoice.public_id}": "40.00"}))
    assert response.status_code == 303, response.get_data(as_text=True)
    public_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    db.commit()
    db.expire_all()
    return db.scalar(select(Dispute).where(Dispute.public_id == public_id))


def test_a_raised_dispute_emails_its_assignee_with_the_admin_link(app, client, db, clock, desk):
    sign_in(client, desk["clerk"], clock)
    dispute = _raise_on_the_web(client, db, desk)
    assert dispute.assignee_id == desk["ana"].id

    [message] = _staff_mail(db)
    assert (message.kind, message.to_address, message.cc_addresses) == ("dispute_staff_raised", "ana@northwind.example",
                                                                        "")
    assert message.subject == "New dispute: Acme Corp, Pricing, $40.00"
    url = f"http://localhost/admin/disputes/{dispute.public_id}"
    text, html = message.body_text, message.body_html
    assert text.startswith("Hello Ana Pereira,") and html.startswith("<!doctype html>")
    assert f"Open the dispute: {url}" in text and f'href="{url}"' in html
    assert "/link/" not in text + html  # no signed customer link in staff email
    assert "assigned to you" in text and "Customer: Acme Corp" in text and "Reason: Pricing" in text
    assert "Amount: $40.00 (INV-100)" in text
    # Raised Monday 15 June 2026 14:30 UTC: 4 business hours and 3 business days on the desk's calendar.
    assert "First response due: 16 Jun 2026, 10:30 UTC" in text and "Resolution due: 18 Jun 2026, 14:30 UTC" in text
    # The customer's words: each line marked in the text part, escaped in the HTML part.
    assert "> The widgets were priced at <b>last year's</b> rate.\n> See PO 7781 & our contract." in text
    assert "&lt;b&gt;last year&#39;s&lt;/b&gt;" in html and "<b>last" not in html and "PO 7781 &amp; our" in html

    # The link opens the admin page (behind the staff sign-in).
    staff = app.test_client()
    assert staff.get(url.removeprefix("http://localhost")).status_code == 302
    staff_sign_in(staff, desk["ana"], clock)
    assert staff.get(url.removeprefix("http://localhost")).status_code == 200


def test_the_customer_writing_and_answering_emails_the_assignee(client, db, clock, desk, supplier, link_signer):
    sign_in(client, desk["clerk"], clock)
    dispute = _raise_on_the_web(client, db, desk)
    page = client.get(f"/disputes/{dispute.public_id}")
    token = csrf_from(page)
    assert client.post(f"/disputes/{dispute.public_id}/messages",
                       data={"csrf_token": token, "body": "Any news?"}).status_code == 303
    service.request_information(staff_context(db, clock), DisputeMail(supplier, link_signer), dispute.public_id,
                                "Which PO was this?")
    db.commit()
    assert client.post(f"/disputes/{dispute.public_id}/messages",
                       data={"csrf_token": token, "body": "PO 7781 <script>x</script>"}).status_code == 303

    raised, wrote, answered = _staff_mail(db)
    assert [m.to_address for m in (raised, wrote, answered)] == ["ana@northwind.example"] * 3
    assert (wrote.kind, wrote.subject) == ("dispute_staff_customer_wrote", "Customer wrote: Acme Corp, Pricing, $40.00")
    assert "Acme Corp wrote on their dispute." in wrote.body_text and "> Any news?" in wrote.body_text
    assert answered.kind == "dispute_staff_customer_answered"
    assert "answered our request for information" in answered.body_text
    assert "> PO 7781 <script>x</script>" in answered.body_text
    assert "&lt;script&gt;" in answered.body_html and "<script>" not in answered.body_html


def test_staff_replies_and_internal_notes_email_no_staff(client, db, clock, desk, supplier, link_signer):
    sign_in(client, desk["clerk"], clock)
    dispute = _raise_on_the_web(client, db, desk)
    before = _staff_mail(db)
    staff = client.application.test_client()
    staff_sign_in(staff, desk["bo"], clock)
    page = staff.get(f"/admin/disputes/{dispute.public_id}")
    for action, body in (("note", "Internal: margin is thin."), ("reply", "We are checking the price list.")):
        assert staff.post(f"/admin/disputes/{dispute.public_id}/{action}",
                          data={"csrf_token": csrf_from(page), "body": body}).status_code == 303
    assert _staff_mail(db) == before
    everything = db.scalars(select(OutboxMessage)).all()
    assert not [m for m in everything if "margin is thin" in m.body_text + m.body_html]


def test_reassigning_emails_the_new_assignee_but_not_someone_taking_it_themselves(client, db, clock, desk):
    sign_in(client, desk["clerk"], clock)
    dispute = _raise_on_the_web(client, db, desk)
    ana, bo, pricing = desk["ana"], desk["bo"], desk["pricing"]
    staff = client.application.test_client()

    def reassign(member, to):
        staff_sign_in(staff, member, clock)
        page = staff.get(f"/admin/disputes/{dispute.public_id}")
        response = staff.post(f"/admin/disputes/{dispute.public_id}/reassign",
                              data={"csrf_token": csrf_from(page), "assignee": f"{to.public_id}:{pricing.id}"})
        assert response.status_code == 303

    reassign(ana, bo)
    assert [(m.kind, m.to_address) for m in _staff_mail(db)][1:] == [("dispute_staff_reassigned", "bo@northwind.example")]
    message = _staff_mail(db)[-1]
    assert message.subject == "Dispute assigned to you: Acme Corp, Pricing, $40.00"
    assert "is now assigned to you" in message.body_text
    assert f"http://localhost/admin/disputes/{dispute.public_id}" in message.body_text
    # Ana takes it back herself: nobody is told.
    reassign(ana, ana)
    assert len(_staff_mail(db)) == 2
    assert db.scalar(select(Dispute.assignee_id).where(Dispute.id == dispute.id)) == ana.id


def test_a_team_with_nobody_assigned_tells_its_active_members_who_are_not_away(db, clock, desk, supplier):
    ana, bo, pricing = desk["ana"], desk["bo"], desk["pricing"]
    gone = make_staff(db, clock, name="Dee Gone", status=StaffStatus.DEACTIVATED)
    db.add(TeamMembership(team_id=pricing.id, staff_id=gone.id))
    db.flush()

    def to_the_team(_db, _facts, _now):
        return RoutingDecision(team_id=pricing.id, assignee_id=None)

    def unassigned(_db, _facts, _now):
        return RoutingDecision()

    clerk = desk["clerk"]
    invoices = [make_invoice(db, clock, desk["customer"], total_minor=1_000) for _ in range(2)]
    mail = StaffMail(supplier)
    service.raise_dispute(contact_context(db, clock, clerk), contact_access(clerk), reason_code="damaged",
                          description="Two crates arrived broken.", request_key="k" * 20,
                          choices=[InvoiceChoice(invoices[0].public_id, "whole")], router=to_the_team, staff_mail=mail)
    assert sorted(m.to_address for m in _staff_mail(db)) == [ana.email, bo.email]  # not Cy (away) nor Dee
    assert all("nobody is assigned to it yet" in m.body_text and "Pricing desk" in m.body_text
               for m in _staff_mail(db))

    service.raise_dispute(contact_context(db, clock, clerk), contact_access(clerk), reason_code="damaged",
                          description="Another crate arrived broken.", request_key="m" * 20,
                          choices=[InvoiceChoice(invoices[1].public_id, "whole")], router=unassigned, staff_mail=mail)
    assert len(_staff_mail(db)) == 2  # no team, nobody assigned: nobody to tell


def test_without_staff_mail_nothing_is_queued(db, clock, desk):
    """The demo's history is written with mail None: no email at all."""
    clerk = desk["clerk"]
    dispute = raise_test_dispute(db, clock, clerk, [desk["invoice"]])
    service.add_message(contact_context(db, clock, clerk), contact_access(clerk), dispute.public_id, "Hello")
    service.reassign(staff_context(db, clock), None, dispute.public_id, team_id=desk["pricing"].id,
                     assignee_id=desk["bo"].id)
    assert _staff_mail(db) == []

