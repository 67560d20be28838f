"""One function per thing a customer or a staff member does with a dispute.

Customer side (the `Access` of the signed-in session decides what they may touch):
`raise_dispute`, `add_message`, `withdraw`. Staff side (a `Context` whose actor is staff):
`start_review`, `reply` (or an internal note), `request_information`, `reassign`,
`resolve_accept` (full or part; above `credit_limit` it waits in `awaiting_approval`),
`approve_credit`, `send_back_for_review`, `reject`, `rebill` (a credit above `credit_limit` is
refused: a re-bill has no approval step).

Money: while a dispute is active its amount is held on each invoice it covers: the invoice's
`held_minor` (kept here, in the same transaction, by `_move_hold`) is taken out of what is
payable (`ledger.queries.Standing.payable`). Ending a dispute releases its holds first; a
credit note then lowers the balance through the invoicing service, so balances always follow
the ledger. Raising a dispute and starting a payment both take the customer's lock
(`payments.service.lock_customer`), so the same money cannot be disputed and paid at once.

Files: raising a dispute, a customer's message, a staff reply, question or internal note may
carry files, given as `attachments.service.Uploads` (the request's files, not stored yet, and
the store they go to), never as rows stored beforehand. Each function checks its own step
first (access, state, text, amounts) and only then has the files checked and stored
(`Uploads.save`: all or none), then links them (`DisputeAttachment`: to the dispute when raised
with it, else to the message). So a refused step stores no bytes, and a refused file
(`UploadRefused`) refuses the step: the caller rolls back, and nothing of it remains. What a
file may be seen by follows from its link: an internal note's files are staff-only.

Every step writes a `DisputeEvent` (the history the pages show) and an audit row, and moves
the status only through `DISPUTE_TRANSITIONS`. Routing (team, assignee, priority and SLA
dates) is whatever `DisputeRouter` the caller passes: `route_by_rules` (the stored routing
rules, with each member's open load and each team's last assignee read from the disputes), or
`no_routing`. The dispute's owner is emailed (`staff_notifications`) when it arrives, when the
customer writes and when it is reassigned, through the `StaffMail` the caller passes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain.access.policy import Access
from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.service import Uploads
from portal.domain.core import audit
from portal.domain.core.context import Context
from portal.domain.core.errors import NotFound
from portal.domain.core.locales import N_
from portal.domain.core.money import Money
from portal.domain.customers.queries import customer_tags
from portal.domain.disputes.models import (
    PRIORITIES, Dispute, DisputeAttachment, DisputeEvent, DisputeInvoice, DisputeLine, DisputeMessage, DisputeReason,
    DisputeSlaPause, MAX_EVENT_DETAIL_LENGTH,
)
from portal.domain.disputes.notifications import DisputeMail, DisputeNotice, queue_dispute_notice
from portal.domain.disputes.queries import last_assignees, open_loads
from portal.domain.disputes.policy import (
    MAX_INVOICES_PER_DISPUTE, CorrectedLineFacts, DisputeRefused, InvoiceChoice, LineFacts, check_correction,
    check_partial_credit, check_rebill_credit, clean_description, clean_message, clean_message_with_files, disputable,
    disputed_on_invoice, link_may_see, needs_approval,
)
from portal.domain.disputes.staff_notifications import StaffMail, StaffNotice, notify_staff
from portal.domain.disputes.states import ACTIVE, DISPUTE_TRANSITIONS, AuthorKind, DisputeStatus, EventKind
from portal.domain.invoicing.models import Invoice, InvoiceLine
from portal.domain.invoicing.service import NewLine, issue_credit_note, issue_invoice
from portal.domain.ledger.queries import named_invoice_figures
from portal.domain.payments.service import lock_customer
from portal.domain.routing import policy as routing_policy
from portal.domain.routing.service import route_new_dispute
from portal.domain.staff.models import StaffMember

REQUEST_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
S = DisputeStatus


# --------------------------------------------------------------------------------------------
# Routing: what the routing area plugs in.


@dataclass(frozen=True)
class DisputeFacts:
    """What routing rules match on."""

    customer_id: int
    reason_code: str
    amount: Money
    invoice_count: int


@dataclass(frozen=True)
class RoutingDecision:
    team_id: int | None = None
    assignee_id: int | None = None
    priority: str = "normal"
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None


class DisputeRouter(Protocol):
    def __call__(self, db: Session, facts: DisputeFacts, now: datetime) -> RoutingDecision: ...


def no_routing(db: Session, facts: DisputeFacts, now: datetime) -> RoutingDecision:
    """Until routing rules exist: no team, nobody assigned, no SLA dates."""
    return RoutingDecision()


def route_by_rules(db: Session, facts: DisputeFacts, now: datetime) -> RoutingDecision:
    """Route with the stored rules: team, assignee (round-robin after the team's last assignee,
    or the fewest open disputes), priority, and the SLA dates in the team's business calendar
    (six statements)."""
    decision = route_new_dispute(
        db, routing_policy.DisputeFacts(facts.reason_code, facts.amount, facts.customer_id,
                                        customer_tags(db, facts.customer_id)),
        open_loads=open_loads(db), last_assignees=last_assignees(db),
    )
    due = routing_policy.sla_due_times(now, decision.sla, decision.calendar)
    return RoutingDecision(
        team_id=decision.team_id, assignee_id=decision.assignee_id, priority=str(decision.priority),
        first_response_due_at=due.first_response_due, resolution_due_at=due.resolution_due,
    )


# --------------------------------------------------------------------------------------------
# Shared steps


def _move_hold(db: Session, invoice_id: int, delta_minor: int) -> None:
    """Add `delta_minor` to the invoice's held amount (the CHECK keeps it >= 0)."""
    if delta_minor:
        db.execute(
            update(Invoice).where(Invoice.id == invoice_id)
            .values(held_minor=Invoice.held_minor + delta_minor)
            .execution_options(synchronize_session=False)
        )


def _release_holds(db: Session, dispute: Dispute) -> None:
    for covered in dispute.invoices:
        _move_hold(db, covered.invoice_id, -covered.held_minor)
        covered.held_minor = 0


def _event(ctx: Context, dispute: Dispute, kind: EventKind, *, before: str | None = None,
           detail: str = "") -> None:
    ctx.db.add(DisputeEvent(
        dispute_id=dispute.id, at=ctx.clock.now(), kind=kind.value, actor_type=ctx.actor.type,
        actor_id=ctx.actor.id[:64], from_status=before, to_status=dispute.status if before is not None else None,
        detail=detail[:MAX_EVENT_DETAIL_LENGTH],
    ))


def _move(ctx: Context, dispute: Dispute, target: DisputeStatus, kind: EventKind, detail: str = "") -> None:
    """Move the dispute along its table (or refuse), ending an SLA pause when it leaves
    `awaiting_customer`, and record the event and the audit row."""
    before = dispute.status
    DISPUTE_TRANSITIONS.check(before, target, dispute.public_id)
    if before == S.AWAITING_CUSTOMER:
        _end_pause(ctx, dispute)
    dispute.status = target.value
    now = ctx.clock.now()
    dispute.updated_at = now
    if target in DISPUTE_TRANSITIONS.final:
        dispute.resolved_at = now
    _event(ctx, dispute, kind, before=before, detail=detail)
    audit.record(ctx.db, ctx.clock, ctx.actor, f"dispute.{kind.value}", "dispute", dispute.public_id,
                 before={"status": before}, after={"status": target.value, **({"detail": detail} if detail else {})})


def _thread_event(ctx: Context, dispute: Dispute, kind: EventKind, message: DisputeMessage,
                  stored: Sequence[StoredFile]) -> None:
    """A message or note that moves no status: its history event and its audit row (who, when,
    from where, and what was added), as `_move` writes them for a step that does."""
    dispute.updated_at = ctx.clock.now()
    _event(ctx, dispute, kind)
    ctx.db.flush()  # the message's id, for the audit row
    audit.record(ctx.db, ctx.clock, ctx.actor, f"dispute.{kind.value}", "dispute", dispute.public_id, after={
        "message_id": message.id, "internal": message.internal,
        **({"files": [row.public_id for row in stored]} if stored else {}),
    })


def _end_pause(ctx: Context, dispute: Dispute) -> None:
    """Close the open pause and push the SLA dates by its length (the clock stood still)."""
    pause = ctx.db.scalar(
        select(DisputeSlaPause).where(DisputeSlaPause.dispute_id == dispute.id, DisputeSlaPause.ended_at.is_(None))
    )
    if pause is None:
        return
    pause.ended_at = ctx.clock.now()
    paused_for = pause.ended_at - pause.started_at
    if dispute.first_response_due_at is not None and dispute.first_responded_at is None:
        dispute.first_response_due_at += paused_for
    if dispute.resolution_due_at is not None:
        dispute.resolution_due_at += paused_for


def _message(ctx: Context, dispute: Dispute, body: str, *, author: AuthorKind, contact_id: int | None = None,
             internal: bool = False) -> DisputeMessage:
    message = DisputeMessage(
        dispute_id=dispute.id, author_kind=author.value, contact_id=contact_id,
        staff_id=_staff_id(ctx) if author == AuthorKind.STAFF else None, body=body, internal=internal,
        created_at=ctx.clock.now(),
    )
    ctx.db.add(message)
    return message


def _file_count(files: Uploads | None) -> int:
    return files.count if files is not None else 0


def _store_files(ctx: Context, files: Uploads | None) -> list[StoredFile]:
    """Check and store the files (all or none: `UploadRefused`); called once the step is known
    to happen, so that a refused step writes no bytes."""
    return files.save(ctx) if _file_count(files) else []


def _link_files(ctx: Context, dispute: Dispute, stored: Sequence[StoredFile],
                message: DisputeMessage | None = None) -> None:
    if not stored:
        return
    if message is not None and message.id is None:
        ctx.db.flush()  # the message's id, for the links
    ctx.db.add_all(DisputeAttachment(dispute_id=dispute.id, message_id=message.id if message else None,
                                     file_id=row.id, created_at=ctx.clock.now()) for row in stored)


def _email_text(body: str, stored: Sequence[StoredFile]) -> str:
    """What the customer's email quotes: the text, and the names of the files sent with it
    (the email carries no file: they are downloaded from the dispute page)."""
    if not stored:
        return body
    return f"{body}\n\nFiles on the dispute page: {', '.join(row.display_name for row in stored)}".strip()


def _staff_id(ctx: Context) -> int | None:
    """The acting member's `staff_members.id` (a staff actor is named by the member's public
    id); None for a staff actor that is no member (a command, the demo's history)."""
    return ctx.db.scalar(select(StaffMember.id).where(StaffMember.public_id == ctx.actor.id))


def _require_staff(ctx: Context) -> None:
    if ctx.actor.type != "staff":
        raise DisputeRefused("Only our staff can do this.")


def _lock_dispute(db: Session, public_id: str, *, customer_id: int | None = None) -> Dispute:
    """The dispute, locked (portably: by writing its row) and read fresh."""
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 22:
        raise NotFound("Dispute not found")
    condition = [Dispute.public_id == public_id]
    if customer_id is not None:
        condition.append(Dispute.customer_id == customer_id)
    found = db.scalar(select(Dispute.customer_id).where(*condition))
    if found is None:
        raise NotFound("Dispute not found")
    lock_customer(db, found)  # holds move with payments: the same lock as the pay path
    db.execute(update(Dispute).where(*condition).values(updated_at=Dispute.updated_at)
               .execution_options(synchronize_session=False))
    return db.scalars(select(Dispute).where(*condition).execution_options(populate_existing=True)).one()


def _customer_dispute(ctx: Context, access: Access, public_id: str) -> Dispute:
    """The dispute this access may act on (locked), else NotFound."""
    dispute = _lock_dispute(ctx.db, public_id, customer_id=access.customer_id)
    if not access.whole_account and not link_may_see(access.invoice_ids, [d.invoice_id for d in dispute.invoices]):
        raise NotFound("Dispute not found")
    return dispute


def _first_staff_response(ctx: Context, dispute: Dispute) -> None:
    if dispute.first_responded_at is None:
        dispute.first_responded_at = ctx.clock.now()


# --------------------------------------------------------------------------------------------
# Customer


def raise_dispute(
    ctx: Context, access: Access, *, reason_code: str, description: str, choices: Sequence[InvoiceChoice],
    request_key: str, router: DisputeRouter = no_routing, files: Uploads | None = None,
    staff_mail: StaffMail | None = None,
) -> Dispute:
    """Raise one dispute over one or more invoices this access may see (all in one currency),
    with the `files` sent with it (stored once everything else was accepted).

    The same `request_key` (the form's token) twice returns the dispute the first made, so a
    double submit creates one dispute (and stores its files once). Each invoice's disputed
    amount is held at once.
    """
    db, now = ctx.db, ctx.clock.now()
    if not REQUEST_KEY_PATTERN.match(request_key or ""):
        raise DisputeRefused(N_("This dispute form has expired. Reload the page and try again."))
    description = clean_description(description)
    if not choices:
        raise DisputeRefused(N_("Choose at least one invoice to dispute."))
    if len(choices) > MAX_INVOICES_PER_DISPUTE:
        raise DisputeRefused(N_("A dispute covers at most %(limit)s invoices."), limit=MAX_INVOICES_PER_DISPUTE)
    public_ids = [choice.invoice_public_id for choice in choices]
    if len(set(public_ids)) != len(public_ids):
        raise DisputeRefused(N_("An invoice appears twice in this dispute."))
    reason = db.scalar(select(DisputeReason).where(DisputeReason.code == (reason_code or ""),
                                                   DisputeReason.active.is_(True)))
    if reason is None:
        raise DisputeRefused(N_("Choose a reason from the list."))

    lock_customer(db, access.customer_id)
    existing = db.scalar(select(Dispute).where(Dispute.customer_id == access.customer_id,
                                               Dispute.request_key == request_key))
    if existing is not None:
        return existing

    rows = named_invoice_figures(db, access, list(public_ids))
    by_public_id = {row.public_id: row for row in rows}
    currencies = {row.currency for row in rows}
    if len(currencies) != 1:
        raise DisputeRefused(N_("Invoices in different currencies need separate disputes."))
    currency = currencies.pop()
    lines_by_invoice: dict[int, list[LineFacts]] = {}
    for line in db.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id.in_([r.id for r in rows]))):
        lines_by_invoice.setdefault(line.invoice_id, []).append(LineFacts(
            id=line.id, position=line.position, description=line.description, quantity=line.quantity,
            unit_price_minor=line.unit_price_minor, amount_minor=line.amount_minor,
        ))

    disputed = []
    for choice in choices:
        row = by_public_id[choice.invoice_public_id]
        available = disputable(Money(row.balance_minor, currency), Money(row.in_flight_minor, currency),
                               Money(row.held_minor, currency))
        decided = disputed_on_invoice(choice, number=row.number, lines=lines_by_invoice.get(row.id, []),
                                      available=available)
        disputed.append((row, decided))
    total = Money(sum(d.amount.minor for _, d in disputed), currency)

    decision = router(db, DisputeFacts(access.customer_id, reason.code, total, len(disputed)), now)
    stored = _store_files(ctx, files)
    dispute = Dispute(
        customer_id=access.customer_id, raised_by_contact_id=access.contact_id, link_id=access.link_id,
        reason_id=reason.id, currency=currency, description=description, status=S.OPEN.value,
        request_key=request_key, priority=decision.priority if decision.priority in PRIORITIES else "normal",
        team_id=decision.team_id, assignee_id=decision.assignee_id,
        first_response_due_at=decision.first_response_due_at, resolution_due_at=decision.resolution_due_at,
        first_responded_at=None, resolved_at=None, created_at=now, updated_at=now,
    )
    for row, decided in disputed:
        dispute.invoices.append(DisputeInvoice(
            invoice_id=row.id, disputed_minor=decided.amount.minor, held_minor=decided.amount.minor,
            credited_minor=0,
            lines=[DisputeLine(invoice_line_id=line.line_id, quantity=line.quantity, amount_minor=line.amount.minor)
                   for line in decided.lines],
        ))
    db.add(dispute)
    db.flush()
    for row, decided in disputed:
        _move_hold(db, row.id, decided.amount.minor)
    _link_files(ctx, dispute, stored)
    summary = ", ".join(f"{row.number} {decided.amount.format()}" for row, decided in disputed)
    _event(ctx, dispute, EventKind.RAISED, detail=f"{reason.label}: {summary}")
    audit.record(db, ctx.clock, ctx.actor, "dispute.raised", "dispute", dispute.public_id, after={
        "reason": reason.code, "currency": currency,
        "invoices": {row.number: decided.amount.minor for row, decided in disputed},
        **({"files": [row.public_id for row in stored]} if stored else {}),
    })
    db.flush()
    notify_staff(ctx, staff_mail, dispute, StaffNotice.RAISED, message=description)
    return dispute


def add_message(ctx: Context, access: Access, public_id: str, body: str, *,
                files: Uploads | None = None, staff_mail: StaffMail | None = None) -> DisputeMessage:
    """The customer writes in the thread (text, files, or both); an answer to our question
    resumes the review."""
    dispute = _customer_dispute(ctx, access, public_id)  # first: a foreign id is a 404 whatever the body
    body = clean_message_with_files(body, _file_count(files))
    if dispute.status not in ACTIVE:
        raise DisputeRefused(N_("This dispute is closed. To raise something new, open a new dispute."))
    answered = dispute.status == S.AWAITING_CUSTOMER
    stored = _store_files(ctx, files)
    message = _message(ctx, dispute, body, author=AuthorKind.CUSTOMER, contact_id=access.contact_id)
    _link_files(ctx, dispute, stored, message)
    if answered:
        _move(ctx, dispute, S.UNDER_REVIEW, EventKind.ANSWERED)
    else:
        _thread_event(ctx, dispute, EventKind.MESSAGE, message, stored)
    ctx.db.flush()
    notify_staff(ctx, staff_mail, dispute, StaffNotice.CUSTOMER_ANSWERED if answered else StaffNotice.CUSTOMER_WROTE,
                 message=body)
    return message


def withdraw(ctx: Context, access: Access, public_id: str) -> Dispute:
    """The customer takes the dispute back: the held amount is payable again."""
    dispute = _customer_dispute(ctx, access, public_id)
    if dispute.status not in ACTIVE:
        raise DisputeRefused(N_("This dispute is already closed."))
    _release_holds(ctx.db, dispute)
    _move(ctx, dispute, S.WITHDRAWN, EventKind.WITHDRAWN)
    ctx.db.flush()
    return dispute


# --------------------------------------------------------------------------------------------
# Staff


def start_review(ctx: Context, public_id: str) -> Dispute:
    """Staff pick the dispute up (or resume it without waiting for the customer's answer)."""
    _require_staff(ctx)
    dispute = _lock_dispute(ctx.db, public_id)
    _move(ctx, dispute, S.UNDER_REVIEW, EventKind.REVIEW_STARTED)
    ctx.db.flush()
    return dispute


def reply(ctx: Context, mail: DisputeMail | None, public_id: str, body: str, *, internal: bool = False,
          files: Uploads | None = None) -> DisputeMessage:
    """A staff message to the customer (emailed), or an internal note (never shown to them);
    text, files, or both. A note's files are staff-only, like the note."""
    _require_staff(ctx)
    body = clean_message_with_files(body, _file_count(files))
    dispute = _lock_dispute(ctx.db, public_id)
    if internal:
        stored = _store_files(ctx, files)
        message = _message(ctx, dispute, body, author=AuthorKind.STAFF, internal=True)
        _link_files(ctx, dispute, stored, message)
        _thread_event(ctx, dispute, EventKind.NOTE, message, stored)
        return message
    if dispute.status not in ACTIVE:
        raise DisputeRefused("This dispute is closed; add an internal note instead.")
    stored = _store_files(ctx, files)
    message = _message(ctx, dispute, body, author=AuthorKind.STAFF)
    _link_files(ctx, dispute, stored, message)
    _first_staff_response(ctx, dispute)
    if dispute.status == S.OPEN:
        _move(ctx, dispute, S.UNDER_REVIEW, EventKind.MESSAGE)
    else:
        _thread_event(ctx, dispute, EventKind.MESSAGE, message, stored)
    ctx.db.flush()
    queue_dispute_notice(ctx, mail, dispute, DisputeNotice.REPLY, message=_email_text(body, stored))
    return message


def request_information(ctx: Context, mail: DisputeMail | None, public_id: str, body: str, *,
                        files: Uploads | None = None) -> Dispute:
    """Ask the customer a question (in words; `files` may go with it, a form to fill in): the
    SLA clock pauses until they answer."""
    _require_staff(ctx)
    body = clean_message(body)
    dispute = _lock_dispute(ctx.db, public_id)
    DISPUTE_TRANSITIONS.check(dispute.status, S.AWAITING_CUSTOMER, dispute.public_id)  # before storing files
    stored = _store_files(ctx, files)
    message = _message(ctx, dispute, body, author=AuthorKind.STAFF)
    _link_files(ctx, dispute, stored, message)
    _first_staff_response(ctx, dispute)
    _move(ctx, dispute, S.AWAITING_CUSTOMER, EventKind.INFORMATION_REQUESTED)
    ctx.db.add(DisputeSlaPause(dispute_id=dispute.id, started_at=ctx.clock.now(), ended_at=None))
    ctx.db.flush()
    queue_dispute_notice(ctx, mail, dispute, DisputeNotice.INFORMATION_REQUESTED, message=_email_text(body, stored))
    return dispute


def reassign(ctx: Context, mail: DisputeMail | None, public_id: str, *, team_id: int | None, assignee_id: int | None,
             owner_label: str = "", staff_mail: StaffMail | None = None) -> Dispute:
    """Give the dispute to another team or person (`owner_label`: how the customer reads it);
    the new owner is emailed unless they gave it to themselves."""
    _require_staff(ctx)
    dispute = _lock_dispute(ctx.db, public_id)
    if dispute.status not in ACTIVE:
        raise DisputeRefused("This dispute is closed.")
    before = {"team_id": dispute.team_id, "assignee_id": dispute.assignee_id}
    dispute.team_id, dispute.assignee_id = team_id, assignee_id
    dispute.updated_at = ctx.clock.now()
    _event(ctx, dispute, EventKind.ASSIGNED, detail=owner_label)
    audit.record(ctx.db, ctx.clock, ctx.actor, "dispute.assigned", "dispute", dispute.public_id,
                 before=before, after={"team_id": team_id, "assignee_id": assignee_id})
    ctx.db.flush()
    queue_dispute_notice(ctx, mail, dispute, DisputeNotice.REASSIGNED, owner=owner_label)
    notify_staff(ctx, staff_mail, dispute, StaffNotice.REASSIGNED,
                 previous_owner=(before["team_id"], before["assignee_id"]))
    return dispute


def _credits_for(dispute: Dispute, numbers: Mapping[int, str], credits: Mapping[str, Money] | None,
                 public_ids: Mapping[int, str]) -> dict[int, Money]:
    """Per covered invoice id: what to credit (`credits` by invoice public id; None: in full)."""
    if credits is not None:
        unknown = set(credits) - set(public_ids.values())
        if unknown:
            raise DisputeRefused("A credit names an invoice this dispute does not cover.")
    chosen = {}
    for covered in dispute.invoices:
        disputed = Money(covered.disputed_minor, dispute.currency)
        credit = disputed if credits is None else credits.get(public_ids[covered.invoice_id],
                                                                Money.zero(dispute.currency))
        if credit.currency != dispute.currency:
            raise DisputeRefused(f"The dispute is in {dispute.currency}; credit in that currency.")
        check_partial_credit(credit, disputed, numbers[covered.invoice_id])
        chosen[covered.invoice_id] = credit
    if all(credit.is_zero for credit in chosen.values()):
        raise DisputeRefused("A credit of nothing is a rejection: reject the dispute instead.")
    return chosen


def _invoice_names(db: Session, dispute: Dispute) -> tuple[dict[int, str], dict[int, str]]:
    rows = db.execute(select(Invoice.id, Invoice.number, Invoice.public_id)
                      .where(Invoice.id.in_([d.invoice_id for d in dispute.invoices]))).all()
    return {r.id: r.number for r in rows}, {r.id: r.public_id for r in rows}


def _apply_credits(ctx: Context, mail: DisputeMail | None, dispute: Dispute, credits: Mapping[int, Money],
                   numbers: Mapping[int, str], explanation: str) -> None:
    """Release the holds, issue the credit notes, end the dispute, tell the customer."""
    db = ctx.db
    _release_holds(db, dispute)  # first, so the hold never exceeds the balance the credit lowers
    for covered in dispute.invoices:
        credit = credits[covered.invoice_id]
        if not credit.is_zero:
            issue_credit_note(db, invoice_id=covered.invoice_id, amount=credit, at=ctx.clock.now(),
                              reference=f"Dispute {dispute.public_id}")
        covered.credited_minor = credit.minor
        covered.proposed_credit_minor = None
    full = all(credits[c.invoice_id].minor == c.disputed_minor for c in dispute.invoices)
    if explanation:
        _message(ctx, dispute, explanation, author=AuthorKind.STAFF)
    _first_staff_response(ctx, dispute)
    detail = ", ".join(f"{numbers[c.invoice_id]} {credits[c.invoice_id].format()}" for c in dispute.invoices
                       if not credits[c.invoice_id].is_zero)
    _move(ctx, dispute, S.RESOLVED_ACCEPTED if full else S.RESOLVED_PARTIAL, EventKind.CREDITED, detail=detail)
    db.flush()
    queue_dispute_notice(ctx, mail, dispute, DisputeNotice.RESOLVED, message=explanation)


def resolve_accept(
    ctx: Context, mail: DisputeMail | None, public_id: str, *, credits: Mapping[str, Money] | None = None,
    explanation: str = "", credit_limit: Money | None = None,
) -> Dispute:
    """Accept the dispute in full (`credits=None`) or in part (a credit per invoice public id,
    each at most what was disputed on it). A total above `credit_limit` (the deciding person's
    approval limit; None: no limit) waits in `awaiting_approval` with nothing credited yet."""
    _require_staff(ctx)
    explanation = clean_message(explanation) if explanation.strip() else ""
    dispute = _lock_dispute(ctx.db, public_id)
    if dispute.status == S.AWAITING_APPROVAL:
        raise DisputeRefused("A credit already waits for approval: approve it, or send it back for review.")
    numbers, public_ids = _invoice_names(ctx.db, dispute)
    chosen = _credits_for(dispute, numbers, credits, public_ids)
    total = Money(sum(c.minor for c in chosen.values()), dispute.currency)
    if needs_approval(total, credit_limit):
        for covered in dispute.invoices:
            covered.proposed_credit_minor = chosen[covered.invoice_id].minor
        if explanation:
            _message(ctx, dispute, explanation, author=AuthorKind.STAFF, internal=True)
        dispute.proposed_explanation = explanation or None
        _first_staff_response(ctx, dispute)
        _move(ctx, dispute, S.AWAITING_APPROVAL, EventKind.APPROVAL_REQUESTED, detail=f"Credit of {total.format()}")
        ctx.db.flush()
        return dispute
    DISPUTE_TRANSITIONS.check(dispute.status, S.RESOLVED_PARTIAL, dispute.public_id)
    _apply_credits(ctx, mail, dispute, chosen, numbers, explanation)
    return dispute


def approve_credit(ctx: Context, mail: DisputeMail | None, public_id: str, *, credit_limit: Money | None = None,
                   explanation: str = "") -> Dispute:
    """Apply a credit waiting for approval; the approver's own limit must cover it. The
    customer reads the approver's `explanation`, or else the one proposed with the credit."""
    _require_staff(ctx)
    explanation = clean_message(explanation) if explanation.strip() else ""
    dispute = _lock_dispute(ctx.db, public_id)
    if dispute.status != S.AWAITING_APPROVAL:
        raise DisputeRefused("This dispute has no credit waiting for approval.")
    numbers, _ = _invoice_names(ctx.db, dispute)
    chosen = {c.invoice_id: Money(c.proposed_credit_minor or 0, dispute.currency) for c in dispute.invoices}
    total = Money(sum(c.minor for c in chosen.values()), dispute.currency)
    if needs_approval(total, credit_limit):
        raise DisputeRefused(f"A credit of {total.format()} is above your approval limit.")
    explanation = explanation or dispute.proposed_explanation or ""
    dispute.proposed_explanation = None
    _apply_credits(ctx, mail, dispute, chosen, numbers, explanation)
    return dispute


def send_back_for_review(ctx: Context, public_id: str, note: str = "") -> Dispute:
    """The approver declines the proposed credit: back to the review, nothing credited."""
    _require_staff(ctx)
    dispute = _lock_dispute(ctx.db, public_id)
    if dispute.status != S.AWAITING_APPROVAL:
        raise DisputeRefused("This dispute has no credit waiting for approval.")
    for covered in dispute.invoices:
        covered.proposed_credit_minor = None
    dispute.proposed_explanation = None
    if note.strip():
        _message(ctx, dispute, clean_message(note), author=AuthorKind.STAFF, internal=True)
    _move(ctx, dispute, S.UNDER_REVIEW, EventKind.APPROVAL_DECLINED)
    ctx.db.flush()
    return dispute


def reject(ctx: Context, mail: DisputeMail | None, public_id: str, explanation: str) -> Dispute:
    """Reject with an explanation the customer reads: the held amount is payable again."""
    _require_staff(ctx)
    explanation = clean_text_required(explanation)
    dispute = _lock_dispute(ctx.db, public_id)
    DISPUTE_TRANSITIONS.check(dispute.status, S.REJECTED, dispute.public_id)
    _release_holds(ctx.db, dispute)
    _message(ctx, dispute, explanation, author=AuthorKind.STAFF)
    _first_staff_response(ctx, dispute)
    _move(ctx, dispute, S.REJECTED, EventKind.REJECTED)
    ctx.db.flush()
    queue_dispute_notice(ctx, mail, dispute, DisputeNotice.RESOLVED, message=explanation)
    return dispute


def clean_text_required(explanation: str) -> str:
    if not (explanation or "").strip():
        raise DisputeRefused("Explain the decision to the customer.")
    return clean_message(explanation)


@dataclass(frozen=True)
class Correction:
    """The corrected invoice that replaces one disputed invoice."""

    number: str
    due_date: date
    lines: Sequence[NewLine]


def rebill(ctx: Context, mail: DisputeMail | None, public_id: str, corrections: Mapping[str, Correction], *,
           explanation: str = "", credit_limit: Money | None = None) -> Dispute:
    """Replace disputed invoices by corrected ones: each corrected invoice (by public id in
    `corrections`) is credited what is still open and not already being paid, and a new invoice
    with the corrected lines is issued through the invoicing service. Covered invoices without
    a correction are simply released.

    The credit notes' total must be within `credit_limit` (the acting member's approval limit;
    None: no limit; see `policy.check_rebill_credit`). Every correction is checked (lines, due
    date, total, a number no invoice has) before anything is written."""
    _require_staff(ctx)
    explanation = clean_message(explanation) if explanation.strip() else ""
    db = ctx.db
    dispute = _lock_dispute(db, public_id)
    DISPUTE_TRANSITIONS.check(dispute.status, S.REBILLED, dispute.public_id)
    if not corrections:
        raise DisputeRefused("Choose at least one invoice to replace with a corrected one.")
    numbers, public_ids = _invoice_names(db, dispute)
    if set(corrections) - set(public_ids.values()):
        raise DisputeRefused("A correction names an invoice this dispute does not cover.")
    chosen = [(covered, corrections[public_ids[covered.invoice_id]]) for covered in dispute.invoices
              if public_ids[covered.invoice_id] in corrections]
    rows = {row.id: row for row in db.execute(
        select(Invoice.id, Invoice.balance_minor, Invoice.in_flight_minor, Invoice.held_minor, Invoice.customer_id,
               Invoice.po_number).where(Invoice.id.in_([covered.invoice_id for covered, _ in chosen])))}
    today = ctx.clock.now().date()
    for covered, correction in chosen:
        if rows[covered.invoice_id].held_minor - covered.held_minor > 0:
            # Re-billing credits the whole open balance: the other dispute's hold would outlive it.
            raise DisputeRefused(f"Invoice {numbers[covered.invoice_id]} is also in another open dispute; "
                                 "resolve that one before re-billing the invoice.")
        check_correction(numbers[covered.invoice_id], due_date=correction.due_date, today=today,
                         currency=dispute.currency, lines=[
                             CorrectedLineFacts(Decimal(line.quantity), line.unit_price_minor, line.amount)
                             for line in correction.lines])
    new_numbers = [correction.number.strip() for _, correction in chosen]
    if len(set(new_numbers)) != len(new_numbers):
        raise DisputeRefused("Each corrected invoice needs its own number.")
    taken = db.scalar(select(Invoice.number).where(Invoice.number.in_(new_numbers)).order_by(Invoice.number).limit(1))
    if taken is not None:
        raise DisputeRefused(f"Invoice number {taken} is already taken: choose another number for the "
                             "corrected invoice.")
    open_now = {covered.invoice_id: Money(max(rows[covered.invoice_id].balance_minor
                                              - rows[covered.invoice_id].in_flight_minor, 0), dispute.currency)
                for covered, _ in chosen}
    check_rebill_credit(Money(sum(m.minor for m in open_now.values()), dispute.currency), credit_limit)

    _release_holds(db, dispute)
    replaced = []
    for covered, correction in chosen:
        row, credit = rows[covered.invoice_id], open_now[covered.invoice_id]
        if not credit.is_zero:
            issue_credit_note(db, invoice_id=covered.invoice_id, amount=credit, at=ctx.clock.now(),
                              reference=correction.number.strip())
        corrected = issue_invoice(
            db, customer_id=row.customer_id, number=correction.number, currency=dispute.currency,
            issue_date=today, due_date=correction.due_date, lines=correction.lines,
            at=ctx.clock.now(), po_number=row.po_number,
        )
        covered.credited_minor = min(credit.minor, covered.disputed_minor)
        covered.rebilled_invoice_id = corrected.id
        replaced.append(f"{numbers[covered.invoice_id]} → {corrected.number} (credited {credit.format()})")
    if explanation:
        _message(ctx, dispute, explanation, author=AuthorKind.STAFF)
    _first_staff_response(ctx, dispute)
    _move(ctx, dispute, S.REBILLED, EventKind.REBILLED, detail=", ".join(replaced))
    db.flush()
    queue_dispute_notice(ctx, mail, dispute, DisputeNotice.RESOLVED, message=explanation)
    return dispute
