"""The demo's "we need a PO" and "I'm not the right person" follow-ups, one in each state
(open, waiting for the customer, resolved, dismissed), and a bounced address.

Written through the product's services underneath the forms: `followups.service` raises and
moves each one, `invoicing.service.reissue_with_po` re-issues the resolved PO ones (one in
place on an untouched invoice, one credited and replaced on a partly paid one),
`customers.service` adds the resolved contact and marks the bounced address. No email is
queued: this history is written after the fact (the demo's outbox would otherwise mail the
catcher links nobody asked for). Acme Corp (the demo clerk's) gets the open ones.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock, FixedClock
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact, Customer
from portal.domain.customers.policy import NamedContact
from portal.domain.customers.service import add_contact, mark_email_failing
from portal.domain.disputes.models import DisputeInvoice
from portal.domain.disputes.policy import rebill_number_candidates
from portal.domain.followups.models import Followup, FollowupInvoice
from portal.domain.followups.service import move_followup, raise_followup
from portal.domain.followups.states import FollowupKind as K, FollowupStatus as S
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.policy import DueDateRule
from portal.domain.invoicing.service import MAX_NUMBER_LENGTH, reissue_with_po
from portal.domain.plans.models import PlanInvoice
from portal.domain.promises.models import PromiseInvoice

ACME = "Acme Corp"
STAFF = Actor("staff", "demo-billing")


def _free_invoices(db: Session, customer_id: int, *, partly_paid: bool = False,
                   promised: bool = False) -> list[Invoice]:
    """Open invoices nothing else is about (no dispute, plan or follow-up, nothing in flight;
    no promise either unless `promised`: "we pay once the PO is on it")."""
    others = [select(DisputeInvoice.invoice_id), select(PlanInvoice.invoice_id), select(FollowupInvoice.invoice_id)]
    busy = union(*others) if promised else union(*others, select(PromiseInvoice.invoice_id))
    query = select(Invoice).where(Invoice.customer_id == customer_id, Invoice.balance_minor > 0,
                                  Invoice.in_flight_minor == 0, Invoice.held_minor == 0, Invoice.id.not_in(busy))
    query = query.where(Invoice.balance_minor < Invoice.total_minor) if partly_paid else query.where(
        Invoice.balance_minor == Invoice.total_minor)
    return list(db.scalars(query.order_by(Invoice.due_date, Invoice.number).execution_options(populate_existing=True)))


def _any_free(db: Session, customer_id: int) -> list[Invoice]:
    return (_free_invoices(db, customer_id) or _free_invoices(db, customer_id, partly_paid=True)
            or _free_invoices(db, customer_id, promised=True))


def _clerk(db: Session, customer: Customer) -> Contact:
    contacts = db.scalars(select(Contact).where(Contact.customer_id == customer.id, Contact.is_ap_mailbox.is_(False))
                          .order_by(Contact.id)).all()
    return contacts[0] if contacts else db.scalar(select(Contact).where(Contact.customer_id == customer.id))


def _report(db: Session, clock: Clock, customer: Customer, kind: K, invoice: Invoice, details: dict, note: str = ""):
    clerk = _clerk(db, customer)
    followup, _ = raise_followup(
        Context(db, clock, Actor("contact", clerk.public_id, "127.0.0.1")), kind=kind, customer_id=customer.id,
        invoice_ids=[invoice.id], details=details, note=note, contact_id=clerk.id,
        request_key=f"demo-{kind.value}-{invoice.public_id}"[:64],
    )
    return followup


def write_demo_followup_sources(db: Session, clock: Clock) -> dict[str, list[str]]:
    """Write them (the caller commits); the statuses made, by kind."""
    now = clock.now()
    made: dict[str, list[str]] = {K.NEEDS_PO.value: [], K.WRONG_CONTACT.value: [], K.EMAIL_BOUNCED.value: []}
    customers = list(db.scalars(select(Customer).order_by(Customer.account_number)))
    acme = next((c for c in customers if c.name == ACME), None)
    others = [c for c in customers if c.name != ACME]
    if acme is None or len(others) < 4:
        return made
    earlier = FixedClock(now - timedelta(days=4))
    staff = Context(db, FixedClock(now - timedelta(days=3)), STAFF)

    # PO: open (the clerk gave it), open (who issues it), waiting, resolved twice, dismissed.
    # The demo clerk's open invoices are all disputed, planned or promised: promised ones it is.
    free = _free_invoices(db, acme.id, promised=True) + _free_invoices(db, acme.id, partly_paid=True, promised=True)
    for invoice, details in zip(free, ({"po_number": "4500012345"}, {
            "issuer_name": "Morgan Buyer", "issuer_email": "purchasing@acme.example"}), strict=False):
        made["needs_po"].append(_report(db, clock, acme, K.NEEDS_PO, invoice, details).status)
    for step in ("waiting", "in_place", "replaced", "declined"):
        # A partly paid invoice for the one credited and replaced, an untouched one otherwise.
        found = next(((customer, invoices[0]) for customer in others
                      if (invoices := _free_invoices(db, customer.id, partly_paid=step == "replaced"))), None)
        if found is None:
            continue
        customer, invoice = found
        followup = _report(db, earlier, customer, K.NEEDS_PO, invoice, {"po_number": f"PO-{invoice.number[-5:]}"})
        if step == "waiting":
            move_followup(staff, followup, S.WAITING, for_customer=True,
                          text="This PO is closed in your system: which order should the invoice go on?")
        elif step == "declined":
            move_followup(staff, followup, S.DISMISSED, outcome="declined", for_customer=True,
                          text="That PO belongs to another order; please send the PO for this delivery.")
        else:
            reissue = reissue_with_po(staff, invoice_id=invoice.id, po_number=followup.details["po_number"],
                                      rule=DueDateRule.KEEP, today=staff.clock.now().date(),
                                      ever_disputed=False, followup_id=followup.id,
                                      replacement_numbers=rebill_number_candidates(invoice.number, MAX_NUMBER_LENGTH))
            move_followup(staff, followup, S.RESOLVED, outcome="reissued", for_customer=True,
                          text=f"PO {followup.details['po_number']} applied to {reissue.invoice.number}.")
        made["needs_po"].append(followup.status)

    # Contacts: open (free mail, for staff), waiting, resolved (added), dismissed (rejected).
    steps = ["open", "waiting", "added", "rejected"]
    bounce_customer = None
    for customer in others[4:]:
        invoices = _any_free(db, customer.id)
        if not invoices:
            continue
        if not steps:
            bounce_customer = customer
            break
        step = steps.pop(0)
        domain = _clerk(db, customer).email.rpartition("@")[2]
        email = {"open": "jo.payables@gmail.com", "waiting": f"ap-team@{domain}.partner.example",
                 "added": f"new.clerk@{domain}", "rejected": "someone@outlook.com"}[step]
        followup = _report(db, earlier if step != "open" else clock, customer, K.WRONG_CONTACT, invoices[0],
                           {"name": "Jo Payables", "email": email, "reporter_left": step == "added",
                            "reporter": _clerk(db, customer).public_id, "added_at_once": step == "added"})
        if step == "waiting":
            move_followup(staff, followup, S.WAITING, for_customer=True,
                          text="Is this address at your outsourced accounts payable provider?")
        elif step == "added":
            add_contact(staff, customer.id, NamedContact("Jo Payables", email), why=f"follow-up {followup.public_id}")
            move_followup(staff, followup, S.RESOLVED, outcome="contact_added", for_customer=True,
                          text=f"Jo Payables ({email}) was added and sent a link to the invoices.")
        elif step == "rejected":
            move_followup(staff, followup, S.DISMISSED, outcome="rejected", for_customer=True,
                          text="We can only send invoices to a company address.")
        made["wrong_contact"].append(followup.status)

    # A bounced address: marked failing, its follow-up open for collections.
    if bounce_customer is not None:
        bounced = _clerk(db, bounce_customer)
        mark_email_failing(Context(db, earlier, Actor.system("record-bounce")), bounced, "5.1.1 user unknown")
        followup, _ = raise_followup(
            Context(db, earlier, Actor.system("record-bounce")), kind=K.EMAIL_BOUNCED,
            customer_id=bounce_customer.id, invoice_ids=[invoice.id for invoice in _any_free(db, bounce_customer.id)[:5]],
            details={"contact": bounced.public_id, "email": bounced.email, "reason": "5.1.1 user unknown"},
            dedupe_key=f"email_bounced:{bounced.public_id}:1",
        )
        made["email_bounced"].append(followup.status)
    return made


def followup_source_counts(db: Session) -> dict[tuple[str, str], int]:
    return {(kind, status): count for kind, status, count in db.execute(
        select(Followup.kind, Followup.status, func.count()).group_by(Followup.kind, Followup.status))}
