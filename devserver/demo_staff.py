"""The demo's staff side: one member of each role (two analysts), two teams with members and
business calendars, a few routing rules, and tags on some demo customers for them to match.

Everything is written through the product's services (`staff.service`, `routing.service`), so
the demo shows what an admin would have set up. Passwords are random: the demo runner gives
each member a fresh one at every start (`fresh_demo_passwords`) and prints it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock
from portal.domain.core.context import Context
from portal.domain.core.money import Money
from portal.domain.customers.models import Customer, CustomerTag
from portal.domain.routing.service import RuleDetails, create_rule
from portal.domain.staff.credentials import PasswordHasher
from portal.domain.staff.models import StaffMember
from portal.domain.staff.service import TeamDetails, create_staff, create_team, set_password

DEMO_ACTOR = Actor.system("demo")


@dataclass(frozen=True)
class DemoMember:
    email: str
    name: str
    role: str
    timezone: str
    away: bool = False


DEMO_STAFF = (
    DemoMember("admin@northwind.example", "Ada Admin", "admin", "America/New_York"),
    DemoMember("supervisor@northwind.example", "Sam Supervisor", "supervisor", "America/New_York"),
    DemoMember("ana.analyst@northwind.example", "Ana Analyst", "analyst", "America/New_York"),
    DemoMember("eli.analyst@northwind.example", "Eli Analyst", "analyst", "Europe/London"),
    DemoMember("rae.analyst@northwind.example", "Rae Analyst", "analyst", "Europe/London", away=True),
    DemoMember("collector@northwind.example", "Cole Collector", "collector", "America/New_York"),
)
# Customers (by name) that routing rules single out.
KEY_ACCOUNTS = ("Acme Corp",)


def _password() -> str:
    return secrets.token_urlsafe(12)


def seed_demo_staff(db: Session, clock: Clock, hasher: PasswordHasher | None = None) -> int:
    """Add the demo staff, teams and rules (the caller commits). Returns how many members."""
    hasher = hasher or PasswordHasher()
    ctx = Context(db, clock, DEMO_ACTOR)
    members = {m.email: create_staff(ctx, hasher, email=m.email, name=m.name, role=m.role, password=_password(),
                                     timezone=m.timezone, away=m.away) for m in DEMO_STAFF}
    ids = {email: member.id for email, member in members.items()}
    americas = create_team(ctx, TeamDetails("Disputes Americas", "America/New_York", "12345", 9 * 60, 17 * 60,
                                            is_fallback=True),
                           [ids["ana.analyst@northwind.example"], ids["supervisor@northwind.example"]])
    europe = create_team(ctx, TeamDetails("Disputes Europe", "Europe/London", "12345", 8 * 60 + 30, 17 * 60 + 30),
                         [ids["eli.analyst@northwind.example"], ids["rae.analyst@northwind.example"]])
    for customer in db.scalars(select(Customer).where(Customer.name.in_(KEY_ACCOUNTS))):
        db.add(CustomerTag(customer_id=customer.id, tag="key-account"))
    db.flush()
    for details in (
        RuleDetails("Key accounts", americas.id, "round_robin", "urgent", 2, 2, customer_tags=("key-account",)),
        RuleDetails("Large USD disputes", americas.id, "least_open_load", "high", 4, 3, currency="USD",
                    min_amount_minor=Money.parse("10,000", "USD").minor),
        RuleDetails("Euro and sterling accounts", europe.id, "round_robin", "normal", 8, 5, currency="EUR"),
        RuleDetails("Sterling accounts", europe.id, "round_robin", "normal", 8, 5, currency="GBP"),
        RuleDetails("Pricing and tax questions", americas.id, "least_open_load", "normal", 8, 5,
                    reasons=("pricing", "tax")),
    ):
        create_rule(ctx, details)
    return len(members)


def fresh_demo_passwords(db: Session, clock: Clock, hasher: PasswordHasher) -> list[tuple[StaffMember, str]]:
    """Give every demo member a new random password (the caller commits) and return them, in
    the order of `DEMO_STAFF`, to be printed."""
    ctx = Context(db, clock, DEMO_ACTOR)
    by_email = {member.email: member for member in db.scalars(
        select(StaffMember).where(StaffMember.email.in_([m.email for m in DEMO_STAFF])))}
    logins = []
    for demo in DEMO_STAFF:
        member = by_email.get(demo.email)
        if member is not None:
            password = _password()
            set_password(ctx, hasher, member, password)
            logins.append((member, password))
    return logins
