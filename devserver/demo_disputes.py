"""The demo's disputes: one in every status, over invoices of a few customers, each with a
short thread, raised and worked through the product's own services.

They are written after the staff, teams and routing rules (`devserver.demo_staff`), so each
is raised with `route_by_rules` and lands with a team, an owner, a priority and SLA dates as a
live one would; every staff step is then taken by the dispute's owner, within the credit limit
of the owner's role. Where a step needs more than that limit (a re-bill of a large invoice),
the owner leaves an internal note and a supervisor takes it; a credit above an analyst's limit
is left waiting for a supervisor's approval.

Acme Corp's clerk (the demo's) sees eight of them; a euro, a sterling and another dollar
customer have one each. The history runs over the last week (a clock moved by hand), so the
pages show disputes of different ages. No email is queued: this history is written after the
fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.access.policy import ACCOUNT, Access
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock, FixedClock
from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes import service
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.policy import InvoiceChoice, LineChoice, rebill_number_candidates
from portal.domain.disputes.states import DisputeStatus
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.service import MAX_NUMBER_LENGTH, NewLine
from portal.domain.staff.models import StaffMember, TeamMembership
from portal.domain.staff.policy import credit_limit, within_credit_limit
from portal.domain.staff.states import StaffRole

ACME = "Acme Corp"
ACME_CLERK = "ap@acme.example"
S = DisputeStatus


@dataclass(frozen=True)
class Story:
    """One demo dispute: whose invoice (Acme's, or another customer billed in that currency),
    why, and the status it is left in, `hours_ago` after it was raised."""

    customer: str  # "acme", or a currency: the first other customer with an open invoice in it
    reason: str
    description: str
    ends: DisputeStatus
    hours_ago: int


STORIES = (
    Story("acme", "pricing", "The unit price is last year's; our contract has the new rate.", S.UNDER_REVIEW, 30),
    Story("acme", "quantity_short", "Only 8 of the 10 cases arrived; the delivery note says so.", S.OPEN, 2),
    Story("acme", "po_missing", "This invoice has no PO number, so our AP system cannot match it.",
          S.AWAITING_CUSTOMER, 52),
    Story("acme", "damaged", "Two cartons arrived crushed; the driver signed the damage report.",
          S.RESOLVED_ACCEPTED, 160),
    Story("acme", "pricing", "Freight was charged although the order qualified for free delivery.",
          S.RESOLVED_PARTIAL, 140),
    Story("acme", "duplicate_billing", "This looks like a second bill for the same order.", S.REJECTED, 120),
    Story("acme", "other", "Raised by mistake: we meant another invoice.", S.WITHDRAWN, 96),
    Story("acme", "pricing", "Every line is at list price; our contract gives us 10% off.", S.REBILLED, 75),
    Story("EUR", "damaged", "Half the shipment arrived damaged; the photos went to your driver.",
          S.AWAITING_APPROVAL, 60),
    Story("GBP", "quantity_short", "We received 40 of the 50 units on this invoice.", S.OPEN, 6),
    Story("USD", "tax", "Sales tax was charged although our exemption certificate is on file.", S.UNDER_REVIEW, 20),
)

# What each side writes, by the status the dispute is left in: (customer message after raising,
# staff reply, the staff step's own text).
THREADS = {
    S.OPEN: ("The delivery note is DN-4471; we can send a copy.", None, None),
    S.UNDER_REVIEW: ("Our contract number is C-2291, signed in March.",
                     "Thank you, we are checking the contract rate.", None),
    S.AWAITING_CUSTOMER: (None, "Thank you, we are looking into it.", "Which PO number should the invoice carry?"),
    S.AWAITING_APPROVAL: ("The photos are in our email of Tuesday.", "We have the photos and agree; a credit follows.",
                          "Above my credit limit: please approve the full credit."),
    S.RESOLVED_ACCEPTED: ("The damage report is signed by your driver.", "We have the report, thank you.",
                          "We credit the damaged cartons in full."),
    S.RESOLVED_PARTIAL: (None, "The order qualified for half the freight.", "We credit half of the freight."),
    S.REJECTED: (None, "We are checking the order history.",
                 "This is a separate order (see the PO on the invoice); the invoice stands."),
    S.WITHDRAWN: ("Sorry, this was the wrong invoice: we withdraw the dispute.", None, None),
    S.REBILLED: ("The contract is attached to our email.", "You are right: the contract price applies.",
                 "We have re-issued the invoice at the contract price; the old one is credited."),
}
HOURS_BETWEEN_STEPS = 4


def _actor(member: StaffMember) -> Actor:
    return Actor("staff", member.public_id, "127.0.0.1")


def _contact(db: Session, customer_id: int) -> Contact:
    contacts = db.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id)).all()
    return next((c for c in contacts if c.email == ACME_CLERK), None) or contacts[0]


def _invoices_to_dispute(db: Session) -> list[tuple[Story, Invoice]]:
    """An open invoice with nothing in flight for each story: Acme's oldest due first; for the
    others, the largest open invoice of the first other customer billed in that currency."""
    acme_id = db.scalar(select(Customer.id).where(Customer.name == ACME))
    if acme_id is None:
        return []
    # Read fresh: the balances are kept by database triggers, behind the objects already loaded.
    open_invoices = (select(Invoice).where(Invoice.balance_minor > 0, Invoice.in_flight_minor == 0)
                     .execution_options(populate_existing=True))
    acme = list(db.scalars(open_invoices.where(Invoice.customer_id == acme_id)
                           .order_by(Invoice.due_date, Invoice.number)))
    chosen = []
    for story in STORIES:
        if story.customer == "acme":
            invoice = acme.pop(0) if acme else None
        else:
            invoice = db.scalars(
                open_invoices.join(Customer, Customer.id == Invoice.customer_id)
                .where(Invoice.currency == story.customer, Invoice.customer_id != acme_id)
                .order_by(Customer.account_number, Invoice.balance_minor.desc(), Invoice.id).limit(1)
            ).first()
        if invoice is not None:
            chosen.append((story, invoice))
    return chosen


def _choice(story: Story, invoice: Invoice) -> InvoiceChoice:
    """What is disputed: two lines for a short delivery, the whole invoice for the credit that
    waits for approval (above an analyst's limit), else a part within an analyst's limit."""
    balance, currency = invoice.balance_minor, invoice.currency
    if story.reason == "quantity_short" and len(invoice.lines) >= 2:
        first, second = invoice.lines[0], invoice.lines[1]
        return InvoiceChoice(invoice.public_id, "lines", lines=(
            LineChoice(first.position, amount_text=Money(min(first.amount_minor, balance // 3), currency).plain()),
            LineChoice(second.position, amount_text=Money(
                max(min(second.amount_minor, balance // 6), 1), currency).plain()),
        ))
    if story.ends == S.AWAITING_APPROVAL:
        return InvoiceChoice(invoice.public_id, "whole")
    analyst_limit = credit_limit(StaffRole.ANALYST, currency)
    part = min(max(balance // 4, 1), analyst_limit.minor if analyst_limit else balance)
    return InvoiceChoice(invoice.public_id, "amount", amount_text=Money(part, currency).plain())


def _supervisor(db: Session, member: StaffMember | None) -> StaffMember:
    """Who takes over what is above `member`'s limit: a supervisor of one of their teams, else
    the first supervisor."""
    teams = set(db.scalars(select(TeamMembership.team_id).where(TeamMembership.staff_id == member.id))) \
        if member is not None else set()
    supervisors = db.execute(
        select(StaffMember, TeamMembership.team_id)
        .join(TeamMembership, TeamMembership.staff_id == StaffMember.id, isouter=True)
        .where(StaffMember.role == StaffRole.SUPERVISOR).order_by(StaffMember.id)
    ).all()
    return next((s for s, team_id in supervisors if team_id in teams), supervisors[0][0])


def _corrected_lines(invoice: Invoice) -> list[NewLine]:
    """The invoice's lines at the contract price: 10 % off each unit price."""
    return [NewLine(line.description, line.quantity,
                    int((Decimal(line.unit_price_minor) * Decimal("0.9")).quantize(Decimal(1), ROUND_HALF_UP)),
                    sku=line.sku)
            for line in invoice.lines]


def _work(db: Session, clock: FixedClock, story: Story, dispute: Dispute, invoice: Invoice,
          customer: Context, access: Access) -> None:
    """Take the dispute from `open` to `story.ends`, each staff step by its owner."""
    said, reply, step = THREADS[story.ends]
    owner = db.get(StaffMember, dispute.assignee_id) if dispute.assignee_id else _supervisor(db, None)
    staff = Context(db, clock, _actor(owner))
    limit = credit_limit(owner.role, dispute.currency)
    pid = dispute.public_id

    def later() -> None:
        clock.advance(hours=HOURS_BETWEEN_STEPS)

    if said:
        later()
        service.add_message(customer, access, pid, said)
    if reply:
        later()
        service.reply(staff, None, pid, reply)
    later()
    if story.ends == S.AWAITING_CUSTOMER:
        service.request_information(staff, None, pid, step)
    elif story.ends == S.AWAITING_APPROVAL:
        service.resolve_accept(staff, None, pid, explanation=step, credit_limit=limit)
    elif story.ends == S.RESOLVED_ACCEPTED:
        service.resolve_accept(staff, None, pid, explanation=step, credit_limit=limit)
    elif story.ends == S.RESOLVED_PARTIAL:
        half = Money(max(dispute.invoices[0].disputed_minor // 2, 1), dispute.currency)
        service.resolve_accept(staff, None, pid, credits={invoice.public_id: half}, explanation=step,
                               credit_limit=limit)
    elif story.ends == S.REJECTED:
        service.reject(staff, None, pid, step)
    elif story.ends == S.WITHDRAWN:
        service.withdraw(customer, access, pid)
    elif story.ends == S.REBILLED:
        credit = Money(invoice.balance_minor - invoice.in_flight_minor, dispute.currency)
        if not within_credit_limit(owner.role, credit):
            service.reply(staff, None, pid, f"The re-bill credits {credit.format()}, above my credit limit: "
                                            "passing it to a supervisor.", internal=True)
            later()
            owner = _supervisor(db, owner)
            staff = Context(db, clock, _actor(owner))
            limit = credit_limit(owner.role, dispute.currency)
        number = next(n for n in rebill_number_candidates(invoice.number, MAX_NUMBER_LENGTH)
                      if db.scalar(select(Invoice.id).where(Invoice.number == n)) is None)
        correction = service.Correction(number, clock.now().date() + timedelta(days=30), _corrected_lines(invoice))
        service.rebill(staff, None, pid, {invoice.public_id: correction}, explanation=step, credit_limit=limit)
    if dispute.status != story.ends:
        raise RuntimeError(f"demo dispute {pid} ended {dispute.status}, not {story.ends}")


def write_demo_disputes(db: Session, clock: Clock) -> list[str]:
    """Raise and work the demo disputes (the caller commits); the staff, teams and routing
    rules must exist. Returns the statuses made, in the order of `STORIES`."""
    now = clock.now()
    made = []
    for story, invoice in _invoices_to_dispute(db):
        history = FixedClock(now - timedelta(hours=story.hours_ago))
        contact = _contact(db, invoice.customer_id)
        access = Access(contact.customer_id, contact.id, ACCOUNT)
        customer = Context(db, history, Actor("contact", contact.public_id, "127.0.0.1"))
        dispute = service.raise_dispute(
            customer, access, reason_code=story.reason, description=story.description,
            choices=[_choice(story, invoice)], request_key=f"demo-dispute-{invoice.public_id}",
            router=service.route_by_rules,
        )
        _work(db, history, story, dispute, invoice, customer, access)
        made.append(dispute.status)
    return made


def _disputes(count: int) -> str:
    return f"{count} dispute{'s' if count != 1 else ''}"


def dispute_owners(db: Session) -> dict[int, str]:
    """Per staff member id, the disputes they own, e.g. "owns 3 disputes: 2 open, 1 under
    review" (for the demo's printed logins)."""
    counts: dict[int, list[tuple[str, int]]] = {}
    for assignee_id, status, count in db.execute(
        select(Dispute.assignee_id, Dispute.status, func.count()).where(Dispute.assignee_id.is_not(None))
        .group_by(Dispute.assignee_id, Dispute.status)
    ):
        counts.setdefault(assignee_id, []).append((status, count))
    order = list(DisputeStatus)
    return {
        assignee_id: f"owns {_disputes(sum(n for _, n in rows))}: " + ", ".join(
            f"{n} {status.replace('_', ' ')}"
            for status, n in sorted(rows, key=lambda row: order.index(DisputeStatus(row[0]))))
        for assignee_id, rows in counts.items()
    }

