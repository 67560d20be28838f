"""Reading follow-ups: by public id within a scope, which invoices active ones cover, the
clerk's pages (the report forms, one follow-up's page), the staff queues and page, and the
supervisors' report.

Customer reads are scoped by the session's `Access` (`visible_followups`): a forwarded invoice
link's holder sees only follow-ups all of whose invoices the link names; another company's id
reads as not found. Staff reads are bounded (a page of a queue, the latest rows of each kind of
context), and the report is a fixed number of statements whatever the data size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, select, true
from sqlalchemy.orm import Session

from portal.domain.access.policy import Access
from portal.domain.attachments.models import StoredFile
from portal.domain.core.errors import NotFound
from portal.domain.core.locales import N_, Text
from portal.domain.core.money import Money, exponent
from portal.domain.customers.models import Contact, Customer
from portal.domain.disputes.models import Dispute
from portal.domain.disputes.policy import percentile
from portal.domain.disputes.queries import AttachedFile
from portal.domain.followups.models import Followup, FollowupFile, FollowupInvoice
from portal.domain.followups.states import (
    ACTIVE, CUSTOMER_STATUS_LABELS, KIND_LABELS, OFFLINE_METHOD_LABELS, QUEUE_LABELS, STAFF_KIND_LABELS,
    STATUS_BADGES, STATUS_LABELS, FollowupKind, FollowupQueue, FollowupStatus, OfflineMethod,
)
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.queries import Standing, named_invoice_figures, standings_for
from portal.domain.payments.models import Payment
from portal.domain.plans.models import Plan
from portal.domain.promises.models import Promise
from portal.domain.staff.models import StaffMember, Team
from portal.domain.staff.states import StaffStatus

ACTIVE_VALUES = tuple(status.value for status in ACTIVE)


def followup_by_public_id(db: Session, public_id: str, *, customer_id: int | None = None) -> Followup | None:
    """The follow-up, or None; with `customer_id`, only that customer's (anything else reads as
    not found, so another company's id reveals nothing)."""
    query = select(Followup).where(Followup.public_id == public_id)
    if customer_id is not None:
        query = query.where(Followup.customer_id == customer_id)
    return db.scalar(query)


def invoices_with_active_followups(db: Session, invoice_ids: Iterable[int],
                                   kinds: Iterable[FollowupKind] | None = None) -> set[int]:
    """Of `invoice_ids`, those an active follow-up (of one of `kinds`, or any) covers."""
    ids = list(invoice_ids)
    if not ids:
        return set()
    query = (select(FollowupInvoice.invoice_id).join(Followup, Followup.id == FollowupInvoice.followup_id)
             .where(FollowupInvoice.invoice_id.in_(ids), Followup.status.in_(ACTIVE)))
    if kinds is not None:
        query = query.where(Followup.kind.in_([FollowupKind(kind).value for kind in kinds]))
    return set(db.scalars(query))


def reported_paid_invoice_ids(db: Session, customer_id: int) -> set[int]:
    """The customer's invoices under an active "we already paid it" report: reminders leave
    them out until staff match the payment or answer "not found" and the report is closed."""
    return set(db.scalars(
        select(FollowupInvoice.invoice_id).join(Followup, Followup.id == FollowupInvoice.followup_id)
        .where(Followup.customer_id == customer_id, Followup.kind == FollowupKind.ALREADY_PAID.value,
               Followup.status.in_(ACTIVE_VALUES))
    ))


def payment_reported(db: Session, customer_id: int, invoice_ids: Iterable[int]) -> set[int]:
    """Of these invoices of the customer, those showing "payment reported, being matched".
    One statement even for no invoices, so a page's statement count never depends on its rows."""
    ids = list(invoice_ids)
    return set(db.scalars(
        select(FollowupInvoice.invoice_id).join(Followup, Followup.id == FollowupInvoice.followup_id)
        .where(Followup.customer_id == customer_id, FollowupInvoice.invoice_id.in_(ids),
               Followup.kind == FollowupKind.ALREADY_PAID.value, Followup.status.in_(ACTIVE_VALUES))
    ))


def visible_followups(access: Access) -> ColumnElement[bool]:
    """A WHERE clause on `Followup`: the follow-ups this access may see (the whole account's,
    or those about invoices of the link only)."""
    same_company = Followup.customer_id == access.customer_id
    if access.whole_account:
        return and_(same_company, true())
    ids = sorted(access.invoice_ids)
    inside = select(FollowupInvoice.id).where(FollowupInvoice.followup_id == Followup.id,
                                              FollowupInvoice.invoice_id.in_(ids))
    outside = select(FollowupInvoice.id).where(FollowupInvoice.followup_id == Followup.id,
                                               FollowupInvoice.invoice_id.not_in(ids))
    return and_(same_company, exists(inside), not_(exists(outside)))


def _valid_public_id(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 22


def visible_followup(db: Session, access: Access, public_id: str) -> Followup:
    if not _valid_public_id(public_id):
        raise NotFound("Report not found")
    followup = db.scalar(select(Followup).where(Followup.public_id == public_id, visible_followups(access)))
    if followup is None:
        raise NotFound("Report not found")
    return followup


# --------------------------------------------------------------------------------------------
# The clerk's pages


@dataclass(frozen=True)
class ReportInvoice:
    public_id: str
    number: str
    currency: str
    balance: Money
    reported: bool  # a payment of it is already reported and being matched


@dataclass(frozen=True)
class ReportForm:
    """The invoices a report form is about, as the access may see them."""

    invoices: tuple[ReportInvoice, ...]

    @property
    def currency(self) -> str | None:
        currencies = {invoice.currency for invoice in self.invoices}
        return currencies.pop() if len(currencies) == 1 else None

    @property
    def exponent(self) -> int | None:
        return exponent(self.currency) if self.currency else None

    @property
    def balance(self) -> Money | None:
        if self.currency is None:
            return None
        return Money(sum(invoice.balance.minor for invoice in self.invoices), self.currency)

    @property
    def public_ids(self) -> list[str]:
        return [invoice.public_id for invoice in self.invoices]


def report_form(db: Session, access: Access, public_ids: list[str]) -> ReportForm:
    """The named invoices (`NotFound` for any the access may not see), in the order named."""
    rows = named_invoice_figures(db, access, public_ids) if public_ids else []
    reported = payment_reported(db, access.customer_id, [row.id for row in rows])
    return ReportForm(tuple(
        ReportInvoice(row.public_id, row.number, row.currency, Money(row.balance_minor, row.currency),
                      row.id in reported)
        for row in rows
    ))


@dataclass(frozen=True)
class ThreadEvent:
    at: datetime
    action: str
    text: str
    by_us: bool  # written by staff (or the system), not the customer
    files: tuple[AttachedFile, ...]


@dataclass(frozen=True)
class CustomerFollowupPage:
    followup: Followup
    label: str
    status_label: str
    badge: str
    invoices: tuple[tuple[str, str], ...]  # (public id, number)
    details: tuple[tuple[str, str], ...]  # what the clerk said, as label/value pairs
    thread: tuple[ThreadEvent, ...]
    files: tuple[AttachedFile, ...]  # sent with the report

    @property
    def awaits_customer(self) -> bool:
        return self.followup.status == FollowupStatus.WAITING

    @property
    def is_active(self) -> bool:
        return self.followup.status in ACTIVE


def _files_by_event(db: Session, followup_id: int) -> dict[int | None, tuple[AttachedFile, ...]]:
    found: dict[int | None, list[AttachedFile]] = {}
    for event_id, public_id, name, size, status in db.execute(
        select(FollowupFile.event_id, StoredFile.public_id, StoredFile.display_name, StoredFile.size_bytes,
               StoredFile.scan_status)
        .join(StoredFile, StoredFile.id == FollowupFile.file_id)
        .where(FollowupFile.followup_id == followup_id).order_by(FollowupFile.id)
    ):
        found.setdefault(event_id, []).append(AttachedFile(public_id, name, size, status))
    return {key: tuple(value) for key, value in found.items()}


def details_lines(followup: Followup) -> tuple[tuple[str, object], ...]:
    """What the clerk said, readable (the kinds this area knows; others show nothing here): labels
    marked for the catalogue, dates and money as values the page writes its reader's way."""
    d = followup.details or {}
    if followup.kind == FollowupKind.ALREADY_PAID:
        amount = Money(int(d["amount_minor"]), str(d["currency"]))
        return ((N_("Paid on"), date.fromisoformat(d["paid_on"])), (N_("Amount"), amount),
                (N_("Method"), Text(OFFLINE_METHOD_LABELS[OfflineMethod(d["method"])])), (N_("Reference"), str(d["reference"])))
    if followup.kind == FollowupKind.AWAITING_APPROVAL:
        return ((N_("Expected payment date"), date.fromisoformat(d["expected_date"])),)
    return tuple((str(key).replace("_", " ").capitalize(), str(value)) for key, value in sorted(d.items()))


def _invoice_pairs(db: Session, followup_id: int) -> tuple[tuple[str, str], ...]:
    return tuple(db.execute(
        select(Invoice.public_id, Invoice.number).join(FollowupInvoice, FollowupInvoice.invoice_id == Invoice.id)
        .where(FollowupInvoice.followup_id == followup_id).order_by(Invoice.number)
    ).all())


def customer_followup_page(db: Session, access: Access, public_id: str) -> CustomerFollowupPage:
    """One follow-up as the clerk sees it: what they reported, our answers and theirs (never
    staff's internal notes), the files sent."""
    followup = visible_followup(db, access, public_id)
    files = _files_by_event(db, followup.id)
    thread = tuple(
        ThreadEvent(e.created_at, e.action, e.text, e.contact_id is None, files.get(e.id, ()))
        for e in followup.events
        if e.for_customer or (e.contact_id is not None and e.action == "answered")
    )
    return CustomerFollowupPage(
        followup=followup, label=KIND_LABELS[FollowupKind(followup.kind)],
        status_label=CUSTOMER_STATUS_LABELS[FollowupStatus(followup.status)],
        badge=STATUS_BADGES[FollowupStatus(followup.status)], invoices=_invoice_pairs(db, followup.id),
        details=details_lines(followup), thread=thread, files=files.get(None, ()),
    )


def followup_file(db: Session, access: Access, public_id: str, file_public_id: str) -> StoredFile:
    """A file of a follow-up this access may see; `NotFound` otherwise (another company's, a
    file of another follow-up)."""
    if not (_valid_public_id(public_id) and _valid_public_id(file_public_id)):
        raise NotFound("File not found")
    found = db.scalar(
        select(StoredFile).join(FollowupFile, FollowupFile.file_id == StoredFile.id)
        .join(Followup, Followup.id == FollowupFile.followup_id)
        .where(Followup.public_id == public_id, StoredFile.public_id == file_public_id, visible_followups(access))
    )
    if found is None:
        raise NotFound("File not found")
    return found


def staff_followup_file(db: Session, public_id: str, file_public_id: str) -> StoredFile:
    if not (_valid_public_id(public_id) and _valid_public_id(file_public_id)):
        raise NotFound("File not found")
    found = db.scalar(
        select(StoredFile).join(FollowupFile, FollowupFile.file_id == StoredFile.id)
        .join(Followup, Followup.id == FollowupFile.followup_id)
        .where(Followup.public_id == public_id, StoredFile.public_id == file_public_id)
    )
    if found is None:
        raise NotFound("File not found")
    return found


# --------------------------------------------------------------------------------------------
# The staff queues

QUEUE_PAGE_SIZE = 50
STATUS_FILTERS = ("active", "open", "waiting", "resolved", "dismissed")


@dataclass(frozen=True)
class QueueQuery:
    """Which follow-ups a queue page lists: `scope` is "mine", "team:<public id>" or
    "queue:<name>" ("all" for every one), `status` one of `STATUS_FILTERS`."""

    scope: str = "mine"
    status: str = "active"
    page: int = 1


@dataclass(frozen=True)
class QueueRow:
    public_id: str
    kind_label: str
    queue_label: str
    status: str
    status_label: str
    customer_name: str
    team: str
    assignee: str
    due_at: datetime | None
    created_at: datetime
    overdue: bool
    invoice_count: int


@dataclass(frozen=True)
class QueuePage:
    query: QueueQuery
    rows: tuple[QueueRow, ...]
    has_next: bool
    teams: tuple[tuple[str, str], ...]  # (public id, name) for the scope choices


def staff_queue(db: Session, staff_id: int, query: QueueQuery, now: datetime) -> QueuePage:
    """A page of follow-ups by due time (the earliest first; none due last), overdue flagged."""
    where: list[ColumnElement[bool]] = []
    if query.scope == "mine":
        where.append(Followup.assignee_id == staff_id)
    elif query.scope.startswith("team:"):
        where.append(Followup.team_id == select(Team.id).where(Team.public_id == query.scope[5:]).scalar_subquery())
    elif query.scope.startswith("queue:"):
        where.append(Followup.queue == query.scope[6:])
    if query.status == "active":
        where.append(Followup.status.in_(ACTIVE_VALUES))
    else:
        where.append(Followup.status == query.status)
    invoice_count = (select(func.count()).where(FollowupInvoice.followup_id == Followup.id)
                     .correlate(Followup).scalar_subquery())
    rows = db.execute(
        select(Followup, Customer.name, Team.name, StaffMember.name, invoice_count)
        .join(Customer, Customer.id == Followup.customer_id)
        .outerjoin(Team, Team.id == Followup.team_id).outerjoin(StaffMember, StaffMember.id == Followup.assignee_id)
        .where(*where)
        .order_by(case((Followup.due_at.is_(None), 1), else_=0), Followup.due_at, Followup.id)
        .offset((query.page - 1) * QUEUE_PAGE_SIZE).limit(QUEUE_PAGE_SIZE + 1)
    ).all()
    teams = tuple(db.execute(select(Team.public_id, Team.name).order_by(Team.name)).all())
    return QueuePage(query=query, has_next=len(rows) > QUEUE_PAGE_SIZE, teams=teams, rows=tuple(
        QueueRow(
            public_id=f.public_id, kind_label=STAFF_KIND_LABELS[FollowupKind(f.kind)],
            queue_label=QUEUE_LABELS[FollowupQueue(f.queue)], status=f.status,
            status_label=STATUS_LABELS[FollowupStatus(f.status)], customer_name=customer, team=team or "—",
            assignee=assignee or "Unassigned", due_at=f.due_at, created_at=f.created_at,
            overdue=f.status in ACTIVE_VALUES and f.due_at is not None and f.due_at < now, invoice_count=count,
        )
        for f, customer, team, assignee, count in rows[:QUEUE_PAGE_SIZE]
    ))


# --------------------------------------------------------------------------------------------
# One follow-up as staff see it, with the customer's whole context

CONTEXT_ROWS = 10


@dataclass(frozen=True)
class StaffEvent:
    at: datetime
    action: str
    text: str
    by: str
    for_customer: bool
    files: tuple[AttachedFile, ...]


@dataclass(frozen=True)
class ContextRow:
    """One line of the customer's context (a payment, dispute, promise or plan)."""

    public_id: str
    label: str
    amount: Money | None
    status: str
    at: datetime | date


@dataclass(frozen=True)
class StaffFollowupPage:
    followup: Followup
    kind_label: str
    status_label: str
    queue_label: str
    customer_name: str
    account_number: str
    team: str
    assignee: str
    reporter: str
    details: tuple[tuple[str, str], ...]
    invoices: tuple[Standing, ...]
    events: tuple[StaffEvent, ...]
    files: tuple[AttachedFile, ...]
    open_invoices: tuple[Standing, ...]
    payments: tuple[ContextRow, ...]
    disputes: tuple[ContextRow, ...]
    promises: tuple[ContextRow, ...]
    plans: tuple[ContextRow, ...]
    matched_payment: tuple[str, str] | None  # (public id, reference) of the payment a match recorded
    overdue: bool

    @property
    def is_active(self) -> bool:
        return self.followup.status in ACTIVE_VALUES

    @property
    def reported_amount(self) -> Money | None:
        d = self.followup.details or {}
        if "amount_minor" in d and "currency" in d:
            return Money(int(d["amount_minor"]), str(d["currency"]))
        return None


def staff_followup_page(db: Session, public_id: str, now: datetime, today: date) -> StaffFollowupPage:
    """The follow-up, its thread with every internal note, its files, and the customer's
    context: open invoices, the latest payments, disputes, promises and plans (bounded)."""
    if not _valid_public_id(public_id):
        raise NotFound("Follow-up not found")
    row = db.execute(
        select(Followup, Customer.name, Customer.account_number, Team.name, StaffMember.name, Contact.name,
               Contact.email)
        .join(Customer, Customer.id == Followup.customer_id)
        .outerjoin(Team, Team.id == Followup.team_id).outerjoin(StaffMember, StaffMember.id == Followup.assignee_id)
        .outerjoin(Contact, Contact.id == Followup.reported_by_contact_id)
        .where(Followup.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound("Follow-up not found")
    followup, customer_name, account_number, team, assignee, contact_name, contact_email = row
    files = _files_by_event(db, followup.id)
    staff_names = dict(db.execute(select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(
        {e.staff_id for e in followup.events if e.staff_id is not None}))).all())
    events = tuple(
        StaffEvent(e.created_at, e.action, e.text,
                   staff_names.get(e.staff_id, "") if e.staff_id else (contact_name or "Customer") if e.contact_id
                   else "System", e.for_customer, files.get(e.id, ()))
        for e in followup.events
    )
    invoice_ids = [link.invoice_id for link in followup.invoices]
    covered = standings_for(db, invoice_ids, today)
    open_rows = db.execute(
        select(Invoice.id).where(Invoice.customer_id == followup.customer_id, Invoice.balance_minor > 0)
        .order_by(Invoice.due_date, Invoice.id).limit(CONTEXT_ROWS)
    ).scalars().all()
    open_standings = standings_for(db, list(open_rows), today)
    customer_id = followup.customer_id
    payments = tuple(
        ContextRow(p.public_id, f"{p.reference} · {p.method.replace('_', ' ')}", Money(p.amount_minor, p.currency),
                   p.status, p.created_at)
        for p in db.execute(select(Payment).where(Payment.customer_id == customer_id)
                            .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(CONTEXT_ROWS)).scalars()
    )
    disputes = tuple(
        ContextRow(d.public_id, "Dispute", None, d.status, d.created_at)
        for d in db.execute(select(Dispute).where(Dispute.customer_id == customer_id)
                            .order_by(Dispute.created_at.desc(), Dispute.id.desc()).limit(CONTEXT_ROWS)).scalars()
    )
    promises = tuple(
        ContextRow(p.public_id, f"Promised for {p.promised_date.strftime('%d %b %Y')}",
                   Money(p.total_minor, p.currency), p.status, p.created_at)
        for p in db.execute(select(Promise).where(Promise.customer_id == customer_id)
                            .order_by(Promise.created_at.desc(), Promise.id.desc()).limit(CONTEXT_ROWS)).scalars()
    )
    plans = tuple(
        ContextRow(p.public_id, f"{p.installment_count} × {p.cadence}", Money(p.total_minor, p.currency), p.status,
                   p.created_at)
        for p in db.execute(select(Plan).where(Plan.customer_id == customer_id)
                            .order_by(Plan.created_at.desc(), Plan.id.desc()).limit(CONTEXT_ROWS)).scalars()
    )
    matched = db.execute(select(Payment.public_id, Payment.reference).where(
        Payment.customer_id == customer_id, Payment.request_key == f"followup:{followup.public_id}")).first()
    reporter = f"{contact_name} <{contact_email}>" if contact_email else "The system"
    return StaffFollowupPage(
        followup=followup, kind_label=STAFF_KIND_LABELS[FollowupKind(followup.kind)],
        status_label=STATUS_LABELS[FollowupStatus(followup.status)],
        queue_label=QUEUE_LABELS[FollowupQueue(followup.queue)], customer_name=customer_name,
        account_number=account_number, team=team or "No team", assignee=assignee or "Unassigned", reporter=reporter,
        details=details_lines(followup), invoices=tuple(covered[i] for i in sorted(covered)), events=events,
        files=files.get(None, ()), open_invoices=tuple(open_standings[i] for i in open_rows),
        payments=payments, disputes=disputes, promises=promises, plans=plans,
        matched_payment=tuple(matched) if matched else None,
        overdue=followup.status in ACTIVE_VALUES and followup.due_at is not None and followup.due_at < now,
    )


def assignable_staff(db: Session) -> list[tuple[str, str, int]]:
    """(public id, name, id) of every active staff member, by name: the assign form's choices."""
    return [tuple(row) for row in db.execute(
        select(StaffMember.public_id, StaffMember.name, StaffMember.id)
        .where(StaffMember.status == StaffStatus.ACTIVE).order_by(StaffMember.name, StaffMember.id)
    )]


# --------------------------------------------------------------------------------------------
# The report: what costs the supplier days

REPORT_WINDOW = timedelta(days=90)
MAX_CLEAR_SAMPLE = 5_000
TOP_CUSTOMERS = 10
AGE_BUCKETS = ((0, "Under 2 days"), (2, "2–7 days"), (7, "7–30 days"), (30, "30 days or more"))


@dataclass(frozen=True)
class KindLine:
    kind: FollowupKind
    label: str
    active: int
    by_age: tuple[int, ...]
    cleared: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class FollowupReport:
    at: datetime
    window: timedelta
    kinds: tuple[KindLine, ...]
    customers: tuple[tuple[str, int], ...]  # the customers with the most active follow-ups
    age_labels: tuple[str, ...]
    sampled: bool


def followup_report(db: Session, now: datetime) -> FollowupReport:
    """Active follow-ups by kind and age, the customers with most of them, and for each kind
    the median and 90th percentile time from raised to cleared over the follow-ups cleared in
    the window: three statements whatever the data size (the percentiles from the latest
    `MAX_CLEAR_SAMPLE` cleared rows, computed in Python the same on both databases)."""
    active = Followup.status.in_(ACTIVE_VALUES)
    ages = []
    for n, (min_days, _) in enumerate(AGE_BUCKETS):
        conditions = []
        if n > 0:
            conditions.append(Followup.created_at <= now - timedelta(days=min_days))
        if n + 1 < len(AGE_BUCKETS):
            conditions.append(Followup.created_at > now - timedelta(days=AGE_BUCKETS[n + 1][0]))
        ages.append(func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0))
    counts = {kind: (int(total), tuple(int(a) for a in by_age)) for kind, total, *by_age in db.execute(
        select(Followup.kind, func.count(), *ages).where(active).group_by(Followup.kind))}
    customers = tuple(db.execute(
        select(Customer.name, func.count()).join(Followup, Followup.customer_id == Customer.id).where(active)
        .group_by(Customer.id, Customer.name).order_by(func.count().desc(), Customer.name).limit(TOP_CUSTOMERS)
    ).all())
    cleared = db.execute(
        select(Followup.kind, Followup.created_at, Followup.resolved_at)
        .where(Followup.status == FollowupStatus.RESOLVED.value, Followup.resolved_at >= now - REPORT_WINDOW)
        .order_by(Followup.resolved_at.desc(), Followup.id.desc()).limit(MAX_CLEAR_SAMPLE + 1)
    ).all()
    durations: dict[str, list[timedelta]] = {}
    for kind, raised, resolved in cleared[:MAX_CLEAR_SAMPLE]:
        durations.setdefault(kind, []).append(resolved - raised)
    lines = []
    for kind in FollowupKind:
        total, by_age = counts.get(kind.value, (0, tuple(0 for _ in AGE_BUCKETS)))
        spent = durations.get(kind.value, [])
        lines.append(KindLine(kind, STAFF_KIND_LABELS[kind], total, by_age, len(spent),
                              percentile(spent, 0.5), percentile(spent, 0.9)))
    return FollowupReport(at=now, window=REPORT_WINDOW, kinds=tuple(lines), customers=customers,
                          age_labels=tuple(label for _, label in AGE_BUCKETS),
                          sampled=len(cleared) > MAX_CLEAR_SAMPLE)
