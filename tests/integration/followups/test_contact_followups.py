""""I'm not the right person" and bounced reminders as sequences of events, on both databases:
the clerk names the right person → added at once (a company domain) or after staff approve
(free mail, another domain) → the new contact gets an invoice link → a clerk who left gets no
reminder and cannot sign in, until staff undo it. A bounce marks the address failing, raises
one follow-up per contact while active, and asks the company's other contacts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain.access.models import AccessLink
from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.access.service import request_sign_in_links
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.customers.contact_followups import (
    ContactMail, approve_contact, contact_form_path, record_bounce, reject_contact, report_wrong_contact,
    resolve_bounce,
)
from portal.domain.customers.models import Contact
from portal.domain.customers.policy import ContactRefused, NamedContact
from portal.domain.customers.service import undo_contact_left
from portal.domain.followups.models import Followup
from portal.domain.followups.states import FollowupStatus as S
from portal.domain.notifications.models import OutboxMessage
from portal.domain.reminders.notifications import recipients
from tests.support.factories import make_contact, make_customer, make_invoice, make_invoice_link, make_staff

KEY = "c" * 24


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example", name="Pat Clerk")
    invoice = make_invoice(db, clock, customer, number="INV-1")
    return customer, clerk, invoice


@pytest.fixture
def mail(supplier, link_signer):
    return ContactMail(supplier=supplier, signer=link_signer)


def _ctx(db, clock, who="contact", public_id="x"):
    return Context(db, clock, Actor(who, public_id))


def _report(db, clock, acme, mail, *, email, left=False, key=KEY):
    customer, clerk, invoice = acme
    access = Access(customer_id=customer.id, contact_id=clerk.id, scope=ACCOUNT)
    return report_wrong_contact(_ctx(db, clock, public_id=clerk.public_id), access, mail,
                                invoice_public_ids=[invoice.public_id], named=NamedContact("Robin Right", email),
                                reporter_left=left, note="", request_key=key)


def _mails(db, kind):
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def _company(db, customer):
    db.expire_all()
    return list(db.scalars(select(Contact).where(Contact.customer_id == customer.id).order_by(Contact.id)))


def test_a_colleague_at_the_company_domain_is_added_at_once_and_sent_the_invoices(db, clock, acme, mail, link_signer,
                                                                                 supplier):
    customer, clerk, invoice = acme
    make_invoice_link(db, clock, clerk, [invoice])
    report = _report(db, clock, acme, mail, email="Robin@ACME.example", left=True)
    assert report.added is not None and report.added.email == "robin@acme.example"
    assert (report.followup.kind, report.followup.status, report.followup.outcome) == (
        "wrong_contact", S.RESOLVED, "contact_added")
    [welcome] = _mails(db, "invoice_link")
    assert welcome.to_address == "robin@acme.example" and "INV-1" in welcome.body_text
    link = db.scalar(select(AccessLink).where(AccessLink.contact_id == report.added.id))
    assert [i.id for i in link.invoices] == [invoice.id]
    # The clerk said they left: no reminder reaches them, no sign-in link, their links revoked.
    clerk_now, robin = _company(db, customer)
    assert clerk_now.left_at is not None
    assert recipients([clerk_now, robin]) == (robin, [])
    assert request_sign_in_links(db, clock, link_signer, supplier, email="clerk@acme.example") == 0
    assert db.scalar(select(func.count()).select_from(AccessLink).where(
        AccessLink.contact_id == clerk.id, AccessLink.revoked_at.is_(None))) == 0
    # Staff undo it: reminders and sign-in links reach the clerk again.
    undo_contact_left(_ctx(db, clock, "staff"), clerk_now)
    assert recipients(_company(db, customer))[0].email == "clerk@acme.example"
    assert request_sign_in_links(db, clock, link_signer, supplier, email="clerk@acme.example") == 1


@pytest.mark.parametrize("email", ["robin@gmail.com", "robin@elsewhere.example"])
def test_free_mail_or_another_domain_waits_for_staff_who_approve(db, clock, acme, mail, email):
    customer, clerk, invoice = acme
    report = _report(db, clock, acme, mail, email=email, left=True)
    assert report.added is None and report.followup.status == S.OPEN and report.followup.queue == "collections"
    assert len(_company(db, customer)) == 1 and _mails(db, "invoice_link") == []
    assert _company(db, customer)[0].left_at is None  # left only once someone replaces them
    staff = make_staff(db, clock, role="collector")
    added = approve_contact(_ctx(db, clock, "staff", staff.public_id), mail, report.followup.public_id,
                            staff_id=staff.id)
    assert added.email == email and report.followup.status == S.RESOLVED
    assert [m.to_address for m in _mails(db, "invoice_link")] == [email]
    assert _company(db, customer)[0].left_at is not None


def test_staff_reject_and_the_clerk_is_told_why(db, clock, acme, mail):
    customer, clerk, invoice = acme
    report = _report(db, clock, acme, mail, email="robin@gmail.com")
    staff = make_staff(db, clock, role="collector")
    reject_contact(_ctx(db, clock, "staff"), mail, report.followup.public_id, reason="We need a company address.",
                   staff_id=staff.id)
    assert (report.followup.status, report.followup.outcome) == (S.DISMISSED, "rejected")
    [told] = _mails(db, "contact_rejected")
    assert told.to_address == "clerk@acme.example" and '"We need a company address."' in told.body_text
    assert len(_company(db, customer)) == 1
    with pytest.raises(ContactRefused, match="closed"):
        approve_contact(_ctx(db, clock, "staff"), mail, report.followup.public_id, staff_id=staff.id)


def test_a_double_submit_reports_once_and_the_clerk_cannot_name_themselves(db, clock, acme, mail):
    first = _report(db, clock, acme, mail, email="robin@gmail.com")
    again = _report(db, clock, acme, mail, email="robin@gmail.com")
    assert again.followup.id == first.followup.id
    assert db.scalar(select(func.count()).select_from(Followup)) == 1
    with pytest.raises(ContactRefused, match="someone else"):
        _report(db, clock, acme, mail, email="clerk@acme.example", key="d" * 24)


def test_a_bounce_marks_the_address_failing_raises_one_follow_up_and_asks_the_colleagues(db, clock, acme, mail):
    customer, clerk, invoice = acme
    colleague = make_contact(db, clock, customer, email="sam@acme.example", name="Sam")
    report = record_bounce(_ctx(db, clock, "system"), mail, "Clerk@Acme.example", reason="5.1.1 user unknown")
    assert (report.contacts, report.followups, report.notified) == (1, 1, 1)
    db.expire_all()
    failing = db.get(Contact, clerk.id)
    assert failing.email_failing_at is not None and failing.email_failure == "5.1.1 user unknown"
    assert recipients(_company(db, customer)) == (db.get(Contact, colleague.id), [])
    followup = db.scalar(select(Followup))
    assert (followup.kind, followup.queue, followup.source) == ("email_bounced", "collections", "system")
    [ask] = _mails(db, "invoice_link")
    assert ask.to_address == "sam@acme.example" and "clerk@acme.example" in ask.body_text
    link = db.scalar(select(AccessLink).where(AccessLink.contact_id == colleague.id))
    assert [i.id for i in link.invoices] == [invoice.id]
    assert contact_form_path([invoice.public_id]).startswith("/problems/new/contact?invoices=")

    # Bouncing again while the follow-up is active raises nothing new and asks nobody again.
    again = record_bounce(_ctx(db, clock, "system"), mail, "clerk@acme.example")
    assert (again.contacts, again.followups, again.notified) == (1, 0, 0)
    # Staff say it works again: reminders reach it; a later bounce is a new follow-up.
    resolve_bounce(_ctx(db, clock, "staff"), followup.public_id, failing, staff_id=make_staff(db, clock).id)
    assert followup.status == S.RESOLVED and db.get(Contact, clerk.id).email_failing_at is None
    later = record_bounce(_ctx(db, clock, "system"), mail, "clerk@acme.example")
    assert later.followups == 1 and db.scalar(select(func.count()).select_from(Followup)) == 2


def test_a_bounce_for_an_unknown_address_changes_nothing_and_a_bad_one_is_refused(db, clock, acme, mail):
    assert record_bounce(_ctx(db, clock, "system"), mail, "nobody@nowhere.example").contacts == 0
    with pytest.raises(ContactRefused):
        record_bounce(_ctx(db, clock, "system"), mail, "not an address\r\nBcc: x@evil.example")
    assert db.scalar(select(func.count()).select_from(Followup)) == 0


DSN = (b"From: MAILER-DAEMON@mx.northwind.example\nSubject: Undelivered\nMIME-Version: 1.0\n"
       b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
       b"Returned.\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.northwind.example\n\n"
       b"Final-Recipient: rfc822; clerk@acme.example\nAction: failed\nStatus: 5.1.1\n"
       b"Diagnostic-Code: smtp; 550 no such user\n\n--B--\n")


def test_the_record_bounce_command_takes_an_address_or_the_mail_servers_report(make_app, db, clock, acme):
    customer, clerk, _ = acme
    make_contact(db, clock, customer, email="sam@acme.example")
    db.commit()
    runner = make_app().test_cli_runner()
    result = runner.invoke(args=["record-bounce", "--dsn", "-"], input=DSN)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("bounces: 1 address(es), 1 contact(s) marked failing, 1 follow-up(s) raised, "
                                     "1 colleague(s) asked")
    db.expire_all()
    assert db.get(Contact, clerk.id).email_failure == "5.1.1 smtp; 550 no such user"
    again = runner.invoke(args=["record-bounce", "clerk@acme.example", "--reason", "550 again"])
    assert again.exit_code == 0 and "0 follow-up(s) raised" in again.output
    unknown = runner.invoke(args=["record-bounce", "nobody@else.example"])
    assert unknown.exit_code == 0 and "0 contact(s)" in unknown.output
    bad = runner.invoke(args=["record-bounce", "not an address"])
    assert bad.exit_code != 0 and "does not look like" in bad.output
    assert runner.invoke(args=["record-bounce"]).exit_code != 0
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Followup)) == 1


# The first sentence of the invoice-link email, in the recipient's language.
WHY = {
    ("bounce", "en"): "Our emails to clerk@acme.example about Acme Corp's invoices from {supplier} come back undelivered.",
    ("bounce", "fr"): "Nos e-mails à clerk@acme.example au sujet des factures de {supplier} adressées à Acme Corp "
                      "nous reviennent non distribués.",
    ("bounce", "de"): "Unsere E-Mails an clerk@acme.example zu den Rechnungen von {supplier} an Acme Corp kommen "
                      "unzustellbar zurück.",
    ("named", "en"): "A colleague at Acme Corp told us you are the right person for these invoices from {supplier}.",
    ("named", "fr"): "Chez Acme Corp, on nous a indiqué que vous êtes la personne à contacter pour ces factures "
                     "de {supplier}.",
    ("named", "de"): "Bei Acme Corp wurden Sie uns als zuständige Person für diese Rechnungen von {supplier} genannt.",
}


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_the_colleague_asked_after_a_bounce_reads_why_in_their_language(db, clock, acme, mail, supplier, language):
    customer, clerk, invoice = acme
    make_contact(db, clock, customer, email="sam@acme.example", name="Sam").language = language
    record_bounce(_ctx(db, clock, "system"), mail, "clerk@acme.example")
    [ask] = _mails(db, "invoice_link")
    first = ask.body_text.split("\n\n")[1]
    assert " ".join(first.split()).startswith(WHY["bounce", language].format(supplier=supplier.name)), first
    assert "INV-1" in ask.body_text


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_the_person_named_reads_why_in_the_language_their_colleague_reads(db, clock, acme, mail, supplier, language):
    customer, clerk, invoice = acme
    clerk.language = language
    report = _report(db, clock, acme, mail, email="robin@acme.example")
    assert report.added.language == language
    [welcome] = _mails(db, "invoice_link")
    first = welcome.body_text.split("\n\n")[1]
    assert " ".join(first.split()) == WHY["named", language].format(supplier=supplier.name), first
