"""Every status vocabulary and its transition table, walked pair by pair.

Each table is restated here in full as the product wants it: a change to a table must change
its expectation too, on purpose. A vocabulary added to the product is registered in TABLES.
"""

from __future__ import annotations

import pytest

from portal.domain.access.states import LINK_TRANSITIONS
from portal.domain.core.errors import InvalidTransition
from portal.domain.core.states import Transitions, sql_in
from portal.domain.disputes.states import DISPUTE_TRANSITIONS
from portal.domain.methods.states import VERIFICATION_TRANSITIONS
from portal.domain.followups.states import FOLLOWUP_TRANSITIONS
from portal.domain.notifications.states import OUTBOX_TRANSITIONS
from portal.domain.payments.states import PAYMENT_TRANSITIONS
from portal.domain.plans.states import AMENDMENT_TRANSITIONS, INSTALLMENT_TRANSITIONS, PLAN_TRANSITIONS
from portal.domain.promises.states import PROMISE_TRANSITIONS
from portal.domain.refunds.states import CHARGEBACK_TRANSITIONS, REFUND_TRANSITIONS
from portal.domain.staff.states import STAFF_STATUS_TRANSITIONS
from portal.domain.webhooks.states import DELIVERY_TRANSITIONS

TABLES: dict[str, tuple[Transitions, set[tuple[str, str]]]] = {
    "payment": (PAYMENT_TRANSITIONS, {
        ("new", "requires_action"), ("new", "processing"), ("new", "succeeded"), ("new", "failed"),
        ("new", "canceled"),
        ("requires_action", "processing"), ("requires_action", "succeeded"),
        ("requires_action", "failed"), ("requires_action", "canceled"),
        ("processing", "succeeded"), ("processing", "failed"),
        # A declined intent stays open at Stripe; if money moves anyway it is recorded.
        ("failed", "processing"), ("failed", "succeeded"),
    }),
    # Staff retry a dead message (it is sent again from the start).
    "outbox message": (OUTBOX_TRANSITIONS, {("pending", "sent"), ("pending", "dead"), ("dead", "pending")}),
    # The same for a webhook delivery the sender gave up on.
    "webhook delivery": (DELIVERY_TRANSITIONS, {("pending", "delivered"), ("pending", "dead"), ("dead", "pending")}),
    "link": (LINK_TRANSITIONS, {
        ("active", "used"), ("active", "expired"), ("active", "revoked"),
        # Revoking withdraws every link of a contact, whatever state it is in.
        ("used", "revoked"), ("expired", "revoked"),
    }),
    # A member is never deleted; an admin can deactivate and reactivate them.
    # Open until the job decides it (kept, broken) or the customer cancels it; a broken promise
    # stays broken when the money comes late.
    "promise": (PROMISE_TRANSITIONS, {("open", "kept"), ("open", "broken"), ("open", "cancelled")}),
    "staff member": (STAFF_STATUS_TRANSITIONS, {("active", "deactivated"), ("deactivated", "active")}),
    "dispute": (DISPUTE_TRANSITIONS, {
        # Raised: staff pick it up, ask, or decide at once; the customer may withdraw.
        *(("open", t) for t in ("under_review", "awaiting_customer", "awaiting_approval", "withdrawn",
                                "resolved_accepted", "resolved_partial", "rejected", "rebilled")),
        *(("under_review", t) for t in ("awaiting_customer", "awaiting_approval", "withdrawn",
                                        "resolved_accepted", "resolved_partial", "rejected", "rebilled")),
        # Waiting for the customer (SLA paused): their answer resumes the review; staff may
        # decide without it, except a re-bill, which needs the review.
        *(("awaiting_customer", t) for t in ("under_review", "withdrawn", "resolved_accepted",
                                             "resolved_partial", "rejected")),
        # A credit above the limit: approved (full or part), sent back, or withdrawn meanwhile.
        *(("awaiting_approval", t) for t in ("under_review", "withdrawn", "resolved_accepted",
                                             "resolved_partial")),
    }),
    # Stripe answers or reports; a card refund can fail days after it succeeded.
    "refund": (REFUND_TRANSITIONS, {
        ("requested", "pending"), ("requested", "succeeded"), ("requested", "failed"), ("requested", "canceled"),
        ("pending", "succeeded"), ("pending", "failed"), ("pending", "canceled"),
        ("succeeded", "failed"), ("succeeded", "canceled"),
    }),
    "chargeback": (CHARGEBACK_TRANSITIONS, {("open", "won"), ("open", "lost")}),
    # Proposed outside the policy: staff approve or decline, the customer may withdraw. A
    # running plan may pause, end paid, default or be cancelled; a paused one resumes.
    "plan": (PLAN_TRANSITIONS, {
        ("pending_approval", "active"), ("pending_approval", "declined"), ("pending_approval", "cancelled"),
        ("pending_approval", "countered"),
        # Staff proposed other terms: the customer accepts (active) or declines them.
        ("countered", "active"), ("countered", "declined"), ("countered", "cancelled"),
        ("active", "paused"), ("active", "completed"), ("active", "defaulted"), ("active", "cancelled"),
        ("paused", "active"), ("paused", "cancelled"), ("paused", "completed"),
    }),
    # Charged when due (or paid by other means); a failed charge is retried or paid by the
    # customer; authentication required waits for the customer, never charged again off-session.
    "installment": (INSTALLMENT_TRANSITIONS, {
        ("scheduled", "charging"), ("scheduled", "paid"), ("scheduled", "cancelled"),
        ("charging", "paid"), ("charging", "failed"), ("charging", "action_required"),
        ("failed", "charging"), ("failed", "paid"), ("failed", "cancelled"),
        ("action_required", "paid"), ("action_required", "cancelled"),
        # A bank debit returned after it had settled: the installment is owed again.
        ("paid", "failed"),
    }),
    # Staff handle it (resolved) or find nothing to do (dismissed); asking the customer waits
    # for their answer, which reopens it.
    "follow-up": (FOLLOWUP_TRANSITIONS, {
        ("open", "waiting"), ("open", "resolved"), ("open", "dismissed"),
        ("waiting", "open"), ("waiting", "resolved"), ("waiting", "dismissed"),
    }),
    # A new schedule for a running plan: the customer accepts or declines it; staff proposing
    # another one supersedes it. Each answer is final.
    "plan amendment": (AMENDMENT_TRANSITIONS, {
        ("proposed", "accepted"), ("proposed", "declined"), ("proposed", "superseded"),
    }),
    # A bank account waiting for microdeposits is verified or fails, once; a verified one whose
    # bank failed or returned a debit fails too (its mandate is unusable); nothing moves back.
    "saved method verification": (VERIFICATION_TRANSITIONS, {
        ("pending_verification", "verified"), ("pending_verification", "failed"), ("verified", "failed"),
    }),
}

PAIRS = [(name, source, target) for name, (table, _) in TABLES.items() for source, target in table.pairs()]


@pytest.mark.parametrize(("name", "source", "target"), PAIRS, ids=[f"{n}:{s}->{t}" for n, s, t in PAIRS])
def test_every_pair_is_allowed_exactly_when_the_product_says(name, source, target):
    table, expected = TABLES[name]
    allowed = (str(source), str(target)) in expected
    assert table.can_move(source, target) is allowed
    if allowed:
        assert table.check(source, target) == target
    else:
        with pytest.raises(InvalidTransition, match=f"{source} -> {target}"):
            table.check(source, target)


@pytest.mark.parametrize("name", TABLES)
def test_final_statuses_are_those_with_no_way_out(name):
    table, expected = TABLES[name]
    sources = {source for source, _ in expected}
    assert {str(status) for status in table.final} == {str(s) for s in table.statuses} - sources


def test_a_table_that_forgets_a_status_is_refused_at_once():
    from enum import StrEnum

    class Light(StrEnum):
        RED = "red"
        GREEN = "green"

    with pytest.raises(ValueError, match="green"):
        Transitions("light", Light, {Light.RED: {Light.GREEN}})


def test_check_constraints_are_derived_from_the_vocabulary():
    from portal.domain.notifications.states import OutboxStatus

    assert sql_in("status", OutboxStatus) == "status IN ('pending', 'sent', 'dead')"
    with pytest.raises(ValueError):
        sql_in("status", ["x'); DROP TABLE t; --"])  # type: ignore[list-item]
