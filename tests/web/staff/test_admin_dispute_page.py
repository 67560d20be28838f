"""The staff page of one dispute and its actions: the customer's context, the thread with
internal notes, the history; reply, note, request information, reassign, accept in full or in
part (above the role's credit limit it waits for approval), approve (only roles allowed to,
after a recent sign-in), reject with an explanation; each refusal changes nothing; and no
customer, of this company or another, reads an internal note."""

from __future__ import annotations


import pytest
from sqlalchemy import select, update

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.models import AuditEntry
from portal.domain.disputes import service
from portal.domain.disputes.models import Dispute, DisputeMessage
from portal.domain.invoicing.models import Invoice
from portal.domain.staff.service import TeamDetails, create_team
from portal.domain.staff.states import StaffRole
from tests.support import attachment_files as files
from tests.support.disputes import contact_access, contact_context, raise_test_dispute, staff_context, uploads
from tests.support.factories import (
    make_allocated_payment, make_contact, make_customer, make_invoice, make_staff, sign_in, staff_sign_in,
)
from tests.support.fixtures.links import csrf_from
from tests.web.account.test_account_query_counts import counted_statements


@pytest.fixture
def case(db, clock):
    ctx = Context(db, clock, Actor.system("test"))
    ana, bo = make_staff(db, clock, name="Ana Pereira"), make_staff(db, clock, name="Bo Lindqvist")
    desk = create_team(ctx, TeamDetails("Pricing desk", "UTC", "12345", 540, 1020), [ana.id, bo.id])
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    earlier_invoice = make_invoice(db, clock, customer, number="INV-OLD", total_minor=3_000)
    earlier = raise_test_dispute(db, clock, clerk, [earlier_invoice], reason="damaged")
    service.reject(staff_context(db, clock), None, earlier.public_id, "The goods arrived whole.")
    small = make_invoice(db, clock, customer, number="INV-100", total_minor=16_500)
    large = make_invoice(db, clock, customer, number="INV-200", total_minor=100_000)
    make_invoice(db, clock, customer, number="INV-300", total_minor=7_700)
    dispute = raise_test_dispute(db, clock, clerk, [small])
    big = raise_test_dispute(db, clock, clerk, [large])
    for d in (dispute, big):
        d.team_id, d.assignee_id = desk.id, ana.id
    db.commit()
    return {"ana": ana, "bo": bo, "desk": desk, "clerk": clerk, "dispute": dispute, "big": big,
            "small": small, "large": large, "customer": customer}


def _fresh(db, dispute) -> Dispute:
    db.commit()
    db.expire_all()
    return db.scalar(select(Dispute).where(Dispute.id == dispute.id))


def _post(client, dispute, action: str, **data):
    page = client.get(f"/admin/disputes/{dispute.public_id}")
    assert page.status_code == 200
    return client.post(f"/admin/disputes/{dispute.public_id}/{action}", data={"csrf_token": csrf_from(page), **data})


def _messages(db, dispute) -> list[tuple[str, bool]]:
    db.commit()
    return [tuple(row) for row in db.execute(select(DisputeMessage.body, DisputeMessage.internal)
                           .where(DisputeMessage.dispute_id == dispute.id).order_by(DisputeMessage.id)).all()]


def test_the_page_shows_the_customers_context_thread_and_history(client, db, clock, case):
    staff_sign_in(client, case["ana"], clock)
    html = client.get(f"/admin/disputes/{case['dispute'].public_id}").get_data(as_text=True)
    assert "Acme Corp" in html and "Ana Pereira (Pricing desk)" in html
    assert "INV-300" in html and "$77.00" in html  # an open invoice outside the dispute
    assert "Damaged" in html and "Rejected" in html  # the earlier dispute and how it ended
    assert "Dispute raised" in html
    assert client.get("/admin/disputes/nosuchdispute").status_code == 404


def test_the_page_names_who_wrote_and_did_what_and_the_latest_payments(client, db, clock, case):
    dispute = case["dispute"]
    payment = make_allocated_payment(db, clock, case["customer"], [(case["small"], 4_500)], status="succeeded")
    payment.reference = "PAY-2026-000042"
    service.reply(staff_context(db, clock, case["bo"]), None, dispute.public_id, "Looking at it now.")
    service.add_message(contact_context(db, clock, case["clerk"]), contact_access(case["clerk"]), dispute.public_id,
                        "Thank you.")
    staff_sign_in(client, case["ana"], clock)
    html = client.get(f"/admin/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "Us · Bo Lindqvist" in html and "Customer · Pat Clerk" in html  # who wrote each message
    history = html[html.index("<h2>History</h2>"):html.index("Open invoices of")]
    assert "Dispute raised" in history and "· Pat Clerk" in history and "· Bo Lindqvist" in history
    payments = html[html.index("Latest payments"):html.index("Earlier disputes")]
    assert "PAY-2026-000042" in payments and "$45.00" in payments and "Paid" in payments


def test_every_staff_step_leaves_one_audit_row_naming_who_and_from_where(client, db, clock, case):
    """SECURITY.md L1: each action on the dispute page is one audit row (who, what, when, from
    where, before/after), and the rows cannot be edited afterwards."""
    dispute, ana, bo = case["dispute"], case["ana"], case["bo"]
    staff_sign_in(client, ana, clock)

    def rows():
        db.commit()
        return db.scalars(select(AuditEntry).where(AuditEntry.object_id == dispute.public_id)
                          .order_by(AuditEntry.id)).all()

    steps = [
        ("reply", {"body": "We are checking."}, "dispute.message"),                  # opens the review
        ("note", {"body": "Price list says 10% off."}, "dispute.note"),
        ("reply", {"body": "Still on it."}, "dispute.message"),
        ("request-information", {"body": "Which PO?"}, "dispute.information_requested"),
        ("reassign", {"assignee": f"{bo.public_id}:{case['desk'].id}"}, "dispute.assigned"),
        ("resolve", {"mode": "part", f"credit-{case['small'].public_id}": "15.00",
                     "explanation": "We credit the freight."}, "dispute.credited"),
    ]
    for action, data, expected in steps:
        before = len(rows())
        response = _post(client, dispute, action, **data)
        assert response.status_code == 303, (action, response.get_data(as_text=True)[:500])
        added = rows()[before:]
        assert [row.action for row in added] == [expected], action
        assert (added[0].actor_type, added[0].actor_id, added[0].ip) == ("staff", ana.public_id, "127.0.0.1")
    assigned = next(row for row in rows() if row.action == "dispute.assigned")
    assert assigned.before == {"team_id": case["desk"].id, "assignee_id": ana.id}
    assert assigned.after == {"team_id": case["desk"].id, "assignee_id": bo.id}
    credited = rows()[-1]
    assert credited.before == {"status": "awaiting_customer"} and credited.after["status"] == "resolved_partial"
    with pytest.raises(Exception, match="append-only"):
        db.execute(update(AuditEntry).where(AuditEntry.id == credited.id).values(action="tampered"))
    db.rollback()


def test_reply_note_and_question(client, db, clock, case):
    dispute = case["dispute"]
    staff_sign_in(client, case["ana"], clock)
    assert _post(client, dispute, "reply", body="We are checking the price list.").status_code == 303
    assert _fresh(db, dispute).status == "under_review"
    assert _post(client, dispute, "note", body="Sales agreed 10% off in March.").status_code == 303
    assert _post(client, dispute, "request-information", body="Which PO was this?").status_code == 303
    assert _fresh(db, dispute).status == "awaiting_customer"
    assert _messages(db, dispute)[-3:] == [("We are checking the price list.", False),
                                           ("Sales agreed 10% off in March.", True), ("Which PO was this?", False)]
    staff_page = client.get(f"/admin/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "Internal note" in staff_page and "Sales agreed 10% off in March." in staff_page

    # Refusals: an empty reply, text with control characters; nothing is added.
    before = _messages(db, dispute)
    assert _post(client, dispute, "reply", body="   ").status_code == 400
    assert _post(client, dispute, "note", body="bad\x00note").status_code == 400
    assert _messages(db, dispute) == before
    # Without the CSRF token nothing happens either.
    assert client.post(f"/admin/disputes/{dispute.public_id}/note", data={"body": "x"}).status_code == 400
    assert _messages(db, dispute) == before


def test_customers_never_read_internal_notes(app, client, db, clock, case):
    dispute = case["dispute"]
    service.reply(staff_context(db, clock), None, dispute.public_id, "Internal: margin is thin here.", internal=True)
    service.reply(staff_context(db, clock), None, dispute.public_id, "We will credit the difference.")
    db.commit()
    sign_in(client, case["clerk"], clock)
    own = client.get(f"/disputes/{dispute.public_id}").get_data(as_text=True)
    assert "We will credit the difference." in own and "margin is thin" not in own

    other_company = make_customer(db, clock, name="Other Co")
    stranger = make_contact(db, clock, other_company, email="ap@other.example")
    db.commit()
    outsider = app.test_client()
    sign_in(outsider, stranger, clock)
    response = outsider.get(f"/disputes/{dispute.public_id}")
    assert response.status_code == 404
    assert b"margin is thin" not in response.get_data() and b"credit the difference" not in response.get_data()


def test_reassign_to_a_team_member_only(client, db, clock, case):
    dispute, bo, desk = case["dispute"], case["bo"], case["desk"]
    staff_sign_in(client, case["ana"], clock)
    html = client.get(f"/admin/disputes/{dispute.public_id}").get_data(as_text=True)
    assert f'value="{case["ana"].public_id}:{desk.id}" selected>Ana Pereira (Pricing desk): now' in html
    assert _post(client, dispute, "reassign", assignee=f"{bo.public_id}:{desk.id}").status_code == 303
    assert _fresh(db, dispute).assignee_id == bo.id
    outsider = make_staff(db, clock)
    db.commit()
    assert _post(client, dispute, "reassign", assignee=f"{outsider.public_id}:{desk.id}").status_code == 400
    assert _post(client, dispute, "reassign", assignee="nonsense").status_code == 400
    assert _fresh(db, dispute).assignee_id == bo.id


def test_accept_in_full_within_the_analysts_limit(client, db, clock, case):
    dispute = case["dispute"]
    staff_sign_in(client, case["ana"], clock)
    response = _post(client, dispute, "resolve", mode="full", explanation="Credited at the agreed price.")
    assert response.status_code == 303
    assert _fresh(db, dispute).status == "resolved_accepted"
    assert db.scalar(select(Invoice.balance_minor).where(Invoice.id == case["small"].id)) == 0


def test_accept_in_part_and_its_refusals(client, db, clock, case):
    dispute, small = case["dispute"], case["small"]
    staff_sign_in(client, case["ana"], clock)
    field = f"credit-{small.public_id}"
    assert _post(client, dispute, "resolve", mode="part", **{field: "12.3.4"}).status_code == 400
    assert _post(client, dispute, "resolve", mode="part", **{field: "999.00"}).status_code == 400  # above disputed
    assert _post(client, dispute, "resolve", mode="sideways").status_code == 400
    assert _fresh(db, dispute).status == "open"
    assert _post(client, dispute, "resolve", mode="part", **{field: "40.00"}).status_code == 303
    assert _fresh(db, dispute).status == "resolved_partial"
    assert db.scalar(select(Invoice.balance_minor).where(Invoice.id == small.id)) == 12_500


def test_a_credit_above_the_limit_waits_for_an_approver(app, client, db, clock, case):
    big = case["big"]
    staff_sign_in(client, case["ana"], clock)
    assert _post(client, big, "resolve", mode="full").status_code == 303  # $1,000 > the analyst's $500
    assert _fresh(db, big).status == "awaiting_approval"
    assert db.scalar(select(Invoice.balance_minor).where(Invoice.id == case["large"].id)) == 100_000
    # The analyst may not approve it.
    assert _post(client, big, "approve").status_code == 403

    supervisor = make_staff(db, clock, role=StaffRole.SUPERVISOR)
    boss = app.test_client()
    staff_sign_in(boss, supervisor, clock)
    clock.advance(minutes=11)  # the sign-in is no longer recent: confirm the password first
    stale = _post(boss, big, "approve")
    assert stale.status_code == 302 and "/admin/confirm-identity" in stale.headers["Location"]
    assert _fresh(db, big).status == "awaiting_approval"

    fresh = app.test_client()
    staff_sign_in(fresh, supervisor, clock)
    assert _post(fresh, big, "approve", explanation="Approved.").status_code == 303
    assert _fresh(db, big).status == "resolved_accepted"
    assert db.scalar(select(Invoice.balance_minor).where(Invoice.id == case["large"].id)) == 0


def test_reject_needs_an_explanation(client, db, clock, case):
    dispute = case["dispute"]
    staff_sign_in(client, case["ana"], clock)
    assert _post(client, dispute, "reject", explanation="  ").status_code == 400
    assert _fresh(db, dispute).status == "open"
    assert _post(client, dispute, "reject", explanation="The price list of May applies.").status_code == 303
    assert _fresh(db, dispute).status == "rejected"
    assert db.scalar(select(Invoice.held_minor).where(Invoice.id == case["small"].id)) == 0


def test_a_collector_reads_but_does_not_act(client, db, clock, case):
    dispute = case["dispute"]
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.COLLECTOR), clock)
    page = client.get(f"/admin/disputes/{dispute.public_id}")
    assert page.status_code == 200 and "Send reply" not in page.get_data(as_text=True)
    token = csrf_from(page)  # the sign-out form's: the token is the session's
    assert client.get(f"/admin/disputes/{dispute.public_id}/rebill").status_code == 403
    for action in ("reply", "note", "request-information", "reassign", "reject", "resolve", "approve", "rebill"):
        response = client.post(f"/admin/disputes/{dispute.public_id}/{action}",
                               data={"csrf_token": token, "body": "x", "explanation": "x", "mode": "full"})
        assert response.status_code == 403, action
    assert _fresh(db, dispute).status == "open"


def test_the_page_costs_the_same_statements_whatever_the_thread_length(engine, client, db, clock, case, file_storage):
    dispute = case["dispute"]
    staff_sign_in(client, case["ana"], clock)
    path = f"/admin/disputes/{dispute.public_id}"
    client.get(path)

    def count() -> int:
        with counted_statements(engine) as statements:
            assert client.get(path).status_code == 200
        return len(statements)

    few = count()
    for n in range(20):
        service.reply(staff_context(db, clock), None, dispute.public_id, f"Note {n}", internal=True,
                      files=uploads(file_storage, (f"note {n}.csv", files.CSV_TEXT)) if n % 2 else None)
        make_invoice(db, clock, case["customer"], total_minor=1_000 + n)
    db.commit()
    assert count() == few
