"""A bounced address is cleared when its contact signs in with a sign-in link emailed to it after
the bounce: the link reached the mailbox, so reminders may again. Before, the address stayed
failing (no reminders) and its follow-up open in the collections queue until staff cleared it
by hand, though the clerk was plainly reading their email."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.access.service import issue_invoice_link, issue_sign_in_link
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.customers.contact_followups import ContactMail, record_bounce
from portal.domain.customers.models import Contact
from portal.domain.followups.models import Followup
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.links import csrf_from, path_of


@pytest.fixture
def bounced(db, clock, acme, supplier, link_signer):
    """ap@acme.example is a contact at Acme Corp and at Acme Manufacturing; mail to it bounced."""
    other = make_customer(db, clock, name="Acme Manufacturing Ltd")
    make_invoice(db, clock, other, total_minor=9_900)
    twin = make_contact(db, clock, other, email="ap@acme.example", name="Alex Payable")
    report = record_bounce(Context(db, clock, Actor("system", "record-bounce")),
                           ContactMail(supplier=supplier, signer=link_signer), "ap@acme.example",
                           reason="5.2.2 mailbox full")
    assert (report.contacts, report.followups) == (2, 2)
    db.commit()
    return [acme.contact.id, twin.id]


def _follow(client, url: str):
    page = client.get(path_of(url))
    assert page.status_code == 200
    response = client.post(path_of(url), data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def _state(db, contact_ids) -> list[tuple]:
    db.commit()  # see what the app committed
    contacts = [db.get(Contact, id_, populate_existing=True) for id_ in contact_ids]
    followups = db.scalars(select(Followup).order_by(Followup.id).execution_options(populate_existing=True)).all()
    return ([(contact.email_failing_at is None, contact.email_failure) for contact in contacts],
            [(followup.status, followup.outcome) for followup in followups])


def test_signing_in_with_a_link_sent_after_the_bounce_clears_the_address_everywhere(
        client, db, clock, link_signer, acme, bounced):
    clock.advance(minutes=5)
    issued = issue_sign_in_link(db, clock, link_signer, contact=acme.contact)
    db.commit()
    _follow(client, issued.url)
    contacts, followups = _state(db, bounced)
    assert contacts == [(True, ""), (True, "")]
    assert followups == [("resolved", "email_works"), ("resolved", "email_works")]
    [first] = db.scalars(select(Followup).order_by(Followup.id).limit(1))
    assert "receives email again" in first.events[-1].text and first.events[-1].contact_id == acme.contact.id


def test_a_link_sent_before_the_bounce_or_an_invoice_link_proves_nothing(client, db, clock, link_signer, acme, bounced):
    before = _state(db, bounced)
    assert before[0] == [(False, "5.2.2 mailbox full")] * 2 and before[1] == [("open", "")] * 2
    clock.advance(seconds=-1)  # issued a moment before the bounce was recorded
    early = issue_sign_in_link(db, clock, link_signer, contact=acme.contact)
    clock.advance(minutes=10)
    # An invoice link may be copied to the company's AP mailbox: its use says nothing of this address.
    invoice_link = issue_invoice_link(db, clock, link_signer, contact=acme.contact, invoices=acme.invoices[:1])
    db.commit()
    _follow(client, early.url)
    _follow(client, invoice_link.url)
    assert _state(db, bounced) == before
