"""What the customer sees of disputes: the company's list, one dispute's page, and the raise
form's invoices with their lines; and what staff see: the queues, one dispute's page, and the
supervisors' numbers.

Scoped by the session's `Access`: every contact of the company sees the company's disputes;
a forwarded invoice link's holder sees only the disputes whose invoices the link all names
(`policy.link_may_see`, written here as SQL). Internal staff notes, their files and staff-only
events are never loaded. Each read model costs a fixed number of statements whatever the data
size.

Attached files are shown from their links (`DisputeAttachment`): with the dispute (sent when it
was raised) or with a message. `dispute_file` and `staff_dispute_file` find the one file a
download asks for, only through a dispute the reader may see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select, true
from sqlalchemy.orm import Session, aliased

from portal.domain.account.queries import LineView
from portal.domain.access.policy import Access, named_invoices
from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.policy import describe_size, size_text
from portal.domain.attachments.states import ScanStatus
from portal.domain.core.errors import NotFound
from portal.domain.core.locales import N_, Text
from portal.domain.core.money import Money
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.models import (
    Dispute, DisputeAttachment, DisputeEvent, DisputeInvoice, DisputeLine, DisputeMessage, DisputeReason,
)
from portal.domain.disputes.policy import (
    AGE_BUCKETS, MAX_CORRECTED_DUE_DAYS, disputable, payable_now, percentile, rebill_number_candidates,
)
from portal.domain.disputes.states import (
    ACTIVE, CUSTOMER_HIDDEN, DECIDED, DISPUTE_TRANSITIONS, EVENT_LABELS, SLA_RUNNING, STAFF_STATUS_LABELS,
    STATUS_LABELS, DisputeStatus, EventKind,
)
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.invoicing.service import MAX_NUMBER_LENGTH
from portal.domain.ledger.queries import Standing, standings_query, to_standings
from portal.domain.payments.models import Payment
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


def _owner(team: str | None, person: str | None, dispute: Dispute) -> Text:
    """Who handles the dispute, shown in the reader's language: the person's and the team's
    names as staff wrote them (never looked up in the catalogue), or a label."""
    if dispute.team_id is None and dispute.assignee_id is None:
        return Text(N_("Not yet assigned"))
    if person and team:
        return Text("%(person)s (%(team)s)", person=person, team=team)
    if person or team:
        return Text("%(name)s", name=person or team)
    return Text(N_("Assigned to our team"))


# --------------------------------------------------------------------------------------------
# Attached files


@dataclass(frozen=True)
class AttachedFile:
    """A file as a dispute's pages list it: its name, size and whether it can be downloaded."""

    public_id: str
    name: str
    size_bytes: int
    scan_status: str

    @property
    def size(self) -> str:
        return describe_size(self.size_bytes)

    @property
    def size_text(self) -> Text:
        """The size in the reader's language ("10 MB", "10 Mo")."""
        return size_text(self.size_bytes)

    @property
    def pending(self) -> bool:
        """Waiting for the malware scanner: not served yet."""
        return self.scan_status == ScanStatus.PENDING

    @property
    def blocked(self) -> bool:
        """Found infected: never served."""
        return self.scan_status == ScanStatus.INFECTED


def _valid_public_id(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 22


def _attached_files(db: Session, dispute_id: int, *, with_internal: bool) -> dict[int | None, tuple[AttachedFile, ...]]:
    """The dispute's files by message id (None: sent when it was raised), in the order they
    were attached; an internal note's only `with_internal`. One statement."""
    statement = (
        select(DisputeAttachment.message_id, StoredFile.public_id, StoredFile.display_name, StoredFile.size_bytes,
               StoredFile.scan_status)
        .join(StoredFile, StoredFile.id == DisputeAttachment.file_id)
        .where(DisputeAttachment.dispute_id == dispute_id)
        .order_by(DisputeAttachment.id)
    )
    if not with_internal:
        statement = statement.outerjoin(DisputeMessage, DisputeMessage.id == DisputeAttachment.message_id).where(
            or_(DisputeAttachment.message_id.is_(None), DisputeMessage.internal.is_(False)))
    found: dict[int | None, list[AttachedFile]] = {}
    for message_id, public_id, name, size, status in db.execute(statement):
        found.setdefault(message_id, []).append(AttachedFile(public_id, name, size, status))
    return {message_id: tuple(rows) for message_id, rows in found.items()}


def _dispute_file(db: Session, public_id: str, file_public_id: str, *where: ColumnElement[bool],
                  with_internal: bool) -> StoredFile:
    if not (_valid_public_id(public_id) and _valid_public_id(file_public_id)):
        raise NotFound("File not found")
    statement = (
        select(StoredFile).join(DisputeAttachment, DisputeAttachment.file_id == StoredFile.id)
        .join(Dispute, Dispute.id == DisputeAttachment.dispute_id)
        .where(Dispute.public_id == public_id, StoredFile.public_id == file_public_id, *where)
    )
    if not with_internal:
        statement = statement.outerjoin(DisputeMessage, DisputeMessage.id == DisputeAttachment.message_id).where(
            or_(DisputeAttachment.message_id.is_(None), DisputeMessage.internal.is_(False)))
    found = db.scalar(statement)
    if found is None:
        raise NotFound("File not found")
    return found


def dispute_file(db: Session, access: Access, public_id: str, file_public_id: str) -> StoredFile:
    """The file a customer's download asks for: attached to this dispute, which the access may
    see (`visible_disputes`), and not to an internal note; `NotFound` otherwise, the same for
    another company's dispute, a file of another dispute and a staff-only file."""
    return _dispute_file(db, public_id, file_public_id, visible_disputes(access), with_internal=False)


def staff_dispute_file(db: Session, public_id: str, file_public_id: str) -> StoredFile:
    """The file a staff download asks for: attached to this dispute (internal notes' too)."""
    return _dispute_file(db, public_id, file_public_id, with_internal=True)


# --------------------------------------------------------------------------------------------
# The customer's list and page


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
    # What can be paid on the invoice now: its balance less what is being paid and what every
    # active dispute holds (this one's and any other's).
    payable: Money | None = None


@dataclass(frozen=True)
class ThreadMessage:
    from_customer: bool
    body: str
    at: datetime
    files: tuple[AttachedFile, ...] = ()


@dataclass(frozen=True)
class CoveredFigure:
    """One invoice of a dispute with what was disputed or credited on it, and the invoice that
    replaced it when it was re-billed: written in the reader's language by the page or email."""

    number: str
    amount: Money
    replaced_by: str | None = None


@dataclass(frozen=True)
class HistoryEvent:
    at: datetime
    label: str
    detail: str  # as recorded, in English: the staff page's (the customer's page: the figures below)
    by: str = ""  # who did it, on the staff page: a staff member's or the contact's name
    # The customer's page: on "Dispute raised" the reason (N_-marked) and what was disputed on
    # each invoice; on a credit or a re-bill what was credited.
    reason: str = ""
    disputed: tuple[CoveredFigure, ...] = ()
    credited: tuple[CoveredFigure, ...] = ()


# The events whose recorded detail names amounts: the customer reads them from the dispute's
# invoices instead, in their language (the recorded text is English, its money US-written).
_DISPUTED_FIGURES = frozenset({EventKind.RAISED})
_CREDITED_FIGURES = frozenset({EventKind.CREDITED, EventKind.REBILLED})
_DETAIL_STAFF_ONLY = frozenset({EventKind.APPROVAL_REQUESTED})  # a proposed credit: not yet the customer's to read


Figures = tuple[tuple[CoveredFigure, ...], tuple[CoveredFigure, ...]]


def _figures(rows, currency: str) -> Figures:
    """(what was disputed on each invoice, what was credited on each, with its replacement),
    from (number, disputed_minor, credited_minor, replaced_by) rows."""
    rows = list(rows)
    disputed = tuple(CoveredFigure(number, Money(disputed_minor, currency))
                     for number, disputed_minor, _credited, _replaced in rows)
    credited = tuple(CoveredFigure(number, Money(credited_minor, currency), replaced_by)
                     for number, _disputed, credited_minor, replaced_by in rows if credited_minor or replaced_by)
    return disputed, credited


def covered_figures(db: Session, dispute: Dispute) -> Figures:
    """What was disputed and credited on each invoice of `dispute` (for its emails): one statement."""
    replacement = aliased(Invoice)
    return _figures(db.execute(
        select(Invoice.number, DisputeInvoice.disputed_minor, DisputeInvoice.credited_minor, replacement.number)
        .join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
        .outerjoin(replacement, replacement.id == DisputeInvoice.rebilled_invoice_id)
        .where(DisputeInvoice.dispute_id == dispute.id).order_by(Invoice.number)
    ), dispute.currency)


@dataclass(frozen=True)
class DisputePage:
    dispute: Dispute
    reason: str
    owner: Text  # who handles it, in the reader's language (`translated`)
    invoices: tuple[CoveredInvoice, ...]
    messages: tuple[ThreadMessage, ...]
    history: tuple[HistoryEvent, ...]
    files: tuple[AttachedFile, ...] = ()  # sent when the dispute was raised

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

    @property
    def payable_invoices(self) -> tuple[CoveredInvoice, ...]:
        """The covered invoices with something left to pay (the undisputed part, or what the
        resolution left)."""
        return tuple(i for i in self.invoices if i.payable is not None and i.payable.minor > 0)

    @property
    def payable(self) -> Money:
        return Money(sum(i.payable.minor for i in self.payable_invoices), self.dispute.currency)


def dispute_page(db: Session, access: Access, public_id: str, owner_names: OwnerNames = no_owner_names) -> DisputePage:
    """One dispute as the customer sees it, with its files and its messages' (internal notes'
    never): six statements, plus what `owner_names` reads."""
    if not _valid_public_id(public_id):
        raise NotFound("Dispute not found")
    row = db.execute(
        select(Dispute, DisputeReason.label).join(DisputeReason, DisputeReason.id == Dispute.reason_id)
        .where(Dispute.public_id == public_id, visible_disputes(access))
    ).first()
    if row is None:
        raise NotFound("Dispute not found")
    dispute, reason = row
    currency = dispute.currency
    replacement = aliased(Invoice)
    covered = db.execute(
        select(DisputeInvoice, Invoice.public_id, Invoice.number, Invoice.balance_minor, Invoice.in_flight_minor,
               Invoice.held_minor.label("invoice_held_minor"), replacement.number.label("replaced_by"))
        .join(Invoice, Invoice.id == DisputeInvoice.invoice_id)
        .outerjoin(replacement, replacement.id == DisputeInvoice.rebilled_invoice_id)
        .where(DisputeInvoice.dispute_id == dispute.id).order_by(Invoice.number)
    ).all()
    lines: dict[int, list[CoveredLine]] = {}
    for line, invoice_line in db.execute(
        select(DisputeLine, InvoiceLine).join(InvoiceLine, InvoiceLine.id == DisputeLine.invoice_line_id)
        .where(DisputeLine.dispute_invoice_id.in_([row.DisputeInvoice.id for row in covered]))
        .order_by(InvoiceLine.position)
    ):
        lines.setdefault(line.dispute_invoice_id, []).append(CoveredLine(
            position=invoice_line.position, description=invoice_line.description, quantity=line.quantity,
            amount=Money(line.amount_minor, currency),
        ))
    files = _attached_files(db, dispute.id, with_internal=False)
    messages = tuple(
        ThreadMessage(from_customer=m.author_kind == "customer", body=m.body, at=m.created_at,
                      files=files.get(m.id, ()))
        for m in db.scalars(
            select(DisputeMessage).where(DisputeMessage.dispute_id == dispute.id, DisputeMessage.internal.is_(False))
            .order_by(DisputeMessage.created_at, DisputeMessage.id)
        )
    )
    disputed_figures, credited_figures = _figures(
        ((row.number, row.DisputeInvoice.disputed_minor, row.DisputeInvoice.credited_minor, row.replaced_by)
         for row in covered), currency)

    def customer_event(e: DisputeEvent) -> HistoryEvent:
        kind = EventKind(e.kind)
        label = EVENT_LABELS.get(kind, e.kind)
        if kind in _DISPUTED_FIGURES:
            return HistoryEvent(at=e.at, label=label, detail="", reason=reason, disputed=disputed_figures)
        if kind in _CREDITED_FIGURES:
            return HistoryEvent(at=e.at, label=label, detail="", credited=credited_figures)
        return HistoryEvent(at=e.at, label=label, detail="" if kind in _DETAIL_STAFF_ONLY else e.detail)

    history = tuple(
        customer_event(e)
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
            CoveredInvoice(public_id=row.public_id, number=row.number,
                           disputed=Money(row.DisputeInvoice.disputed_minor, currency),
                           held=Money(row.DisputeInvoice.held_minor, currency),
                           credited=Money(row.DisputeInvoice.credited_minor, currency),
                           lines=tuple(lines.get(row.DisputeInvoice.id, [])),
                           payable=payable_now(Money(row.balance_minor, currency), Money(row.in_flight_minor, currency),
                                               Money(row.invoice_held_minor, currency)))
            for row in covered
        ),
        messages=messages, history=history, files=files.get(None, ()),
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
        return RaiseForm((), reasons, N_("Choose the invoices to dispute from the invoice list."))
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
        problem = N_("Invoices in different currencies need separate disputes: choose invoices in one currency.")
    elif all(i.available.is_zero for i in invoices):
        problem = N_("Nothing on these invoices can be disputed now: they are paid, being paid or already disputed.")
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
# An active dispute is at risk when a due date it has not met falls within the window (or is
# past): the same `SLA_WARNING_HOURS` that `jobs.warn_sla_at_risk` emails supervisors by, so the
# "SLA at risk" tab lists exactly what they were warned about.
DEFAULT_AT_RISK_WINDOW = timedelta(hours=4)


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


def _at_risk(now: datetime, window: timedelta) -> ColumnElement[bool]:
    horizon = now + window
    return and_(
        Dispute.status.in_([str(s) for s in ACTIVE]),
        or_(Dispute.resolution_due_at <= horizon,
            and_(Dispute.first_responded_at.is_(None), Dispute.first_response_due_at <= horizon)),
    )


def staff_queue(db: Session, staff_id: int, query: QueueQuery, now: datetime,
                at_risk_window: timedelta = DEFAULT_AT_RISK_WINDOW) -> Queue:
    """One tab of the staff queues, filtered, searched (customer name or account number, or an
    invoice number) and sorted by resolution due date (the soonest first, disputes without one
    last; routing sets it with the first-response date, and the "SLA at risk" tab catches a
    first response about to be late), then age, a page at a time. Four statements whatever the data size. Whether the member may see the
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
        where.append(_at_risk(now, at_risk_window))
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
    # The count joins only what a filter reads: the tab alone counts index entries.
    counted = select(func.count(Dispute.id))
    if query.reason:
        counted = counted.join(DisputeReason, DisputeReason.id == Dispute.reason_id)
    if query.q:
        counted = counted.join(Customer, Customer.id == Dispute.customer_id)
    total = db.scalar(counted.where(*where)) or 0
    pages = max(1, -(-total // QUEUE_PER_PAGE))
    page = min(max(query.page, 1), pages)
    found = db.execute(
        select(Dispute, DisputeReason.label, Customer.name, Customer.account_number, Team.name, StaffMember.name,
               _at_risk(now, at_risk_window))
        .join(DisputeReason, DisputeReason.id == Dispute.reason_id)
        .join(Customer, Customer.id == Dispute.customer_id)
        .outerjoin(Team, Team.id == Dispute.team_id)
        .outerjoin(StaffMember, StaffMember.id == Dispute.assignee_id)
        .where(*where)
        # The order of the partial queue indexes (ix_disputes_active_*_due): no sort of the tab.
        .order_by(Dispute.resolution_due_at.asc().nulls_last(), Dispute.created_at, Dispute.id)
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
            public_id=d.public_id, status=d.status, status_label=STAFF_STATUS_LABELS[DisputeStatus(d.status)],
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
RECENT_PAYMENTS_SHOWN = 10
OPEN_INVOICES_SHOWN = 50


@dataclass(frozen=True)
class StaffMessage:
    author: str  # "customer", "staff" or "system"
    internal: bool
    body: str
    at: datetime
    files: tuple[AttachedFile, ...] = ()
    author_name: str = ""  # the contact or staff member who wrote it


@dataclass(frozen=True)
class RecentPayment:
    public_id: str
    reference: str
    amount: Money
    status: str
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
    files: tuple[AttachedFile, ...] = ()  # sent when the dispute was raised
    payments: tuple[RecentPayment, ...] = ()  # the customer's latest, newest first

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
    context (open invoices, latest payments, earlier disputes and how they ended), every
    attached file, and who wrote each message and did each step. Eight statements."""
    if not _valid_public_id(public_id):
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
    files = _attached_files(db, dispute.id, with_internal=True)
    messages = tuple(
        StaffMessage(author=m.author_kind, internal=m.internal, body=m.body, at=m.created_at,
                     files=files.get(m.id, ()), author_name=staff_name or contact_name or "")
        for m, staff_name, contact_name in db.execute(
            select(DisputeMessage, StaffMember.name, Contact.name)
            .outerjoin(StaffMember, StaffMember.id == DisputeMessage.staff_id)
            .outerjoin(Contact, Contact.id == DisputeMessage.contact_id)
            .where(DisputeMessage.dispute_id == dispute.id)
            .order_by(DisputeMessage.created_at, DisputeMessage.id))
    )
    # Events name their actor as the audit log does: ("staff" | "contact", public id).
    history = tuple(
        HistoryEvent(at=e.at, label=EVENT_LABELS.get(EventKind(e.kind), e.kind), detail=e.detail,
                     by=staff_name or contact_name or "")
        for e, staff_name, contact_name in db.execute(
            select(DisputeEvent, StaffMember.name, Contact.name)
            .outerjoin(StaffMember, and_(DisputeEvent.actor_type == "staff",
                                         StaffMember.public_id == DisputeEvent.actor_id))
            .outerjoin(Contact, and_(DisputeEvent.actor_type == "contact", Contact.public_id == DisputeEvent.actor_id))
            .where(DisputeEvent.dispute_id == dispute.id)
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
                       status_label=STAFF_STATUS_LABELS[DisputeStatus(d.status)], resolved_at=d.resolved_at)
        for d, label in db.execute(
            select(Dispute, DisputeReason.label).join(DisputeReason, DisputeReason.id == Dispute.reason_id)
            .where(Dispute.customer_id == dispute.customer_id, Dispute.id != dispute.id)
            .order_by(Dispute.created_at.desc(), Dispute.id.desc()).limit(EARLIER_DISPUTES_SHOWN)
        )
    )
    payments = tuple(
        RecentPayment(public_id=p.public_id, reference=p.reference, amount=Money(p.amount_minor, p.currency),
                      status=p.status, at=p.created_at)
        for p in db.execute(
            select(Payment.public_id, Payment.reference, Payment.amount_minor, Payment.currency, Payment.status,
                   Payment.created_at)
            .where(Payment.customer_id == dispute.customer_id)
            .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(RECENT_PAYMENTS_SHOWN)
        )
    )
    return StaffDisputePage(
        dispute=dispute, reason=reason, customer_name=customer_name, account_number=account_number,
        status_label=STAFF_STATUS_LABELS[DisputeStatus(dispute.status)], team=team, assignee=assignee,
        invoices=invoices, messages=messages, history=history, open_invoices=open_invoices, earlier=earlier,
        files=files.get(None, ()), payments=payments,
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
# Reports: the supervisors' numbers (VIEW_REPORTS)

# Cycle times, breaches and credits are read over the disputes decided this long ago at most.
REPORT_WINDOW = timedelta(days=90)
# The percentiles are computed from at most this many of the latest decided disputes.
MAX_CYCLE_SAMPLE = 5_000
UNASSIGNED = "Unassigned"


@dataclass(frozen=True)
class Tally:
    label: str
    count: int


@dataclass(frozen=True)
class CycleTime:
    """Median and 90th percentile of one duration over `count` decided disputes."""

    count: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class DisputeNumbers:
    """What supervisors watch. Open: every active dispute now. Decided: the disputes accepted
    (in full or part), rejected or re-billed within `window` (withdrawn ones are no decision)."""

    at: datetime
    window: timedelta
    open_total: int
    open_by_age: tuple[Tally, ...]
    open_by_reason: tuple[Tally, ...]
    open_by_team: tuple[Tally, ...]
    open_first_response_overdue: int  # while the clock runs (not waiting for the customer)
    open_resolution_overdue: int
    held: tuple[Money, ...]  # held in active disputes, one amount per currency
    decided: int
    first_response_late: int
    resolution_late: int
    credited: int  # decided disputes that ended with a credit note
    first_response: CycleTime
    resolution: CycleTime

    @property
    def credited_share(self) -> float | None:
        return self.credited / self.decided if self.decided else None

    @property
    def sampled(self) -> bool:
        """The percentiles read only the latest `MAX_CYCLE_SAMPLE` of the decided disputes."""
        return self.decided > MAX_CYCLE_SAMPLE


def _count_where(condition: ColumnElement[bool]):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _age_counts(now: datetime) -> list:
    """One count per `policy.AGE_BUCKETS` entry: disputes at least its `min_days` whole days old
    (raised at or before `now` less that many days) and younger than the next bucket's. The
    first bucket also takes a dispute stamped a moment after `now`, as `policy.age_in_days` does."""
    counts = []
    for n, bucket in enumerate(AGE_BUCKETS):
        conditions = []
        if n > 0:
            conditions.append(Dispute.created_at <= now - timedelta(days=bucket.min_days))
        if n + 1 < len(AGE_BUCKETS):
            conditions.append(Dispute.created_at > now - timedelta(days=AGE_BUCKETS[n + 1].min_days))
        counts.append(_count_where(and_(*conditions)))
    return counts


def dispute_numbers(db: Session, now: datetime) -> DisputeNumbers:
    """The supervisors' numbers as of `now`, in six statements whatever the data size.

    Counts and sums are aggregated in SQL. The percentiles are not: PostgreSQL has
    `percentile_cont` and SQLite nothing like it, and the two subtract timestamps differently,
    so the latest decided disputes' timestamps are read (at most `MAX_CYCLE_SAMPLE` rows) and
    `policy.percentile` works out the durations in Python, the same on both databases.
    """
    active = Dispute.status.in_([str(s) for s in ACTIVE])
    running = Dispute.status.in_([str(s) for s in SLA_RUNNING])
    open_row = db.execute(select(
        func.count(), *_age_counts(now),
        _count_where(and_(running, Dispute.first_responded_at.is_(None), Dispute.first_response_due_at < now)),
        _count_where(and_(running, Dispute.resolution_due_at < now)),
    ).where(active)).one()
    open_total, *by_age, first_overdue, resolution_overdue = (int(value) for value in open_row)

    by_reason = tuple(Tally(label, count) for label, count in db.execute(
        select(DisputeReason.label, func.count()).join(Dispute, Dispute.reason_id == DisputeReason.id)
        .where(active).group_by(DisputeReason.id, DisputeReason.label, DisputeReason.position)
        .order_by(DisputeReason.position, DisputeReason.label)
    ))
    teams = db.execute(
        select(Team.name, func.count()).select_from(Dispute).outerjoin(Team, Team.id == Dispute.team_id)
        .where(active).group_by(Dispute.team_id, Team.name)
    ).all()
    by_team = tuple(sorted((Tally(name or UNASSIGNED, count) for name, count in teams),
                           key=lambda tally: (tally.label == UNASSIGNED, tally.label)))
    held = tuple(Money(int(total), currency) for currency, total in db.execute(
        select(Dispute.currency, func.sum(DisputeInvoice.held_minor))
        .join(DisputeInvoice, DisputeInvoice.dispute_id == Dispute.id)
        .where(active).group_by(Dispute.currency).order_by(Dispute.currency)
    ) if total)

    decided_in_window = and_(Dispute.status.in_([str(s) for s in DECIDED]), Dispute.resolved_at >= now - REPORT_WINDOW)
    credit = exists(select(DisputeInvoice.id).where(DisputeInvoice.dispute_id == Dispute.id,
                                                    DisputeInvoice.credited_minor > 0))
    decided, first_late, resolution_late, credited = (int(value) for value in db.execute(select(
        func.count(),
        _count_where(Dispute.first_responded_at > Dispute.first_response_due_at),
        _count_where(Dispute.resolved_at > Dispute.resolution_due_at),
        _count_where(credit),
    ).where(decided_in_window)).one())
    sample = db.execute(
        select(Dispute.created_at, Dispute.first_responded_at, Dispute.resolved_at).where(decided_in_window)
        .order_by(Dispute.resolved_at.desc(), Dispute.id.desc()).limit(MAX_CYCLE_SAMPLE)
    ).all()
    to_first = [responded - raised for raised, responded, _ in sample if responded is not None]
    to_resolution = [resolved - raised for raised, _, resolved in sample]
    return DisputeNumbers(
        at=now, window=REPORT_WINDOW, open_total=open_total,
        open_by_age=tuple(Tally(bucket.label, count) for bucket, count in zip(AGE_BUCKETS, by_age, strict=True)),
        open_by_reason=by_reason, open_by_team=by_team,
        open_first_response_overdue=first_overdue, open_resolution_overdue=resolution_overdue, held=held,
        decided=decided, first_response_late=first_late, resolution_late=resolution_late, credited=credited,
        first_response=CycleTime(len(to_first), percentile(to_first, 0.5), percentile(to_first, 0.9)),
        resolution=CycleTime(len(to_resolution), percentile(to_resolution, 0.5), percentile(to_resolution, 0.9)),
    )


def open_dispute_count(db: Session) -> int:
    """For the staff dashboard (one statement)."""
    return db.scalar(select(func.count()).select_from(Dispute).where(Dispute.status.in_([str(s) for s in ACTIVE])))


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
                       status_label=STAFF_STATUS_LABELS[DisputeStatus(dispute.status)], invoices=invoices)
