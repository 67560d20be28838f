"""Writing follow-ups: raising one (routed, idempotent), its thread, and moving its status;
the clerk's reports this area resolves itself, and the staff steps every kind shares.

- `raise_followup`, `add_event`, `attach_file`, `move_followup`, `assign_followup`: the core,
  called by every kind's flow (the system-raised ones from their own areas: a bank debit in
  `payments.notifications`, a broken promise in `promises.jobs`, a defaulted plan in
  `plans.jobs`); each step is audited.
- "We already paid it": `report_already_paid` (the clerk), `match_reported_payment` (staff found
  it: recorded through `payments.service.record_offline_payment`), `payment_not_found`
  (the clerk is asked), `answer_followup` (the clerk answers, which reopens it).
- "Waiting for approval on our side": `report_awaiting_approval` (a promise to pay through
  `promises.service.make_promise`), `settle_from_promise` (`check-promises` decided it).
- Any kind: `add_note`, `ask_customer`, `dismiss_followup`, `reassign_followup`.

Every input is checked before the customer's lock is taken (`payments.service.lock_customer`,
the lock payments, disputes and promises take), and the follow-up re-read under it, so a double
submit or two staff at once do a step once. The caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.access.policy import Access
from portal.domain.attachments.service import Uploads
from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.errors import FieldName
from portal.domain.core.locales import N_
from portal.domain.core.money import Money, MoneyError
from portal.domain.followups.models import MAX_TEXT_LENGTH, Followup, FollowupEvent, FollowupFile, FollowupInvoice
from portal.domain.followups.notifications import FollowupMail, queue_customer_update, queue_staff_answer
from portal.domain.followups.policy import (
    MAX_INVOICES_PER_REPORT, MAX_REFERENCE_LENGTH, THE_NOTE, YOUR_ANSWER, FollowupRefused, QueueTeam,
    allocate_received, check_offline_method, check_paid_on, check_reference, check_text, parse_queues, route_followup,
)
from portal.domain.followups.queries import invoices_with_active_followups, visible_followup
from portal.domain.followups.states import (
    ACTIVE, FOLLOWUP_TRANSITIONS, KIND_QUEUES, KIND_SOURCES, OFFLINE_PAYMENT_METHODS, FollowupKind, FollowupSource,
    FollowupStatus, OfflineMethod, Outcome,
)
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.queries import named_invoice_figures
# The module, not its names: payments' own emails raise follow-ups (a bank debit failed), so
# either area may be the first one imported.
from portal.domain.payments import service as payments
from portal.domain.payments.models import Payment
from portal.domain.promises.policy import PromisePolicy, PromiseRefused
from portal.domain.promises.service import make_promise
from portal.domain.routing.policy import Member
from portal.domain.routing.service import team_calendar
from portal.domain.staff.models import StaffMember, Team, TeamMembership
from portal.domain.staff.states import StaffStatus

REQUEST_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _clean_text(value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"follow-up text over {MAX_TEXT_LENGTH} characters")
    return value


def active_loads(db: Session) -> dict[int, int]:
    """Active follow-ups per assignee (staff id)."""
    return dict(db.execute(
        select(Followup.assignee_id, func.count()).where(Followup.status.in_(ACTIVE), Followup.assignee_id.is_not(None))
        .group_by(Followup.assignee_id)
    ).all())


def queue_teams(db: Session) -> list[QueueTeam]:
    loads = active_loads(db)
    teams = db.scalars(select(Team).options(selectinload(Team.memberships).selectinload(TeamMembership.staff)))
    return [
        QueueTeam(
            id=team.id, queues=parse_queues(team.followup_queues or ()), calendar=team_calendar(team),
            is_fallback=team.is_fallback,
            members=tuple(Member(m.staff_id, loads.get(m.staff_id, 0), m.staff.away)
                          for m in team.memberships if m.staff.status == StaffStatus.ACTIVE),
        )
        for team in teams
    ]


def raise_followup(
    ctx: Context, *, kind: FollowupKind | str, customer_id: int, invoice_ids: Sequence[int] = (),
    details: dict | None = None, note: str = "", contact_id: int | None = None, link_id: int | None = None,
    request_key: str | None = None, dedupe_key: str | None = None,
) -> tuple[Followup, bool]:
    """Raise a follow-up of `kind` about `invoice_ids` of one customer, routed to its queue's
    team and person; `(followup, created)`.

    Idempotent: the same `request_key` for the customer (a clerk's double submit), or the same
    `dedupe_key` (a system event seen twice), returns the follow-up the first call raised,
    with `created` False. The customer row is locked first (as payments do), so two requests
    at once cannot both raise it. Callers have parsed and checked their input; this checks
    only what it owns. The caller commits.
    """
    db, now = ctx.db, ctx.clock.now()
    kind = FollowupKind(kind)
    source = KIND_SOURCES[kind]
    if source == FollowupSource.CUSTOMER and contact_id is None:
        raise ValueError("a customer's report names the contact who made it")
    if len(set(invoice_ids)) != len(invoice_ids):
        raise ValueError("an invoice appears twice")
    note = _clean_text(note)
    payments.lock_customer(db, customer_id)
    existing = None
    if request_key is not None:
        existing = db.scalar(select(Followup).where(Followup.customer_id == customer_id,
                                                    Followup.request_key == request_key))
    if existing is None and dedupe_key is not None:
        existing = db.scalar(select(Followup).where(Followup.dedupe_key == dedupe_key))
    if existing is not None:
        return existing, False
    queue = KIND_QUEUES[kind]
    route = route_followup(queue, queue_teams(db), now)
    followup = Followup(
        customer_id=customer_id, kind=kind.value, queue=queue.value, source=source.value,
        status=FollowupStatus.OPEN.value, team_id=route.team_id, assignee_id=route.assignee_id,
        reported_by_contact_id=contact_id, link_id=link_id, request_key=request_key, dedupe_key=dedupe_key,
        details=dict(details or {}), note=note, outcome="", due_at=route.due_at, created_at=now, updated_at=now,
        resolved_at=None, invoices=[FollowupInvoice(invoice_id=invoice_id) for invoice_id in invoice_ids],
    )
    db.add(followup)
    db.flush()
    followup.events.append(FollowupEvent(action="raised", contact_id=contact_id, text=note, for_customer=False,
                                         created_at=now))
    audit.record(db, ctx.clock, ctx.actor, "followup.raised", "followup", followup.public_id, after={
        "kind": kind.value, "queue": queue.value, "team_id": route.team_id, "assignee_id": route.assignee_id,
        "invoices": len(invoice_ids),
    })
    return followup, True


def add_event(ctx: Context, followup: Followup, action: str, *, text: str = "", staff_id: int | None = None,
              contact_id: int | None = None, for_customer: bool = False) -> FollowupEvent:
    """Add a step to the thread (a note, a question, an answer), audited."""
    now = ctx.clock.now()
    event = FollowupEvent(action=action, staff_id=staff_id, contact_id=contact_id, text=_clean_text(text),
                          for_customer=for_customer, created_at=now)
    followup.events.append(event)
    followup.updated_at = now
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, f"followup.{action}", "followup", followup.public_id,
                 after={"for_customer": for_customer, "length": len(event.text)})
    return event


def attach_file(ctx: Context, followup: Followup, file_id: int, event: FollowupEvent | None = None) -> FollowupFile:
    link = FollowupFile(followup_id=followup.id, event_id=event.id if event is not None else None, file_id=file_id,
                        created_at=ctx.clock.now())
    ctx.db.add(link)
    ctx.db.flush()
    return link


def move_followup(ctx: Context, followup: Followup, target: FollowupStatus | str, *, outcome: str = "",
                  text: str = "", staff_id: int | None = None, contact_id: int | None = None,
                  for_customer: bool = False) -> Followup:
    """Move the status by the transition table (`InvalidTransition` otherwise), with a thread
    event saying why; a final status records `outcome` and the time."""
    now = ctx.clock.now()
    before = followup.status
    target = FOLLOWUP_TRANSITIONS.check(followup.status, target, followup.public_id)
    followup.status = target.value
    followup.updated_at = now
    if target not in ACTIVE:
        followup.outcome = outcome
        followup.resolved_at = now
    followup.events.append(FollowupEvent(action=target.value, staff_id=staff_id, contact_id=contact_id,
                                         text=_clean_text(text), for_customer=for_customer, created_at=now))
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, f"followup.{target.value}", "followup", followup.public_id,
                 before={"status": before}, after={"status": target.value, "outcome": outcome})
    return followup


def assign_followup(ctx: Context, followup: Followup, assignee_id: int | None) -> Followup:
    before = followup.assignee_id
    followup.assignee_id = assignee_id
    followup.updated_at = ctx.clock.now()
    ctx.db.flush()
    audit.record(ctx.db, ctx.clock, ctx.actor, "followup.assigned", "followup", followup.public_id,
                 before={"assignee_id": before}, after={"assignee_id": assignee_id})
    return followup


# ---------------------------------------------------------------------------------------------
# The clerk's reports: "we already paid it", "it's waiting for approval on our side".


def _check_report_shape(request_key: str, public_ids: Sequence[str]) -> list[str]:
    if not REQUEST_KEY_PATTERN.match(request_key or ""):
        raise FollowupRefused(N_("This form has expired. Reload the page and try again."))
    ids = list(public_ids)
    if not ids:
        raise FollowupRefused(N_("Choose at least one invoice."))
    if len(ids) > MAX_INVOICES_PER_REPORT:
        raise FollowupRefused(N_("A report covers at most %(limit)s invoices."), limit=MAX_INVOICES_PER_REPORT)
    if len(set(ids)) != len(ids):
        raise FollowupRefused(N_("An invoice appears twice in this report."))
    return ids


def _existing_report(db: Session, customer_id: int, request_key: str) -> Followup | None:
    return db.scalar(select(Followup).where(Followup.customer_id == customer_id, Followup.request_key == request_key))


def report_already_paid(
    ctx: Context, access: Access, *, invoice_public_ids: Sequence[str], paid_on: date, amount_text: str,
    method: str, reference: str, note: str, request_key: str, today: date, files: Uploads | None = None,
) -> Followup:
    """"We already paid it": the clerk says when, how much (in the invoices' currency, parsed
    with its decimals), how and with what reference, optionally with the remittance advice.

    Raises an ALREADY_PAID follow-up in the cash-application queue; while it is active the
    invoices show "payment reported, being matched" and reminders leave them out. The same
    `request_key` twice returns the first report (and stores its files once). Nothing is
    written when anything is refused; the files are stored last.
    """
    db = ctx.db
    ids = _check_report_shape(request_key, invoice_public_ids)
    chosen = check_offline_method(method)
    reference = check_reference(reference)
    note = check_text(note, THE_NOTE)
    check_paid_on(paid_on, today)
    payments.lock_customer(db, access.customer_id)
    existing = _existing_report(db, access.customer_id, request_key)
    if existing is not None:
        return existing
    rows = named_invoice_figures(db, access, ids)
    currencies = {row.currency for row in rows}
    if len(currencies) != 1:
        raise FollowupRefused(N_("Invoices in different currencies need separate reports."))
    currency = currencies.pop()
    try:
        amount = Money.parse(amount_text, currency)
    except MoneyError as error:
        raise FollowupRefused(N_("%(problem)s."), problem=error) from None
    if amount.minor <= 0:
        raise FollowupRefused(N_("Enter the amount you paid."))
    for row in rows:
        if row.balance_minor <= 0:
            raise FollowupRefused(N_("Invoice %(number)s already shows as paid."), number=row.number)
    if amount.minor > sum(row.balance_minor for row in rows):
        raise FollowupRefused(N_("That is more than these invoices' balance: name every invoice the payment was for."))
    reported = invoices_with_active_followups(db, [row.id for row in rows], kinds=[FollowupKind.ALREADY_PAID])
    if reported:
        number = next(row.number for row in rows if row.id in reported)
        raise FollowupRefused(N_("A payment of invoice %(number)s was already reported and is being matched."),
                              number=number)
    stored = files.save(ctx) if files is not None and files.count else []
    followup, _ = raise_followup(
        ctx, kind=FollowupKind.ALREADY_PAID, customer_id=access.customer_id, invoice_ids=[row.id for row in rows],
        details={"paid_on": paid_on.isoformat(), "amount_minor": amount.minor, "currency": currency,
                 "method": chosen.value, "reference": reference},
        note=note, contact_id=access.contact_id, link_id=access.link_id, request_key=request_key,
    )
    for row in stored:
        attach_file(ctx, followup, row.id)  # sent with the report itself
    return followup


def report_awaiting_approval(
    ctx: Context, access: Access, policy: PromisePolicy, *, invoice_public_ids: Sequence[str],
    expected_date: date, method: str, note: str, request_key: str, today: date,
) -> Followup:
    """"It's waiting for approval on our side": the date the clerk expects to pay becomes a
    promise to pay (`promises.service.make_promise`: its limits, reminders paused until then,
    escalated by `check-promises` when broken), and an AWAITING_APPROVAL follow-up records it
    for collections. The follow-up is keyed by the promise, so a double submit (which finds
    the same promise by the form's token) raises it once; it is resolved when the promise is
    kept (`settle_from_promise`)."""
    ids = _check_report_shape(request_key, invoice_public_ids)
    note = check_text(note, THE_NOTE)
    try:
        promise = make_promise(ctx, access, policy, invoice_public_ids=ids, promised_date=expected_date,
                               method=method, note=note, request_key=request_key, today=today)
    except PromiseRefused as error:
        raise FollowupRefused(error.text) from None
    followup, _ = raise_followup(
        ctx, kind=FollowupKind.AWAITING_APPROVAL, customer_id=access.customer_id,
        invoice_ids=[line.invoice_id for line in promise.invoices],
        details={"expected_date": expected_date.isoformat(), "promise": promise.public_id, "method": promise.method},
        note=note, contact_id=access.contact_id, link_id=access.link_id, request_key=request_key,
        dedupe_key=approval_key(promise.public_id),
    )
    return followup


def approval_key(promise_public_id: str) -> str:
    return f"awaiting_approval:{promise_public_id}"


def settle_from_promise(ctx: Context, promise_public_id: str, kept: bool) -> Followup | None:
    """The promise an approval report made was decided: kept resolves the follow-up; broken
    resolves it too (the promise-broken follow-up the job raises takes over the chasing)."""
    followup = ctx.db.scalar(select(Followup).where(Followup.dedupe_key == approval_key(promise_public_id)))
    if followup is None or followup.status not in ACTIVE:
        return None
    outcome = Outcome.PROMISE_KEPT if kept else Outcome.PROMISE_BROKEN
    text = "The payment arrived: the promise was kept." if kept else "The promised date passed without the payment."
    return move_followup(ctx, followup, FollowupStatus.RESOLVED, outcome=outcome.value, text=text)


def answer_followup(ctx: Context, access: Access, public_id: str, *, text: str,
                    files: Uploads | None = None, mail: FollowupMail | None = None) -> Followup:
    """The clerk answers on an active follow-up they may see (text, files or both); an answer
    to our question ("not found: please send ...") reopens it for staff."""
    file_count = files.count if files is not None else 0
    text = check_text(text, YOUR_ANSWER)
    if not text and not file_count:
        raise FollowupRefused(N_("Write your answer or attach a file."))
    followup = visible_followup(ctx.db, access, public_id)
    payments.lock_customer(ctx.db, access.customer_id)
    ctx.db.refresh(followup)
    if followup.status not in ACTIVE:
        raise FollowupRefused(N_("This report is closed: start a new one from the invoice."))
    stored = files.save(ctx) if file_count else []
    event = add_event(ctx, followup, "answered", text=text, contact_id=access.contact_id, for_customer=True)
    for row in stored:
        attach_file(ctx, followup, row.id, event)
    if followup.status == FollowupStatus.WAITING:
        move_followup(ctx, followup, FollowupStatus.OPEN, contact_id=access.contact_id,
                      text="The customer answered.")
    if mail is not None:
        queue_staff_answer(ctx.db, ctx.clock, mail, followup)
    return followup


# ---------------------------------------------------------------------------------------------
# Staff steps: note, ask, dismiss, assign, and for a reported payment: match or not found.


def _locked_active(ctx: Context, followup: Followup) -> Followup:
    payments.lock_customer(ctx.db, followup.customer_id)
    ctx.db.refresh(followup)
    if followup.status not in ACTIVE:
        raise FollowupRefused("This follow-up is already closed.")
    return followup


def add_note(ctx: Context, followup: Followup, staff_id: int, text: str) -> FollowupEvent:
    """An internal note (never shown to the customer)."""
    return add_event(ctx, followup, "note", text=check_text(text, THE_NOTE, required=True), staff_id=staff_id)


def ask_customer(ctx: Context, followup: Followup, staff_id: int, text: str, mail: FollowupMail) -> Followup:
    """Ask the customer for something (for a reported payment: "not found, please send ...");
    the follow-up waits for the answer, the clerk who reported it is emailed and sees the
    question on the follow-up's page. Only customer reports have someone to ask."""
    text = check_text(text, FieldName("What the customer should send", "what the customer should send"), required=True)
    _locked_active(ctx, followup)
    if followup.reported_by_contact_id is None:
        raise FollowupRefused("The system raised this follow-up: there is no clerk to ask. Add a note instead.")
    if followup.status == FollowupStatus.WAITING:
        add_event(ctx, followup, "asked", text=text, staff_id=staff_id, for_customer=True)
    else:
        move_followup(ctx, followup, FollowupStatus.WAITING, text=text, staff_id=staff_id, for_customer=True)
    queue_customer_update(ctx.db, ctx.clock, mail, followup, "question", text=text)
    return followup


def dismiss_followup(ctx: Context, followup: Followup, staff_id: int, reason: str,
                     mail: FollowupMail | None = None) -> Followup:
    """Close it with nothing done at the source (a duplicate, the reason went away), saying why."""
    reason = check_text(reason, FieldName("The reason", "the reason"), required=True)
    _locked_active(ctx, followup)
    move_followup(ctx, followup, FollowupStatus.DISMISSED, outcome=Outcome.DISMISSED.value, text=reason,
                  staff_id=staff_id, for_customer=followup.reported_by_contact_id is not None)
    if mail is not None and followup.reported_by_contact_id is not None:
        queue_customer_update(ctx.db, ctx.clock, mail, followup, "dismissed", text=reason)
    return followup


def reassign_followup(ctx: Context, followup: Followup, assignee_id: int | None) -> Followup:
    """Give it to an active staff member (or nobody)."""
    if assignee_id is not None:
        member = ctx.db.get(StaffMember, assignee_id)
        if member is None or member.status != StaffStatus.ACTIVE:
            raise FollowupRefused("Choose an active staff member.")
    _locked_active(ctx, followup)
    return assign_followup(ctx, followup, assignee_id)


def offline_request_key(followup: Followup) -> str:
    """What the payment recorded for a reported payment is keyed by (`payments.request_key`)."""
    return f"followup:{followup.public_id}"


def match_reported_payment(ctx: Context, followup: Followup, staff_id: int, *, amount_text: str,
                           bank_reference: str, mail: FollowupMail) -> Payment:
    """Staff found the reported payment: record it as money received outside Stripe through
    the ledger (`payments.service.record_offline_payment`: a payment with its reference,
    allocations and entries, in the reported method), spread over the follow-up's invoices in
    order up to what is payable on each, which closes them (or reduces them, for less); the
    follow-up is resolved and the clerk emailed. A second match finds it closed and is refused.
    """
    if followup.kind != FollowupKind.ALREADY_PAID:
        raise FollowupRefused("Only a reported payment can be matched.")
    bank_reference = (bank_reference or "").strip() or str(followup.details.get("reference", ""))
    if len(bank_reference) > MAX_REFERENCE_LENGTH:
        raise FollowupRefused(f"The bank reference can be at most {MAX_REFERENCE_LENGTH} characters.")
    currency = str(followup.details["currency"])
    try:
        amount = Money.parse(amount_text, currency)
    except MoneyError as error:
        raise FollowupRefused(N_("%(problem)s."), problem=error) from None
    _locked_active(ctx, followup)
    invoice_ids = sorted(link.invoice_id for link in followup.invoices)
    figures = ctx.db.execute(
        select(Invoice.id, Invoice.balance_minor, Invoice.in_flight_minor, Invoice.held_minor)
        .where(Invoice.id.in_(invoice_ids)).order_by(Invoice.id)
    ).all()
    payable = [(row.id, row.balance_minor - row.in_flight_minor - max(row.held_minor, 0)) for row in figures]
    allocations = allocate_received(amount.minor, payable)
    method = OFFLINE_PAYMENT_METHODS[OfflineMethod(followup.details["method"])]
    payment = payments.record_offline_payment(
        ctx, customer_id=followup.customer_id, currency=currency, method=method, allocations=allocations,
        bank_reference=bank_reference, contact_id=followup.reported_by_contact_id,
        memo=f"Reported {followup.details.get('paid_on', '')}: {followup.details.get('reference', '')}",
        request_key=offline_request_key(followup),
    )
    text = f"We found your payment of {amount.format()} and recorded it as {payment.reference}."
    move_followup(ctx, followup, FollowupStatus.RESOLVED, outcome=Outcome.MATCHED.value, text=text,
                  staff_id=staff_id, for_customer=True)
    queue_customer_update(ctx.db, ctx.clock, mail, followup, "matched", text=text)
    return payment


def payment_not_found(ctx: Context, followup: Followup, staff_id: int, what_to_send: str,
                      mail: FollowupMail) -> Followup:
    """Staff could not find the reported payment: the clerk is asked for what would find it
    (the remittance advice, the bank's confirmation); their answer reopens the follow-up."""
    if followup.kind != FollowupKind.ALREADY_PAID:
        raise FollowupRefused("Only a reported payment can be not found.")
    return ask_customer(ctx, followup, staff_id, what_to_send, mail)
