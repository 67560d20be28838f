"""What the customer sees of disputes: the company's list, one dispute's page, and the raise
form's invoices with their lines.

Scoped by the session's `Access`: every contact of the company sees the company's disputes;
a forwarded invoice link's holder sees only the disputes whose invoices the link all names
(`policy.link_may_see`, written here as SQL). Internal staff notes and staff-only events are
never loaded. Each read model costs a fixed number of statements whatever the data size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, true
from sqlalchemy.orm import Session

from portal.domain.account.queries import LineView
from portal.domain.access.policy import Access, named_invoices
from portal.domain.core.errors import NotFound
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer
from portal.domain.disputes.models import (
    Dispute, DisputeEvent, DisputeInvoice, DisputeLine, DisputeMessage, DisputeReason,
)
from portal.domain.disputes.policy import MAX_CORRECTED_DUE_DAYS, disputable, rebill_number_candidates
from portal.domain.disputes.states import (
    ACTIVE, CUSTOMER_HIDDEN, DISPUTE_TRANSITIONS, EVENT_LABELS, STATUS_LABELS, DisputeStatus, EventKind,
)
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.invoicing.service import MAX_NUMBER_LENGTH
from portal.domain.ledger.queries import Standing, standings_query, to_standings
from portal.domain.staff.models import StaffMember, Team, TeamMembership
from portal.domain.staff.states import StaffStatus

PER_PAGE = 25

# Names of the owning team and person, given their ids (the staff area plugs this in):
# (team_ids, staff_ids) -> ({team_id: name}, {staff_id: name}).
OwnerNames = Callable[[Session, set[int], set[int]], tuple[Mapping[int, str], Mapping[int, str]]]


def no_owner_names(db: Session, team_ids: set[int], staff_ids: set[int]):
    return {}, {}


def visible_disputes(access: Access) -> ColumnElement[bool]:
    """A WHERE clause on `Dispute`: the disputes this access may see."""
    same_company = Dispute.customer_id == access.customer_id
    if access.whole_account:
        return and_(same_company, true())
    outside = (
        select(DisputeInvoice.id)
        .where(DisputeInvoice.dispute_id == Dispute.id,
               DisputeInvoice.invoice_id.not_in(sorted(access.invoice_ids)))
    )
    inside = select(DisputeInvoice.id).where(DisputeInvoice.dispute_id == Dispute.id,
                                             DisputeInvoice.invoice_id.in_(sorted(access.invoice_ids)))
    return and_(same_company, exists(inside), not_(exists(outside)))


def _owner(team: str | None, person: str | None, dispute: Dispute) -> str:
    if dispute.team_id is None and dispute.assignee_id is None:
        return "Not yet assigned"
    if person and team:
        return f"{person} ({team})"
    return person or team or "Assigned to our team"


@dataclass(frozen=True)
class DisputeRow:
    public_id: str
    status: str
    status_label: str
    reason: str
    invoice_numbers: tuple[str, ...]
    disputed: Money
    created_at: datetime
    resolution_due_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class DisputeList:
    rows: list[DisputeRow]
    page: int
    pages: int
    total: int
    invoice_number: str = ""  # the list is limited to one invoice's disputes


def dispute_list(db: Session, access: Access, *, page: int = 1, invoice_public_id: str = "") -> DisputeList:
    """The disputes this access may see, newest first, a page at a time (three statements;
    four with an invoice filter)."""
    where = [visible_disputes(access)]
    invoice_number = ""
    if invoice_public_id:
        row = db.execute(select(Invoice.id, Invoice.number).where(named_invoices(access, [invoice_public_id]))).first()
        if row is None:
            raise NotFound("Invoice not found")
        invoice_number = row.number
        where.append(exists(select(DisputeInvoice.id).where(DisputeInvoice.dispute_id == Dispute.id,
                                                            DisputeInvoice.invoice_id == row.id)))
    total = db.scalar(select(func.count()).select_from(Dispute).where(*where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    disputes = db.execute(
        select(Dispute, DisputeReason.label).join(DisputeReason, DisputeReason.id == Dispute.reason_id)
        .where(*where).order_by(Dispute.created_at.desc(), Dispute.id.desc())
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    covered: dict[int, list[tuple[str, int]]] = {}
    if disputes:
        for dispute_id, number, disputed in db.execute(
            select(DisputeInvoice.dispute_id, Invoice.number, DisputeInvoice.disputed_minor)
            .join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
            .where(DisputeInvoice.dispute_id.in_([d.id for d, _ in disputes]))
            .order_by(Invoice.number)
        ):
            covered.setdefault(dispute_id, []).append((number, disputed))
    rows = [
        DisputeRow(
            public_id=d.public_id, status=d.status, status_label=STATUS_LABELS[DisputeStatus(d.status)],
            reason=label, invoice_numbers=tuple(n for n, _ in covered.get(d.id, [])),
            disputed=Money(sum(m for _, m in covered.get(d.id, [])), d.currency), created_at=d.created_at,
            resolution_due_at=d.resolution_due_at,
        )
        for d, label in disputes
    ]
    return DisputeList(rows=rows, page=page, pages=pages, total=total, invoice_number=invoice_number)


@dataclass(frozen=True)
class CoveredLine:
    position: int
    description: str
    quantity: Decimal | None
    amount: Money


@dataclass(frozen=True)
class CoveredInvoice:
    public_id: str
    number: str
    disputed: Money
    held: Money
    credited: Money
    lines: tuple[CoveredLine, ...]


@dataclass(frozen=True)
class ThreadMessage:
    from_customer: bool
    body: str
    at: datetime


@dataclass(frozen=True)
class HistoryEvent:
    at: datetime
    label: str
    detail: str


@dataclass(frozen=True)
class DisputePage:
    dispute: Dispute
    reason: str
    owner: str
    invoices: tuple[CoveredInvoice, ...]
    messages: tuple[ThreadMessage, ...]
    history: tuple[HistoryEvent, ...]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[DisputeStatus(self.dispute.status)]

    @property
    def is_active(self) -> bool:
        return self.dispute.status in ACTIVE

    @property
    def awaits_customer(self) -> bool:
        return self.dispute.status == DisputeStatus.AWAITING_CUSTOMER

    @property
    def disputed(self) -> Money:
        return Money(sum(i.disputed.minor for i in self.invoices), self.dispute.currency)

    @property
    def credited(self) -> Money:
        return Money(sum(i.credited.minor for i in self.invoices), self.dispute.currency)


def dispute_page(db: Session, access: Access, public_id: str, owner_names: OwnerNames = no_owner_names) -> DisputePage:
    """One dispute as the customer sees it (five statements, plus what `owner_names` reads)."""
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 22:
        raise NotFound("Dispute not found")
    row = db.execute(
        select(Dispute, DisputeReason.label).join(DisputeReason, DisputeReason.id == Dispute.reason_id)
        .where(Dispute.public_id == public_id, visible_disputes(access))
    ).first()
    if row is None:
        raise NotFound("Dispute not found")
    dispute, reason = row
    currency = dispute.currency
    covered = db.execute(
        select(DisputeInvoice, Invoice.public_id, Invoice.number)
        .join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
        .where(DisputeInvoice.dispute_id == dispute.id).order_by(Invoice.number)
    ).all()
    lines: dict[int, list[CoveredLine]] = {}
    for line, invoice_line in db.execute(
        select(DisputeLine, InvoiceLine).join(InvoiceLine, InvoiceLine.id == DisputeLine.invoice_line_id)
        .where(DisputeLine.dispute_invoice_id.in_([c.id for c, _, _ in covered]))
        .order_by(InvoiceLine.position)
    ):
        lines.setdefault(line.dispute_invoice_id, []).append(CoveredLine(
            position=invoice_line.position, description=invoice_line.description, quantity=line.quantity,
            amount=Money(line.amount_minor, currency),
        ))
    messages = tuple(
        ThreadMessage(from_customer=m.author_kind == "customer", body=m.body, at=m.created_at)
        for m in db.scalars(
            select(DisputeMessage).where(DisputeMessage.dispute_id == dispute.id, DisputeMessage.internal.is_(False))
            .order_by(DisputeMessage.created_at, DisputeMessage.id)
        )
    )
    history = tuple(
        HistoryEvent(at=e.at, label=EVENT_LABELS.get(EventKind(e.kind), e.kind), detail=e.detail)
        for e in db.scalars(
            select(DisputeEvent).where(DisputeEvent.dispute_id == dispute.id,
                                       DisputeEvent.kind.not_in([str(k) for k in CUSTOMER_HIDDEN]))
            .order_by(DisputeEvent.at, DisputeEvent.id)
        )
        if e.kind != EventKind.MESSAGE  # messages are in the thread already
    )
    teams, people = ({}, {})
    if dispute.team_id is not None or dispute.assignee_id is not None:
        teams, people = owner_names(db, {dispute.team_id} - {None}, {dispute.assignee_id} - {None})
    return DisputePage(
        dispute=dispute, reason=reason,
        owner=_owner(teams.get(dispute.team_id), people.get(dispute.assignee_id), dispute),
        invoices=tuple(
            CoveredInvoice(public_id=pid, number=number, disputed=Money(c.disputed_minor, currency),
                           held=Money(c.held_minor, currency), credited=Money(c.credited_minor, currency),
                           lines=tuple(lines.get(c.id, [])))
            for c, pid, number in covered
        ),
        messages=messages, history=history,
    )


# --------------------------------------------------------------------------------------------
# The raise form


@dataclass(frozen=True)
class FormInvoice:
    standing: Standing
    available: Money  # what can still be disputed on it
    lines: tuple[LineView, ...]

    @property
    def invoice(self) -> Invoice:
        return self.standing.invoice


@dataclass(frozen=True)
class RaiseForm:
    invoices: tuple[FormInvoice, ...]
    reasons: tuple[tuple[str, str], ...]  # (code, label)
    problem: str = ""

    @property
    def currency(self) -> str | None:
        currencies = {i.invoice.currency for i in self.invoices}
        return currencies.pop() if len(currencies) == 1 else None


def raise_form(db: Session, access: Access, public_ids: list[str], today: date, limit: int) -> RaiseForm:
    """The invoices named (which this access must see: else NotFound), their lines and what can
    still be disputed on each, and the supplier's reasons (three statements)."""
    public_ids = list(dict.fromkeys(public_ids))[:limit]
    reasons = tuple(
        (r.code, r.label) for r in db.scalars(
            select(DisputeReason).where(DisputeReason.active.is_(True)).order_by(DisputeReason.position)
        )
    )
    if not public_ids:
        return RaiseForm((), reasons, "Choose the invoices to dispute from the invoice list.")
    standings = to_standings(db.execute(standings_query().where(named_invoices(access, public_ids))).all(), today)
    if len(standings) != len(public_ids):
        raise NotFound("Invoice not found")
    by_invoice: dict[int, list[LineView]] = {}
    for line in db.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id.in_([s.invoice.id for s in standings]))
                           .order_by(InvoiceLine.invoice_id, InvoiceLine.position)):
        currency = next(s.invoice.currency for s in standings if s.invoice.id == line.invoice_id)
        by_invoice.setdefault(line.invoice_id, []).append(LineView(
            position=line.position, sku=line.sku, description=line.description, quantity=line.quantity,
            unit_price=Money(line.unit_price_minor, currency), amount=Money(line.amount_minor, currency),
        ))
    invoices = tuple(
        FormInvoice(standing=s, available=disputable(s.balance, s.in_flight, s.held or Money.zero(s.invoice.currency)),
                    lines=tuple(by_invoice.get(s.invoice.id, [])))
        for s in sorted(standings, key=lambda s: (s.invoice.due_date, s.invoice.number))
    )
    problem = ""
    if len({i.invoice.currency for i in invoices}) > 1:
        problem = "Invoices in different currencies need separate disputes: choose invoices in one currency."
    elif all(i.available.is_zero for i in invoices):
        problem = "Nothing on these invoices can be disputed now: they are paid, being paid or already disputed."
    return RaiseForm(invoices, reasons, problem)


# --------------------------------------------------------------------------------------------
# What routing needs from the disputes


def open_loads(db: Session) -> dict[int, int]:
    """Each staff member's number of active disputes assigned to them (one statement)."""
    return dict(db.execute(
        select(Dispute.assignee_id, func.count()).where(Dispute.assignee_id.is_not(None),
                                                        Dispute.status.in_([str(s) for s in ACTIVE]))
        .group_by(Dispute.assignee_id)
    ).all())


def last_assignees(db: Session) -> dict[int, int]:
    """For each team, the member its most recently routed dispute went to (one statement)."""
    latest = (select(Dispute.team_id, func.max(Dispute.id).label("dispute_id"))
              .where(Dispute.team_id.is_not(None), Dispute.assignee_id.is_not(None))
              .group_by(Dispute.team_id).subquery())
    return dict(db.execute(
        select(Dispute.team_id, Dispute.assignee_id).join(latest, latest.c.dispute_id == Dispute.id)
    ).all())


# --------------------------------------------------------------------------------------------
# Staff queues


QUEUE_TABS = ("mine", "team", "unassigned", "at_risk", "all")
QUEUE_TAB_LABELS = {"mine": "Mine", "team": "My teams'", "unassigned": "Unassigned", "at_risk": "SLA at risk",
                    "all": "All"}
QUEUE_STATUS_FILTERS = ("active", "all", *(str(status) for status in DisputeStatus))
QUEUE_PER_PAGE = 25
MAX_QUEUE_SEARCH_LENGTH = 100
# An active dispute is at risk when a due date it has not met falls within this window (or is past).
SLA_AT_RISK_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class QueueQuery:
    tab: str = "mine"
    status: str = "active"
    reason: str = ""
    q: str = ""
    page: int = 1


@dataclass(frozen=True)
class QueueRow:
    public_id: str
    status: str
    status_label: str
    reason: str
    customer_name: str
    account_number: str
    invoice_numbers: tuple[str, ...]
    disputed: Money
    priority: str
    team: str | None
    assignee: str | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    created_at: datetime
    at_risk: bool


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    query: QueueQuery
    page: int
    pages: int
    total: int


def _like(text: str) -> str:
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _at_risk(now: datetime) -> ColumnElement[bool]:
    horizon = now + SLA_AT_RISK_WINDOW
    return and_(
        Dispute.status.in_([str(s) for s in ACTIVE]),
        or_(Dispute.resolution_due_at <= horizon,
            and_(Dispute.first_responded_at.is_(None), Dispute.first_response_due_at <= horizon)),
    )


def staff_queue(db: Session, staff_id: int, query: QueueQuery, now: datetime) -> Queue:
    """One tab of the staff queues, filtered, searched (customer name or account number, or an
    invoice number) and sorted by SLA due (the soonest first, disputes without a date last), a
    page at a time. Four statements whatever the data size. Whether the member may see the
    "all" tab is the caller's decision (its permission)."""
    where: list[ColumnElement[bool]] = []
    if query.tab == "mine":
        where.append(Dispute.assignee_id == staff_id)
    elif query.tab == "team":
        team_ids = list(db.scalars(select(TeamMembership.team_id).where(TeamMembership.staff_id == staff_id)))
        where.append(Dispute.team_id.in_(team_ids))
    elif query.tab == "unassigned":
        where.append(Dispute.assignee_id.is_(None))
    elif query.tab == "at_risk":
        where.append(_at_risk(now))
    if query.status == "active":
        where.append(Dispute.status.in_([str(s) for s in ACTIVE]))
    elif query.status != "all":
        where.append(Dispute.status == query.status)
    if query.reason:
        where.append(DisputeReason.code == query.reason)
    if query.q:
        pattern = _like(query.q)
        where.append(or_(
            func.lower(Customer.name).like(pattern, escape="/"),
            func.lower(Customer.account_number).like(pattern, escape="/"),
            exists(select(DisputeInvoice.id).join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
                   .where(DisputeInvoice.dispute_id == Dispute.id,
                          func.lower(Invoice.number).like(pattern, escape="/"))),
        ))
    base = (select(Dispute.id).join(DisputeReason, DisputeReason.id == Dispute.reason_id)
            .join(Customer, Customer.id == Dispute.customer_id).where(*where))
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // QUEUE_PER_PAGE))
    page = min(max(query.page, 1), pages)
    due = func.coalesce(Dispute.resolution_due_at, Dispute.first_response_due_at)
    found = db.execute(
        select(Dispute, DisputeReason.label, Customer.name, Customer.account_number, Team.name, StaffMember.name,
               _at_risk(now))
        .join(DisputeReason, DisputeReason.id == Dispute.reason_id)
        .join(Customer, Customer.id == Dispute.customer_id)
        .outerjoin(Team, Team.id == Dispute.team_id)
        .outerjoin(StaffMember, StaffMember.id == Dispute.assignee_id)
        .where(*where)
        .order_by(due.is_(None), due, Dispute.created_at, Dispute.id)
        .limit(QUEUE_PER_PAGE).offset((page - 1) * QUEUE_PER_PAGE)
    ).all()
    covered: dict[int, list[tuple[str, int]]] = {}
    if found:
        for dispute_id, number, disputed in db.execute(
            select(DisputeInvoice.dispute_id, Invoice.number, DisputeInvoice.disputed_minor)
            .join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
            .where(DisputeInvoice.dispute_id.in_([row[0].id for row in found])).order_by(Invoice.number)
        ):
            covered.setdefault(dispute_id, []).append((number, disputed))
    rows = [
        QueueRow(
            public_id=d.public_id, status=d.status, status_label=STATUS_LABELS[DisputeStatus(d.status)],
            reason=reason, customer_name=customer, account_number=account,
            invoice_numbers=tuple(n for n, _ in covered.get(d.id, [])),
            disputed=Money(sum(m for _, m in covered.get(d.id, [])), d.currency), priority=d.priority,
            team=team, assignee=person, first_response_due_at=d.first_response_due_at,
            resolution_due_at=d.resolution_due_at, created_at=d.created_at, at_risk=bool(risk),
        )
        for d, reason, customer, account, team, person, risk in found
    ]
    return Queue(rows=rows, query=QueueQuery(query.tab, query.status, query.reason, query.q, page),
                 page=page, pages=pages, total=total)


def reason_choices(db: Session) -> list[tuple[str, str]]:
    return list(db.execute(select(DisputeReason.code, DisputeReason.label).order_by(DisputeReason.label)).all())


# --------------------------------------------------------------------------------------------
# The staff page of one dispute

EARLIER_DISPUTES_SHOWN = 20
OPEN_INVOICES_SHOWN = 50


@dataclass(frozen=True)
class StaffMessage:
    author: str  # "customer", "staff" or "system"
    internal: bool
    body: str
    at: datetime


@dataclass(frozen=True)
class StaffCoveredInvoice:
    public_id: str
    number: str
    disputed: Money
    held: Money
    credited: Money
    proposed_credit: Money | None


@dataclass(frozen=True)
class OpenInvoice:
    number: str
    due_date: date
    balance: Money
    held: Money


@dataclass(frozen=True)
class EarlierDispute:
    public_id: str
    created_at: datetime
    reason: str
    status_label: str
    resolved_at: datetime | None


@dataclass(frozen=True)
class StaffDisputePage:
    dispute: Dispute
    reason: str
    customer_name: str
    account_number: str
    status_label: str
    team: str | None
    assignee: str | None
    invoices: tuple[StaffCoveredInvoice, ...]
    messages: tuple[StaffMessage, ...]
    history: tuple[HistoryEvent, ...]
    open_invoices: tuple[OpenInvoice, ...]
    earlier: tuple[EarlierDispute, ...]

    @property
    def is_active(self) -> bool:
        return self.dispute.status in ACTIVE

    @property
    def awaiting_approval(self) -> bool:
        return self.dispute.status == DisputeStatus.AWAITING_APPROVAL

    @property
    def disputed(self) -> Money:
        return Money(sum(i.disputed.minor for i in self.invoices), self.dispute.currency)

    @property
    def proposed_credit(self) -> Money:
        return Money(sum(i.proposed_credit.minor for i in self.invoices if i.proposed_credit), self.dispute.currency)

    @property
    def may_rebill(self) -> bool:
        return DISPUTE_TRANSITIONS.can_move(self.dispute.status, DisputeStatus.REBILLED)


def staff_dispute_page(db: Session, public_id: str) -> StaffDisputePage:
    """One dispute as staff see it: internal notes and every event included, and the customer's
    context (open invoices, earlier disputes and how they ended). Six statements."""
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 22:
        raise NotFound("Dispute not found")
    row = db.execute(
        select(Dispute, DisputeReason.label, Customer.name, Customer.account_number, Team.name, StaffMember.name)
        .join(DisputeReason, DisputeReason.id == Dispute.reason_id)
        .join(Customer, Customer.id == Dispute.customer_id)
        .outerjoin(Team, Team.id == Dispute.team_id)
        .outerjoin(StaffMember, StaffMember.id == Dispute.assignee_id)
        .where(Dispute.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound("Dispute not found")
    dispute, reason, customer_name, account_number, team, assignee = row
    currency = dispute.currency
    invoices = tuple(
        StaffCoveredInvoice(
            public_id=invoice_public_id, number=number, disputed=Money(c.disputed_minor, currency),
            held=Money(c.held_minor, currency), credited=Money(c.credited_minor, currency),
            proposed_credit=Money(c.proposed_credit_minor, currency) if c.proposed_credit_minor is not None else None,
        )
        for c, invoice_public_id, number in db.execute(
            select(DisputeInvoice, Invoice.public_id, Invoice.number).join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
            .where(DisputeInvoice.dispute_id == dispute.id).order_by(Invoice.number)
        )
    )
    messages = tuple(
        StaffMessage(author=m.author_kind, internal=m.internal, body=m.body, at=m.created_at)
        for m in db.scalars(select(DisputeMessage).where(DisputeMessage.dispute_id == dispute.id)
                            .order_by(DisputeMessage.created_at, DisputeMessage.id))
    )
    history = tuple(
        HistoryEvent(at=e.at, label=EVENT_LABELS.get(EventKind(e.kind), e.kind), detail=e.detail)
        for e in db.scalars(select(DisputeEvent).where(DisputeEvent.dispute_id == dispute.id)
                            .order_by(DisputeEvent.at, DisputeEvent.id))
    )
    open_invoices = tuple(
        OpenInvoice(number=i.number, due_date=i.due_date, balance=Money(i.balance_minor, i.currency),
                    held=Money(i.held_minor, i.currency))
        for i in db.execute(
            select(Invoice.number, Invoice.due_date, Invoice.balance_minor, Invoice.held_minor, Invoice.currency)
            .where(Invoice.customer_id == dispute.customer_id, Invoice.balance_minor > 0)
            .order_by(Invoice.due_date, Invoice.id).limit(OPEN_INVOICES_SHOWN)
        )
    )
    earlier = tuple(
        EarlierDispute(public_id=d.public_id, created_at=d.created_at, reason=label,
                       status_label=STATUS_LABELS[DisputeStatus(d.status)], resolved_at=d.resolved_at)
        for d, label in db.execute(
            select(Dispute, DisputeReason.label).join(DisputeReason, DisputeReason.id == Dispute.reason_id)
            .where(Dispute.customer_id == dispute.customer_id, Dispute.id != dispute.id)
            .order_by(Dispute.created_at.desc(), Dispute.id.desc()).limit(EARLIER_DISPUTES_SHOWN)
        )
    )
    return StaffDisputePage(
        dispute=dispute, reason=reason, customer_name=customer_name, account_number=account_number,
        status_label=STATUS_LABELS[DisputeStatus(dispute.status)], team=team, assignee=assignee,
        invoices=invoices, messages=messages, history=history, open_invoices=open_invoices, earlier=earlier,
    )


def assignable_staff(db: Session) -> list[tuple[str, str, str, int, int]]:
    """(staff public id, staff name, team name, staff id, team id) for every active member of a
    team, by team and name: the reassign form's choices."""
    return [tuple(row) for row in db.execute(
        select(StaffMember.public_id, StaffMember.name, Team.name, StaffMember.id, Team.id)
        .join(TeamMembership, TeamMembership.staff_id == StaffMember.id).join(Team, Team.id == TeamMembership.team_id)
        .where(StaffMember.status == StaffStatus.ACTIVE).order_by(Team.name, StaffMember.name)
    )]


# --------------------------------------------------------------------------------------------
# The re-bill form of one dispute


@dataclass(frozen=True)
class DraftLine:
    """One line of a corrected invoice as its form fields show it."""

    description: str
    quantity: str
    unit_price: str


@dataclass(frozen=True)
class DraftInvoice:
    """One covered invoice and the corrected invoice the form proposes for it."""

    public_id: str
    number: str  # the invoice being replaced
    disputed: Money
    open_amount: Money  # what re-billing it credits: the open balance less what is being paid
    replace: bool
    new_number: str
    due_date: str  # ISO, as the date field takes it
    lines: tuple[DraftLine, ...]


@dataclass(frozen=True)
class RebillDraft:
    dispute: Dispute
    customer_name: str
    status_label: str
    invoices: tuple[DraftInvoice, ...]

    @property
    def may_rebill(self) -> bool:
        return DISPUTE_TRANSITIONS.can_move(self.dispute.status, DisputeStatus.REBILLED)


def rebill_draft(db: Session, public_id: str, today: date) -> RebillDraft:
    """The re-bill form of a dispute, prefilled: each covered invoice to be replaced, by an
    invoice numbered `<number>-R1` (the first such number still free), due after the original's
    terms counted from today, with the original's lines (four statements)."""
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 22:
        raise NotFound("Dispute not found")
    row = db.execute(
        select(Dispute, Customer.name).join(Customer, Customer.id == Dispute.customer_id)
        .where(Dispute.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound("Dispute not found")
    dispute, customer_name = row
    currency = dispute.currency
    covered = db.execute(
        select(DisputeInvoice.disputed_minor, Invoice.id, Invoice.public_id, Invoice.number, Invoice.issue_date,
               Invoice.due_date, Invoice.balance_minor, Invoice.in_flight_minor)
        .join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
        .where(DisputeInvoice.dispute_id == dispute.id).order_by(Invoice.number)
    ).all()
    lines: dict[int, list[DraftLine]] = {}
    for line in db.execute(
        select(InvoiceLine.invoice_id, InvoiceLine.description, InvoiceLine.quantity, InvoiceLine.unit_price_minor)
        .where(InvoiceLine.invoice_id.in_([c.id for c in covered])).order_by(InvoiceLine.invoice_id, InvoiceLine.position)
    ):
        lines.setdefault(line.invoice_id, []).append(DraftLine(
            line.description, f"{Decimal(line.quantity).normalize():f}", Money(line.unit_price_minor, currency).plain()))
    candidates = {c.id: rebill_number_candidates(c.number, MAX_NUMBER_LENGTH) for c in covered}
    taken = set(db.scalars(select(Invoice.number).where(
        Invoice.number.in_(sorted({n for names in candidates.values() for n in names})))))
    last_due = today + timedelta(days=MAX_CORRECTED_DUE_DAYS)
    invoices = tuple(
        DraftInvoice(
            public_id=c.public_id, number=c.number, disputed=Money(c.disputed_minor, currency),
            open_amount=Money(max(c.balance_minor - c.in_flight_minor, 0), currency), replace=True,
            new_number=next((n for n in candidates[c.id] if n not in taken), ""),
            due_date=min(today + (c.due_date - c.issue_date), last_due).isoformat(),
            lines=tuple(lines.get(c.id, ())),
        )
        for c in covered
    )
    return RebillDraft(dispute=dispute, customer_name=customer_name,
                       status_label=STATUS_LABELS[DisputeStatus(dispute.status)], invoices=invoices)
