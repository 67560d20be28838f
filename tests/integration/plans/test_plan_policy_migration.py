"""Migration 0020 on a database with customers and a running plan: down to 0019 and up again
keeps every row (customers come back not on hold); the database itself refuses a second
policy row, a value outside its range and a second proposed schedule for one plan."""

from __future__ import annotations

from datetime import date, datetime, UTC

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from portal import migrate
from portal.domain.customers.models import Customer
from portal.domain.plans.policy import POLICY_BOUNDS, PlanPolicy, policy_values
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.plans import make_test_plan

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


@pytest.fixture
def running_plan(db, clock):
    customer = make_customer(db, clock, name="Acme Corp")
    plan = make_test_plan(db, clock, make_contact(db, clock, customer), [make_invoice(db, clock, customer)])
    db.commit()
    return customer, plan


def _insert_policy(connection, **changes) -> None:
    row_id = changes.pop("id", 1)
    values = {**policy_values(PlanPolicy()), **changes}
    columns = ", ".join(["id", *values, "updated_by", "updated_at"])
    marks = ", ".join([":id", *(f":{k}" for k in values), ":updated_by", ":updated_at"])
    connection.execute(text(f"INSERT INTO plan_policy ({columns}) VALUES ({marks})"),
                       {"id": row_id, **values, "updated_by": "t", "updated_at": NOW})


def _insert_amendment(connection, plan_id: int, public_id: str, status: str = "proposed") -> None:
    connection.execute(text(
        "INSERT INTO plan_amendments (public_id, plan_id, status, installment_count, cadence, first_due_on, "
        "remaining_minor, reason, proposed_by, created_at) VALUES (:p, :plan, :s, 2, 'monthly', :d, 100, 'r', 's', :t)"),
        {"p": public_id, "plan": plan_id, "s": status, "d": date(2026, 7, 1), "t": NOW})


def test_down_and_up_again_keeps_the_rows(database_url, engine, db, running_plan):
    customer, plan = running_plan
    db.close()
    engine.dispose()
    migrate.downgrade(database_url, "0019")
    engine.dispose()
    migrate.upgrade(database_url)
    with engine.connect() as connection:
        assert connection.execute(select(Customer.on_hold, Customer.hold_reason)
                                  .where(Customer.id == customer.id)).one() == (False, "")
        assert connection.scalar(text("SELECT count(*) FROM plans")) == 1
        assert connection.scalar(text("SELECT count(*) FROM plan_installments")) == 3


@pytest.mark.parametrize("changes", [
    *({field: low - 1} for field, (low, _) in POLICY_BOUNDS.items()),
    *({field: high + 1} for field, (_, high) in POLICY_BOUNDS.items()),
    {"id": 2},
])
def test_the_database_refuses_a_policy_outside_its_bounds_or_a_second_row(engine, db, changes):
    db.close()
    with pytest.raises(IntegrityError), engine.begin() as connection:
        _insert_policy(connection, **changes)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM plan_policy")) == 0


def test_one_plan_has_at_most_one_proposed_schedule(engine, db, running_plan):
    _, plan = running_plan
    db.close()
    with engine.begin() as connection:
        _insert_amendment(connection, plan.id, "a" * 22)
        _insert_amendment(connection, plan.id, "b" * 22, status="superseded")
    with pytest.raises(IntegrityError), engine.begin() as connection:
        _insert_amendment(connection, plan.id, "c" * 22)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(text("plan_amendments"))) == 2
