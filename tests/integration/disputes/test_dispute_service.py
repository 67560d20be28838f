"""The dispute service on the real schema: holds, credits through the ledger, rejection,
re-bill, approval limits, the SLA clock's pauses, the history, the audit rows and the emails."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.errors import InvalidTransition, NotFound
from portal.domain.core.models import AuditEntry
from portal.domain.core.money import Money
from portal.domain.disputes import service
from portal.domain.disputes.jobs import check_holds
from portal.domain.disputes.models import DisputeEvent, DisputeMessage, DisputeSlaPause
from portal.domain.disputes.notifications import DisputeMail
from portal.domain.disputes.policy import DisputeRefused, InvoiceChoice, LineChoice
from portal.domain.disputes.service import Correction, RoutingDecision
from portal.domain.invoicing.models import Invoice
from portal.domain.invoicing.service import NewLine
from portal.domain.ledger.jobs import check_ledger
from portal.domain.ledger.queries import standings_for
from portal.domain.notifications.models import OutboxMessage
from portal.domain.staff.models import StaffMember, Team
from portal.domain.staff.service import TeamDetails, create_team
from tests.support.disputes import contact_access, contact_context, raise_test_dispute, staff_context
from tests.support.factories import make_allocated_payment, make_contact, make_customer, make_invoice, make_staff


@pytest.fixture
def mail(supplier, link_signer) -> DisputeMail:
    return DisputeMail(supplier, link_signer)


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    contact = make_contact(db, clock, customer, email="clerk@acme.example", name="Alex Payable")
    make_contact(db, clock, customer, email="ap@acme.example", is_ap_mailbox=True)
    invoice = make_invoice(db, clock, customer, number="INV-1", lines=[
        ("Widgets", 10, 1_250), ("Freight", 1, 4_000), ("Bolts", 3, 333)])
    other = make_invoice(db, clock, customer, number="INV-2", total_minor=20_000)
    return customer, contact, invoice, other


def _team_member(db, clock, team_name: str, name: str) -> tuple[StaffMember, Team]:
    member = make_staff(db, clock, name=name)
    team = create_team(Context(db, clock, Actor.system("test")), TeamDetails(team_name, "UTC", "12345", 540, 1020),
                       [member.id])
    return member, team


def _standing(db, clock, invoice):
    db.expire_all()
    return standings_for(db, [invoice.id], clock.now().date())[invoice.id]


def _balance(db, invoice) -> int:
    db.expire_all()
    return db.scalar(select(Invoice.balance_minor).where(Invoice.id == invoice.id))


def test_raising_holds_the_disputed_lines_out_of_what_is_payable(db, clock, acme):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], lines={invoice.id: [
        LineChoice(1, quantity_text="2"), LineChoice(2, amount_text="10.00")]})
    standing = _standing(db, clock, invoice)
    assert dispute.status == "open" and dispute.team_id is None and dispute.resolution_due_at is None
    assert standing.disputed == Money(3_500, "USD")
    assert standing.payable == Money(17_499 - 3_500, "USD")
    assert [(line.amount_minor, line.quantity) for line in dispute.invoices[0].lines] == [
        (2_500, Decimal("2")), (1_000, None)]
    assert check_holds(db) == []
    audit = db.scalars(select(AuditEntry).where(AuditEntry.object_id == dispute.public_id)).all()
    assert [a.action for a in audit] == ["dispute.raised"]


def test_the_same_form_token_twice_makes_one_dispute(db, clock, acme):
    _, contact, invoice, _ = acme
    ctx, access = contact_context(db, clock, contact), contact_access(contact)
    kwargs = dict(reason_code="pricing", description="Price is not what we agreed",
                  choices=[InvoiceChoice(invoice.public_id, "amount", amount_text="5.00")],
                  request_key="k" * 24)
    first = service.raise_dispute(ctx, access, **kwargs)
    second = service.raise_dispute(ctx, access, **kwargs)
    assert first.id == second.id
    assert _standing(db, clock, invoice).disputed == Money(500, "USD")


def test_money_already_being_paid_or_disputed_cannot_be_disputed(db, clock, acme):
    customer, contact, invoice, _ = acme
    make_allocated_payment(db, clock, customer, [(invoice, 10_000)])
    raise_test_dispute(db, clock, contact, [invoice], amount_text="50.00")
    with pytest.raises(DisputeRefused, match=r"at most \$24.99"):
        raise_test_dispute(db, clock, contact, [invoice], amount_text="25.00")


def test_several_invoices_in_one_dispute_must_share_a_currency(db, clock, acme):
    customer, contact, invoice, other = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice, other], amount_text="1.00")
    assert sorted(d.disputed_minor for d in dispute.invoices) == [100, 100]
    euro = make_invoice(db, clock, customer, currency="EUR")
    with pytest.raises(DisputeRefused, match="different currencies"):
        raise_test_dispute(db, clock, contact, [invoice, euro], amount_text="1.00")


def test_a_link_holder_raises_only_on_the_link_invoices(db, clock, acme):
    _, contact, invoice, other = acme
    access = contact_access(contact, [invoice])
    raise_test_dispute(db, clock, contact, [invoice], amount_text="1.00", access=access)
    with pytest.raises(NotFound):
        raise_test_dispute(db, clock, contact, [other], amount_text="1.00", access=access)


def test_another_company_cannot_dispute_or_touch_a_dispute(db, clock, acme):
    _, contact, invoice, _ = acme
    stranger = make_contact(db, clock, make_customer(db, clock))
    with pytest.raises(NotFound):
        raise_test_dispute(db, clock, stranger, [invoice], amount_text="1.00")
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="1.00")
    with pytest.raises(NotFound):
        service.withdraw(contact_context(db, clock, stranger), contact_access(stranger), dispute.public_id)
    with pytest.raises(NotFound):
        service.add_message(contact_context(db, clock, stranger), contact_access(stranger), dispute.public_id, "hi")


def test_accepting_in_full_credits_through_the_ledger_and_emails_the_customer(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="40.00")
    service.resolve_accept(staff_context(db, clock), mail, dispute.public_id, explanation="Agreed, credited.")
    standing = _standing(db, clock, invoice)
    assert dispute.status == "resolved_accepted" and dispute.resolved_at == clock.now()
    assert standing.balance == Money(17_499 - 4_000, "USD") and standing.disputed.is_zero
    assert standing.payable == standing.balance
    assert check_ledger(db).differences == [] and check_holds(db) == []
    email = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dispute_resolved")).one()
    assert email.to_address == "clerk@acme.example" and email.cc_addresses == "ap@acme.example"
    assert "/link/invoices/" in email.body_text and "Agreed, credited." in email.body_text
    assert "next=%2Fdisputes%2F" + dispute.public_id in email.body_text


def test_a_partial_credit_makes_the_rest_payable_again(db, clock, acme, mail):
    _, contact, invoice, other = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice, other], amount_text="50.00")
    service.resolve_accept(staff_context(db, clock), mail, dispute.public_id,
                           credits={invoice.public_id: Money(2_000, "USD")})
    assert dispute.status == "resolved_partial"
    assert _standing(db, clock, invoice).payable == Money(17_499 - 2_000, "USD")
    assert _standing(db, clock, other).payable == Money(20_000, "USD")  # nothing credited, released
    with pytest.raises(InvalidTransition):
        service.reject(staff_context(db, clock), mail, dispute.public_id, "Too late")


def test_a_credit_above_the_limit_waits_for_approval(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="100.00")
    staff = staff_context(db, clock)
    service.resolve_accept(staff, mail, dispute.public_id, credit_limit=Money(5_000, "USD"))
    assert dispute.status == "awaiting_approval"
    assert _balance(db, invoice) == 17_499 and _standing(db, clock, invoice).disputed == Money(10_000, "USD")
    with pytest.raises(DisputeRefused, match="waits for approval"):
        service.resolve_accept(staff, mail, dispute.public_id, credits={invoice.public_id: Money(4_000, "USD")},
                               credit_limit=Money(5_000, "USD"))
    with pytest.raises(DisputeRefused, match="above your approval limit"):
        service.approve_credit(staff, mail, dispute.public_id, credit_limit=Money(9_999, "USD"))
    service.approve_credit(staff, mail, dispute.public_id, credit_limit=Money(50_000, "USD"))
    assert dispute.status == "resolved_accepted" and _balance(db, invoice) == 7_499


def test_an_approved_credit_tells_the_customer_what_the_analyst_proposed(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="100.00")
    staff = staff_context(db, clock)
    service.resolve_accept(staff, mail, dispute.public_id, credit_limit=Money(5_000, "USD"),
                           explanation="We credit the racks at the contract price.")
    assert dispute.proposed_explanation == "We credit the racks at the contract price."
    service.approve_credit(staff, mail, dispute.public_id)  # the approver adds nothing of their own
    assert dispute.status == "resolved_accepted" and dispute.proposed_explanation is None
    public = db.scalars(select(DisputeMessage).where(DisputeMessage.dispute_id == dispute.id,
                                                     DisputeMessage.internal.is_(False))).all()
    assert [m.body for m in public] == ["We credit the racks at the contract price."]
    email = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dispute_resolved")).one()
    assert "We credit the racks at the contract price." in email.body_text


def test_the_approvers_own_words_replace_the_proposed_ones(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="100.00")
    staff = staff_context(db, clock)
    service.resolve_accept(staff, mail, dispute.public_id, credit_limit=Money(0, "USD"), explanation="Proposed.")
    service.approve_credit(staff, mail, dispute.public_id, explanation="Approved with thanks for your patience.")
    public = db.scalars(select(DisputeMessage.body).where(DisputeMessage.dispute_id == dispute.id,
                                                          DisputeMessage.internal.is_(False))).all()
    assert public == ["Approved with thanks for your patience."]


def test_rejection_releases_the_hold_and_explains(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice])
    assert _standing(db, clock, invoice).payable.is_zero
    with pytest.raises(DisputeRefused, match="Explain"):
        service.reject(staff_context(db, clock), mail, dispute.public_id, "  ")
    service.reject(staff_context(db, clock), mail, dispute.public_id, "The price matches the contract.")
    assert _standing(db, clock, invoice).payable == Money(17_499, "USD") and _balance(db, invoice) == 17_499
    assert dispute.status == "rejected"
    message = db.scalars(select(DisputeMessage).where(DisputeMessage.dispute_id == dispute.id)).one()
    assert message.body == "The price matches the contract." and not message.internal


def test_rebill_credits_the_invoice_and_issues_a_corrected_one(db, clock, acme, mail):
    customer, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="40.00")
    correction = Correction("INV-1-R1", clock.now().date() + timedelta(days=30),
                            [NewLine("Widgets", 10, 1_250), NewLine("Bolts", 3, 333)])
    service.rebill(staff_context(db, clock), mail, dispute.public_id, {invoice.public_id: correction})
    assert dispute.status == "rebilled" and _balance(db, invoice) == 0
    corrected = db.scalars(select(Invoice).where(Invoice.number == "INV-1-R1")).one()
    assert corrected.customer_id == customer.id and _balance(db, corrected) == 13_499
    assert dispute.invoices[0].rebilled_invoice_id == corrected.id
    assert check_ledger(db).differences == [] and check_holds(db) == []


def test_asking_for_information_pauses_the_sla_clock(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    due = clock.now() + timedelta(days=5)
    ana, desk = _team_member(db, clock, "Pricing desk", "Ana Pereira")

    def router(db_, facts, now):
        assert facts.amount == Money(1_000, "USD") and facts.reason_code == "pricing"
        return RoutingDecision(team_id=desk.id, assignee_id=ana.id, priority="high",
                               first_response_due_at=now + timedelta(hours=8), resolution_due_at=due)

    dispute = service.raise_dispute(
        contact_context(db, clock, contact), contact_access(contact), reason_code="pricing",
        description="Wrong unit price on widgets", choices=[InvoiceChoice(invoice.public_id, "amount",
                                                                              amount_text="10.00")],
        request_key="r" * 20, router=router)
    assert (dispute.team_id, dispute.assignee_id, dispute.priority) == (desk.id, ana.id, "high")
    service.request_information(staff_context(db, clock), mail, dispute.public_id, "Which delivery note?")
    assert dispute.status == "awaiting_customer" and dispute.first_responded_at == clock.now()
    clock.advance(days=2)
    service.add_message(contact_context(db, clock, contact), contact_access(contact), dispute.public_id, "DN-4471")
    assert dispute.status == "under_review"
    assert dispute.resolution_due_at == due + timedelta(days=2)
    pause = db.scalars(select(DisputeSlaPause).where(DisputeSlaPause.dispute_id == dispute.id)).one()
    assert pause.ended_at - pause.started_at == timedelta(days=2)
    kinds = db.scalars(select(DisputeEvent.kind).where(DisputeEvent.dispute_id == dispute.id)
                       .order_by(DisputeEvent.id)).all()
    assert kinds == ["raised", "information_requested", "answered"]
    assert db.scalar(select(func.count()).select_from(OutboxMessage)
                     .where(OutboxMessage.kind == "dispute_information_requested")) == 1


def test_internal_notes_are_never_emailed_and_replies_are(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="1.00")
    staff = staff_context(db, clock)
    service.reply(staff, mail, dispute.public_id, "Customer is usually right about freight.", internal=True)
    assert dispute.status == "open"
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    service.reply(staff, mail, dispute.public_id, "We are looking into it.")
    assert dispute.status == "under_review"
    email = db.scalars(select(OutboxMessage)).one()
    assert "We are looking into it." in email.body_text and "freight" not in email.body_text
    sam, team = _team_member(db, clock, "Pricing team", "Sam")
    service.reassign(staff, mail, dispute.public_id, team_id=team.id, assignee_id=sam.id,
                     owner_label="Sam (Pricing team)")
    assert (dispute.team_id, dispute.assignee_id) == (team.id, sam.id)
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "dispute_reassigned")) == 1


def test_a_staff_message_names_the_member_who_wrote_it(db, clock, acme):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="1.00")
    ana = make_staff(db, clock, name="Ana Pereira")
    service.reply(staff_context(db, clock, ana), None, dispute.public_id, "We are checking.")
    # A staff actor that is no member (a command) writes a note with no author row.
    service.reply(Context(db, clock, Actor("staff", "cli:ops")), None, dispute.public_id, "Imported.", internal=True)
    authors = db.scalars(select(DisputeMessage.staff_id).where(DisputeMessage.dispute_id == dispute.id)
                         .order_by(DisputeMessage.id)).all()
    assert authors == [ana.id, None]


def test_withdrawing_releases_the_hold_and_ends_the_dispute(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice])
    service.withdraw(contact_context(db, clock, contact), contact_access(contact), dispute.public_id)
    assert dispute.status == "withdrawn" and _standing(db, clock, invoice).disputed.is_zero
    with pytest.raises(DisputeRefused, match="closed"):
        service.add_message(contact_context(db, clock, contact), contact_access(contact), dispute.public_id, "hi")
    with pytest.raises(InvalidTransition):
        service.resolve_accept(staff_context(db, clock), mail, dispute.public_id)


def test_staff_actions_need_a_staff_actor(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="1.00")
    with pytest.raises(DisputeRefused, match="Only our staff"):
        service.resolve_accept(contact_context(db, clock, contact), mail, dispute.public_id)


def test_a_hold_written_past_the_service_is_reported(app, db, clock, acme):
    from sqlalchemy import update

    _, contact, invoice, other = acme
    raise_test_dispute(db, clock, contact, [invoice], amount_text="10.00")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["check-ledger"]).exit_code == 0
    db.execute(update(Invoice).where(Invoice.id == other.id).values(held_minor=500)
               .execution_options(synchronize_session=False))
    assert [str(d) for d in check_holds(db)] == ["INV-2: held_minor is 500, its active disputes hold 0"]
    broken = runner.invoke(args=["check-ledger"])
    assert broken.exit_code == 1 and "INV-2: held_minor is 500" in broken.output


def test_a_declined_approval_goes_back_to_review_with_nothing_credited(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="100.00")
    staff = staff_context(db, clock)
    service.start_review(staff, dispute.public_id)
    assert dispute.status == "under_review"
    service.resolve_accept(staff, mail, dispute.public_id, credit_limit=Money(0, "USD"))
    service.send_back_for_review(staff, dispute.public_id, "Check the delivery note first.")
    assert dispute.status == "under_review" and dispute.invoices[0].proposed_credit_minor is None
    assert _balance(db, invoice) == 17_499 and _standing(db, clock, invoice).disputed == Money(10_000, "USD")
    note = db.scalars(select(DisputeMessage).where(DisputeMessage.dispute_id == dispute.id)).one()
    assert note.internal and note.body == "Check the delivery note first."
    with pytest.raises(DisputeRefused, match="no credit waiting"):
        service.approve_credit(staff, mail, dispute.public_id)


def test_an_invoice_in_two_open_disputes_is_not_rebilled(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    first = raise_test_dispute(db, clock, contact, [invoice], amount_text="40.00")
    raise_test_dispute(db, clock, contact, [invoice], amount_text="10.00")
    correction = Correction("INV-1-R1", clock.now().date(), [NewLine("Widgets", 10, 1_250)])
    with pytest.raises(DisputeRefused, match="also in another open dispute"):
        service.rebill(staff_context(db, clock), mail, first.public_id, {invoice.public_id: correction})


def _rebill_state(db, dispute) -> tuple:
    db.flush()
    return (dispute.status, db.scalar(select(func.count()).select_from(Invoice)),
            tuple(db.execute(select(Invoice.balance_minor, Invoice.held_minor).order_by(Invoice.id)).all()),
            db.scalar(select(func.count()).select_from(OutboxMessage)))


def test_a_rebill_credit_above_the_members_limit_is_refused_before_anything_is_written(db, clock, acme, mail):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="40.00")
    correction = Correction("INV-1-R1", clock.now().date() + timedelta(days=30), [NewLine("Widgets", 10, 1_000)])
    staff = staff_context(db, clock)
    before = _rebill_state(db, dispute)
    # The credit is what is still open on the invoice ($174.99), not the $40.00 disputed, nor
    # that less the corrected invoice's $100.00.
    with pytest.raises(DisputeRefused, match=r"Re-billing credits \$174.99 .* limit of \$174.98: ask a supervisor"):
        service.rebill(staff, mail, dispute.public_id, {invoice.public_id: correction},
                       credit_limit=Money(17_498, "USD"))
    with pytest.raises(DisputeRefused, match="ask a supervisor"):  # a limit in another currency covers nothing
        service.rebill(staff, mail, dispute.public_id, {invoice.public_id: correction},
                       credit_limit=Money(10**9, "EUR"))
    assert _rebill_state(db, dispute) == before
    service.rebill(staff, mail, dispute.public_id, {invoice.public_id: correction}, credit_limit=Money(17_499, "USD"))
    assert dispute.status == "rebilled" and _balance(db, invoice) == 0


def test_a_payment_in_flight_is_not_credited_nor_counted_against_the_limit(db, clock, acme, mail):
    customer, contact, invoice, _ = acme
    make_allocated_payment(db, clock, customer, [(invoice, 7_499)])
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="40.00")
    correction = Correction("INV-1-R1", clock.now().date(), [NewLine("Widgets", 10, 1_000)])
    service.rebill(staff_context(db, clock), mail, dispute.public_id, {invoice.public_id: correction},
                   credit_limit=Money(10_000, "USD"))
    assert _balance(db, invoice) == 7_499  # what is being paid stays, to be settled by its payment


@pytest.mark.parametrize(("correction", "message"), [
    (lambda today: Correction("INV-2", today, [NewLine("Widgets", 1, 100)]), "Invoice number INV-2 is already taken"),
    (lambda today: Correction("INV-1-R1", today, []), "needs at least one line"),
    (lambda today: Correction("INV-1-R1", today - timedelta(days=1), [NewLine("Widgets", 1, 100)]),
     "cannot fall due before today"),
    (lambda today: Correction("INV-1-R1", today + timedelta(days=367), [NewLine("Widgets", 1, 100)]),
     "within 366 days"),
    (lambda today: Correction("INV-1-R1", today, [NewLine("Widgets", 1, 0)]), "comes to nothing"),
    (lambda today: Correction("INV-1-R1", today, [NewLine("Widgets", 1, 100)] * 51), "at most 50 lines"),
    (lambda today: Correction("INV-1-R1", today, [NewLine("Widgets", Decimal("0.001"), 3 * 10**9)]),
     "a unit price is at most"),
    (lambda today: Correction("INV-1-R1", today, [NewLine("Widgets", 2, 1_999_999_999)]), "more than the"),
    (lambda today: Correction("INV-1-R1", today, [NewLine("Widgets", 10**7, 1)]), "at most 1,000,000"),
], ids=["number taken", "no lines", "due before today", "due too far", "nothing", "too many lines",
        "unit price", "total", "quantity"])
def test_a_bad_correction_is_refused_before_anything_is_written(db, clock, acme, mail, correction, message):
    _, contact, invoice, _ = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice], amount_text="40.00")
    before = _rebill_state(db, dispute)
    with pytest.raises(DisputeRefused, match=message):
        service.rebill(staff_context(db, clock), mail, dispute.public_id,
                       {invoice.public_id: correction(clock.now().date())})
    assert _rebill_state(db, dispute) == before


def test_two_corrections_may_not_share_a_number(db, clock, acme, mail):
    _, contact, invoice, other = acme
    dispute = raise_test_dispute(db, clock, contact, [invoice, other], amount_text="10.00")
    same = Correction("INV-R", clock.now().date(), [NewLine("Widgets", 1, 100)])
    before = _rebill_state(db, dispute)
    with pytest.raises(DisputeRefused, match="its own number"):
        service.rebill(staff_context(db, clock), mail, dispute.public_id,
                       {invoice.public_id: same, other.public_id: same})
    assert _rebill_state(db, dispute) == before
