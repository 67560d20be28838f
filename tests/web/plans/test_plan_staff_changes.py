"""What staff change on plans, through the test client on both databases:

- the plan policy page: everyone with plan work reads it; only admins save it (one audit row);
  bad values are refused with a message naming the field, the values typed shown again and
  nothing stored; once saved, proposing uses it instead of the settings;
- customers on hold: supervisors and admins set and clear a hold with a reason (audited),
  collectors cannot; a customer on hold gets no plan approved at once, and staff see the hold;
- a new schedule for a running plan: proposed by a collector, shown to the customer with the
  exact terms while the old schedule stays in force, accepted once (a new agreement; the new
  installments sum exactly to what remained) or declined (nothing changes); another
  company's plan, tampered terms, a second answer and expired sign-ins change nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.domain.core.models import AuditEntry
from portal.domain.customers.models import Customer
from portal.domain.plans.models import Installment, Plan, PlanAgreement, PlanAmendment, StoredPlanPolicy
from portal.domain.plans.policy import POLICY_BOUNDS, PlanPolicy, policy_values
from portal.domain.plans.service import move_installment
from portal.domain.staff.states import StaffRole
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff, sign_in, staff_sign_in
from tests.support.fixtures.links import csrf_from
from tests.support.plans import customer_today, make_test_plan


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    clerk = make_contact(db, clock, customer, email="clerk@acme.example")
    first = make_invoice(db, clock, customer, number="INV-100", total_minor=60_000)
    second = make_invoice(db, clock, customer, number="INV-200", total_minor=30_001)
    return customer, clerk, first, second


def _staff(client, db, clock, role):
    staff_sign_in(client, make_staff(db, clock, role=role), clock)


def _audits(db, action: str) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def _text(response) -> str:
    return " ".join(response.get_data(as_text=True).split())


# --- the plan policy -----------------------------------------------------------------------------


def _policy_form(page, **changes) -> dict[str, str]:
    return {"csrf_token": csrf_from(page), **{k: str(v) for k, v in policy_values(PlanPolicy()).items()},
            **{k: str(v) for k, v in changes.items()}}


def test_an_admin_saves_the_plan_policy_and_proposals_follow_it(client, db, clock, acme):
    _, clerk, first, _ = acme
    _staff(client, db, clock, StaffRole.ADMIN)
    page = client.get("/admin/plan-policy")
    assert page.status_code == 200 and "PLAN_* settings" in _text(page)
    saved = client.post("/admin/plan-policy", data=_policy_form(page, max_count=2, max_total_minor="1,000,000"))
    assert saved.status_code == 303 and saved.headers["Location"] == "/admin/plan-policy"
    db.expire_all()
    stored = db.get(StoredPlanPolicy, 1)
    assert (stored.max_count, stored.max_total_minor) == (2, 1_000_000)
    assert _audits(db, "plan_policy.updated") == 1
    assert "Set by" in _text(client.get("/admin/plan-policy"))
    # A double submit stores the same values again: still one row, one more audit entry.
    assert client.post("/admin/plan-policy", data=_policy_form(page, max_count=2,
                                                               max_total_minor=1_000_000)).status_code == 303
    assert db.scalar(select(func.count()).select_from(StoredPlanPolicy)) == 1

    sign_in(client, clerk, clock)
    form = client.get("/plans/new", query_string={"invoice": first.public_id})
    shown = client.post("/plans/preview", data={
        "csrf_token": csrf_from(form), "invoice": first.public_id, "count": "3", "cadence": "monthly",
        "first": customer_today(db, clock, clerk).isoformat(), "pay_by": "myself"})
    assert shown.status_code == 200 and "more than 2 installments" in _text(shown)


@pytest.mark.parametrize(("changes", "message"), [
    ({"max_count": "13"}, "Most installments: choose a whole number from 2 to 12"),
    ({"max_count": "1"}, "Most installments"),
    ({"retry_after_days": "0"}, "soft decline is charged again: choose a whole number from 1 to 30"),
    ({"max_total_minor": "1E+999990"}, "Largest plan total (minor units): enter a whole number"),
    ({"max_total_minor": "9" * 5000}, "Largest plan total (minor units): enter a whole number"),
    ({"max_total_minor": str(10**12 + 1)}, "Largest plan total"),
    ({"max_failures": "-1"}, "Failed collections before the plan defaults: enter a whole number"),
    ({"reminder_days_before": "3\x00"}, None),  # NUL: refused before any view (SECURITY.md A14)
    ({"max_length_days": ""}, "Longest plan"),
])
def test_bad_policy_values_are_refused_with_a_message_and_nothing_stored(client, db, clock, changes, message):
    _staff(client, db, clock, StaffRole.ADMIN)
    page = client.get("/admin/plan-policy")
    refused = client.post("/admin/plan-policy", data=_policy_form(page, **changes))
    assert refused.status_code == 400 and (message is None or message in _text(refused))
    db.expire_all()
    assert db.get(StoredPlanPolicy, 1) is None and _audits(db, "plan_policy.updated") == 0


@pytest.mark.parametrize("role", [StaffRole.COLLECTOR, StaffRole.SUPERVISOR, StaffRole.ANALYST])
def test_only_admins_change_the_plan_policy(client, db, clock, role):
    _staff(client, db, clock, role)
    page = client.get("/admin/plan-policy")
    assert page.status_code == (403 if role == StaffRole.ANALYST else 200)
    token = csrf_from(client.get("/admin/account"))
    answer = client.post("/admin/plan-policy", data={
        "csrf_token": token, **{field: str(low) for field, (low, _) in POLICY_BOUNDS.items()}})
    assert answer.status_code == 403
    db.expire_all()
    assert db.get(StoredPlanPolicy, 1) is None


def test_an_expired_staff_sign_in_saves_no_policy(client, db, clock):
    _staff(client, db, clock, StaffRole.ADMIN)
    page = client.get("/admin/plan-policy")
    clock.advance(minutes=16)
    answer = client.post("/admin/plan-policy", data=_policy_form(page, max_count=2))
    assert answer.status_code == 302 and "/admin/sign-in" in answer.headers["Location"]
    db.expire_all()
    assert db.get(StoredPlanPolicy, 1) is None


# --- customers on hold ---------------------------------------------------------------------------


def test_a_supervisor_holds_a_customer_whose_plans_then_wait_and_clears_it(client, db, clock, acme):
    customer, clerk, first, second = acme
    _staff(client, db, clock, StaffRole.SUPERVISOR)
    token = csrf_from(client.get("/admin/plans"))
    held = client.post("/admin/holds", data={"csrf_token": token, "account": customer.account_number, "hold": "on",
                                             "reason": "Bank returned two ACH debits"})
    assert held.status_code == 303
    again = client.post("/admin/holds", data={"csrf_token": token, "account": customer.account_number, "hold": "on",
                                              "reason": "Bank returned two ACH debits"})  # a double submit
    assert again.status_code == 400 and "already on hold" in _text(again)
    db.expire_all()
    assert db.get(Customer, customer.id).on_hold and _audits(db, "customer.hold_set") == 1
    listing = _text(client.get("/admin/plans"))
    assert "Bank returned two ACH debits" in listing and customer.account_number in listing

    plan = make_test_plan(db, clock, clerk, [first])  # inside the policy, but the account is on hold
    db.commit()
    assert plan.status == "pending_approval" and plan.policy_reasons == "the account is on hold"
    page = _text(client.get(f"/admin/plans/{plan.public_id}"))
    assert "The customer is on hold: Bank returned two ACH debits" in page

    cleared = client.post("/admin/holds", data={"csrf_token": token, "account": customer.account_number,
                                                "hold": "off", "reason": "Paid by wire"})
    assert cleared.status_code == 303 and _audits(db, "customer.hold_cleared") == 1
    db.expire_all()
    assert not db.get(Customer, customer.id).on_hold
    assert make_test_plan(db, clock, clerk, [second]).status == "active"


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"account": "NO-SUCH", "hold": "on", "reason": "x"}, 404, "No customer has this account number"),
    ({"hold": "on", "reason": "   "}, 400, "Give a reason"),
    ({"hold": "maybe", "reason": "x"}, 400, "Choose to put the customer on hold"),
    ({"hold": "on", "reason": "late\r\nBcc: x@evil.example"}, 400, "one line"),
    ({"hold": "on", "reason": "r" * 501}, 400, "under 500 characters"),
    ({"hold": "off", "reason": "x"}, 400, "is not on hold"),
    ({"account": "", "hold": "on", "reason": "x"}, 400, "account number"),
])
def test_bad_holds_are_refused_and_change_nothing(client, db, clock, acme, fields, status, message):
    customer = acme[0]
    _staff(client, db, clock, StaffRole.ADMIN)
    token = csrf_from(client.get("/admin/plans"))
    answer = client.post("/admin/holds", data={"csrf_token": token, "account": customer.account_number, **fields})
    assert answer.status_code == status and message in _text(answer)
    db.expire_all()
    assert not db.get(Customer, customer.id).on_hold and _audits(db, "customer.hold_set") == 0


@pytest.mark.parametrize("role", [StaffRole.COLLECTOR, StaffRole.ANALYST])
def test_collectors_and_analysts_cannot_hold_a_customer(client, db, clock, acme, role):
    customer = acme[0]
    _staff(client, db, clock, role)
    token = csrf_from(client.get("/admin/account"))
    answer = client.post("/admin/holds", data={"csrf_token": token, "account": customer.account_number, "hold": "on",
                                               "reason": "x"})
    assert answer.status_code == 403
    db.expire_all()
    assert not db.get(Customer, customer.id).on_hold


# --- a new schedule for a running plan -----------------------------------------------------------


def _running_plan(db, clock, clerk, invoice) -> Plan:
    """A 4-installment monthly plan whose first installment is paid."""
    plan = make_test_plan(db, clock, clerk, [invoice], count=4)
    move_installment(plan.installments[0], "paid", clock.now())
    db.commit()
    return plan


def _propose(client, plan, **fields):
    token = csrf_from(client.get(f"/admin/plans/{plan.public_id}"))
    return client.post(f"/admin/plans/{plan.public_id}/amend", data={
        "csrf_token": token, "count": "3", "cadence": "weekly", "first": "2026-07-06",
        "reason": "Smaller payments after the warehouse fire.", **fields})


def _owed(db, plan) -> list[tuple[int, str, int, str]]:
    db.expire_all()
    return [(i.number, i.due_on.isoformat(), i.amount_minor, i.status)
            for i in db.scalars(select(Installment).where(Installment.plan_id == plan.id).order_by(Installment.number))]


def test_a_new_schedule_is_proposed_shown_and_accepted_as_a_new_agreement(client, db, clock, acme):
    _, clerk, first, _ = acme
    plan = _running_plan(db, clock, clerk, first)
    before = _owed(db, plan)
    _staff(client, db, clock, StaffRole.COLLECTOR)
    assert _propose(client, plan).status_code == 303
    assert "A new schedule waits for the customer" in _text(client.get(f"/admin/plans/{plan.public_id}"))
    assert _owed(db, plan) == before  # nothing changes until the customer accepts

    sign_in(client, clerk, clock)
    assert "A new schedule waits for your answer" in _text(client.get("/plans"))
    page = client.get(f"/plans/{plan.public_id}")
    html = page.get_data(as_text=True)
    assert "We propose a new schedule" in html and "Smaller payments after the warehouse fire." in html
    assert "what remains unpaid, $450.00, is paid in 3 installments" in html
    assert "5. 2026-07-06: $150.00" in html and "7. 2026-07-20: $150.00" in html
    digest = re.search(r'name="terms_digest" value="([0-9a-f]{64})"', html).group(1)
    tampered = client.post(f"/plans/{plan.public_id}/answer",
                           data={"csrf_token": csrf_from(page), "answer": "accept", "terms_digest": "1" * 64})
    assert tampered.status_code == 400 and _owed(db, plan) == before
    accepted = client.post(f"/plans/{plan.public_id}/answer",
                           data={"csrf_token": csrf_from(page), "answer": "accept", "terms_digest": digest})
    assert accepted.status_code == 303
    twice = client.post(f"/plans/{plan.public_id}/answer",
                        data={"csrf_token": csrf_from(page), "answer": "accept", "terms_digest": digest})
    assert twice.status_code == 400 and "not waiting for your answer" in _text(twice)

    after = _owed(db, plan)
    assert [row[3] for row in after] == ["paid", "cancelled", "cancelled", "cancelled",
                                         "scheduled", "scheduled", "scheduled"]
    assert [row[1] for row in after[4:]] == ["2026-07-06", "2026-07-13", "2026-07-20"]
    kept = [row[2] for row in after if row[3] != "cancelled"]
    assert sum(kept) == db.get(Plan, plan.id).total_minor == 60_000
    agreements = db.scalars(select(PlanAgreement).where(PlanAgreement.plan_id == plan.id)
                            .order_by(PlanAgreement.id)).all()
    assert len(agreements) == 2 and "what remains unpaid, $450.00" in agreements[-1].terms_text
    assert agreements[-1].contact_id == clerk.id and agreements[-1].user_agent and agreements[-1].ip
    assert db.get(Plan, plan.id).status == "active" and db.get(Plan, plan.id).cadence == "weekly"
    assert _audits(db, "plan.amendment_accepted") == 1
    assert "A new schedule waits for your answer" not in _text(client.get("/plans"))


def test_declining_a_new_schedule_keeps_the_old_one(client, db, clock, acme):
    _, clerk, first, _ = acme
    plan = _running_plan(db, clock, clerk, first)
    before = _owed(db, plan)
    _staff(client, db, clock, StaffRole.SUPERVISOR)
    assert _propose(client, plan).status_code == 303
    sign_in(client, clerk, clock)
    page = client.get(f"/plans/{plan.public_id}")
    declined = client.post(f"/plans/{plan.public_id}/answer", data={"csrf_token": csrf_from(page), "answer": "decline"})
    assert declined.status_code == 303
    assert _owed(db, plan) == before
    assert db.scalar(select(PlanAmendment.status)) == "declined"
    assert "We propose a new schedule" not in _text(client.get(f"/plans/{plan.public_id}"))


def test_a_second_proposal_supersedes_the_first(client, db, clock, acme):
    _, clerk, first, _ = acme
    plan = _running_plan(db, clock, clerk, first)
    _staff(client, db, clock, StaffRole.COLLECTOR)
    assert _propose(client, plan).status_code == 303
    assert _propose(client, plan, count="2", cadence="monthly").status_code == 303
    db.expire_all()
    assert sorted(db.scalars(select(PlanAmendment.status))) == ["proposed", "superseded"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"count": "13"}, "between 2 and 12"),
    ({"count": "12"}, "at most 12 installments in all and 1 are paid"),
    ({"cadence": "daily"}, "how often"),
    ({"first": "2020-01-01"}, "in the past"),
    ({"first": "2026-13-01"}, "does not exist"),
    ({"reason": ""}, "reason"),
])
def test_bad_new_schedules_are_refused_and_nothing_is_proposed(client, db, clock, acme, fields, message):
    _, clerk, first, _ = acme
    plan = _running_plan(db, clock, clerk, first)
    _staff(client, db, clock, StaffRole.COLLECTOR)
    answer = _propose(client, plan, **fields)
    assert answer.status_code == 400 and message in _text(answer)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(PlanAmendment)) == 0


def test_only_running_plans_get_a_new_schedule_and_analysts_cannot_propose_one(client, db, clock, acme):
    _, clerk, first, second = acme
    waiting = make_test_plan(db, clock, clerk, [first], count=4, policy=PlanPolicy(max_count=3))
    running = _running_plan(db, clock, clerk, second)
    _staff(client, db, clock, StaffRole.COLLECTOR)
    refused = _propose(client, waiting)
    assert refused.status_code == 400 and "Only an active or paused plan" in _text(refused)
    _staff(client, db, clock, StaffRole.ANALYST)
    token = csrf_from(client.get("/admin/account"))
    assert client.post(f"/admin/plans/{running.public_id}/amend", data={
        "csrf_token": token, "count": "2", "cadence": "monthly", "first": "2026-07-06", "reason": "x"}).status_code == 403
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(PlanAmendment)) == 0


def test_another_companys_clerk_and_an_expired_session_cannot_answer(client, db, clock, acme):
    _, clerk, first, _ = acme
    plan = _running_plan(db, clock, clerk, first)
    _staff(client, db, clock, StaffRole.COLLECTOR)
    assert _propose(client, plan).status_code == 303
    other = make_contact(db, clock, make_customer(db, clock, name="Other Co"), email="ap@other.example")
    sign_in(client, other, clock)
    token = csrf_from(client.get("/plans"))
    assert client.get(f"/plans/{plan.public_id}").status_code == 404
    assert client.post(f"/plans/{plan.public_id}/answer",
                       data={"csrf_token": token, "answer": "decline"}).status_code == 404
    sign_in(client, clerk, clock)
    page = client.get(f"/plans/{plan.public_id}")
    clock.advance(minutes=31)
    late = client.post(f"/plans/{plan.public_id}/answer", data={"csrf_token": csrf_from(page), "answer": "decline"})
    assert late.status_code == 302 and "signed-out" in late.headers["Location"]
    db.expire_all()
    assert db.scalar(select(PlanAmendment.status)) == "proposed"


def test_a_schedule_paid_into_since_the_proposal_cannot_be_accepted(client, db, clock, acme):
    _, clerk, first, _ = acme
    plan = _running_plan(db, clock, clerk, first)
    _staff(client, db, clock, StaffRole.COLLECTOR)
    assert _propose(client, plan).status_code == 303
    sign_in(client, clerk, clock)
    page = client.get(f"/plans/{plan.public_id}")
    digest = re.search(r'name="terms_digest" value="([0-9a-f]{64})"', page.get_data(as_text=True)).group(1)
    db.expire_all()
    move_installment(db.get(Plan, plan.id).installments[1], "paid", clock.now())
    db.commit()
    before = _owed(db, plan)
    answer = client.post(f"/plans/{plan.public_id}/answer",
                         data={"csrf_token": csrf_from(page), "answer": "accept", "terms_digest": digest})
    assert answer.status_code == 400 and "The plan changed" in _text(answer)
    assert _owed(db, plan) == before


def test_the_first_date_may_not_be_before_the_customers_today(client, db, clock, acme):
    _, clerk, first, _ = acme
    plan = _running_plan(db, clock, clerk, first)
    _staff(client, db, clock, StaffRole.COLLECTOR)
    yesterday = customer_today(db, clock, clerk) - timedelta(days=1)
    answer = _propose(client, plan, first=yesterday.isoformat())
    assert answer.status_code == 400 and "in the past" in _text(answer)
