"""A8: nobody reaches a staff page they should not, on any admin route, by any method.

The sweep reads `app.url_map` at run time, so admin pages added later are covered without
touching this file:

- every admin view must declare a permission (`admin.permissions`); the only public ones are
  the sign-in pages;
- anonymous visitors and signed-in customers get a redirect to the staff sign-in (or 401/403)
  for every other route and method, never a page;
- each role gets exactly what `ROLES_BY_PERMISSION` says: a route whose permission the role
  lacks answers 403, one it has passes the guard (whatever the view then answers).

Positive controls: an undeclared admin route is found by the declaration check and refused
at run time; GET routes with an id show a page (200) to a role allowed to see it.
"""

from __future__ import annotations

from itertools import product

import pytest
from sqlalchemy import select

from admin.permissions import PUBLIC, declared_permission
from portal.domain.routing.models import RoutingRule
from portal.domain.routing.service import RuleDetails, create_rule
from portal.domain.staff.models import StaffMember, Team
from portal.domain.staff.policy import ROLES_BY_PERMISSION, Permission, allows
from portal.domain.staff.service import TeamDetails, create_team
from portal.domain.staff.states import StaffRole
from portal.domain.attachments.models import StoredFile
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.customers.models import Customer
from portal.domain.disputes.models import Dispute
from portal.domain.payments.models import Payment
from portal.domain.followups.models import Followup
from portal.domain.followups.service import raise_followup
from portal.domain.followups.states import FollowupKind
from portal.domain.plans.models import Plan
from tests.support import attachment_files as files
from tests.support.disputes import raise_test_dispute, uploads
from tests.support.factories import (
    make_allocated_payment, make_contact, make_customer, make_invoice, make_staff, sign_in, staff_sign_in,
)
from tests.support.followups import report_test_payment
from tests.support.plans import make_test_plan
from tests.support.fixtures.links import is_id_argument, methods_of, rule_path, swept_rules

PUBLIC_ENDPOINTS = {"admin.sign_in", "admin.sign_in_submit"}
SIGN_IN_PATH = "/admin/sign-in"
SECRET_MARKER = "marker-staff@northwind.example"


def admin_rules(app):
    rules = [rule for rule in swept_rules(app) if rule.endpoint.split(".")[0] == "admin"]
    assert len(rules) >= 10, "the admin blueprint has lost its routes: the sweep would prove nothing"
    return rules


def undeclared_admin_views(app) -> list[str]:
    return sorted(rule.endpoint for rule in admin_rules(app)
                  if declared_permission(app.view_functions[rule.endpoint]) is None)


@pytest.fixture
def sweep_app(app):
    app.config["WTF_CSRF_ENABLED"] = False  # A10 sweeps CSRF; here every request must reach the guard
    return app


@pytest.fixture
def world(db, clock, file_storage):
    """One of each admin object (a member, a team, a rule, a dispute with a file), to put real
    ids in the paths."""
    marker = make_staff(db, clock, role=StaffRole.ANALYST, email=SECRET_MARKER, name="Marker Member")
    ctx = Context(db, clock, Actor.system("test"))
    team = create_team(ctx, TeamDetails("Sweep team", "UTC", "12345", 540, 1020), [marker.id])
    create_rule(ctx, RuleDetails("Sweep rule", team.id, "round_robin", "normal", 8, 5))
    customer = make_customer(db, clock)
    invoice = make_invoice(db, clock, customer)
    contact = make_contact(db, clock, customer)
    raise_test_dispute(db, clock, contact, [invoice],
                       files=uploads(file_storage, ("delivery note.pdf", files.tiny_pdf())))
    make_allocated_payment(db, clock, customer, [(invoice, 1_000)], status="succeeded")
    make_test_plan(db, clock, contact, [make_invoice(db, clock, customer)])
    raise_followup(ctx, kind=FollowupKind.NEEDS_PO, customer_id=customer.id, invoice_ids=[invoice.id],
                   details={"po_number": "PO-1"}, contact_id=contact.id, request_key="sweep-po-followup")
    report_test_payment(db, clock, contact, [make_invoice(db, clock, customer)],
                        files=uploads(file_storage, ("remittance.pdf", files.tiny_pdf())))
    db.commit()
    return sorted({*db.scalars(select(StaffMember.public_id)), *db.scalars(select(Team.public_id)),
                   *db.scalars(select(RoutingRule.public_id)), *db.scalars(select(Dispute.public_id)),
                   *db.scalars(select(StoredFile.public_id)), *db.scalars(select(Payment.public_id)),
                   *db.scalars(select(Plan.public_id)), *db.scalars(select(Followup.public_id)),
                   *db.scalars(select(Customer.public_id))})


def _guarded(app):
    return [rule for rule in admin_rules(app) if rule.endpoint not in PUBLIC_ENDPOINTS]


def _refused_as_signed_out(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and response.headers["Location"].startswith(SIGN_IN_PATH)


def test_every_admin_view_declares_a_permission(app):
    assert undeclared_admin_views(app) == []
    public = {rule.endpoint for rule in admin_rules(app)
              if declared_permission(app.view_functions[rule.endpoint]) is PUBLIC}
    assert public == PUBLIC_ENDPOINTS


def test_an_undeclared_admin_route_is_caught_and_refused(sweep_app, db, clock):
    """Positive control: a view added without a declaration fails the check above and is
    refused at run time, even to an admin."""
    sweep_app.add_url_rule("/admin/undeclared", endpoint="admin.undeclared", view_func=lambda: SECRET_MARKER)
    assert undeclared_admin_views(sweep_app) == ["admin.undeclared"]
    client = sweep_app.test_client()
    staff_sign_in(client, make_staff(db, clock, role=StaffRole.ADMIN), clock)
    response = client.get("/admin/undeclared")
    assert response.status_code == 403 and SECRET_MARKER.encode() not in response.get_data()


@pytest.mark.parametrize("who", ["anonymous", "customer"])
def test_signed_out_visitors_and_customers_reach_no_staff_page(sweep_app, db, clock, acme, world, who):
    failures, count = [], 0
    for rule in _guarded(sweep_app):
        for object_id in world if any(is_id_argument(a) for a in rule.arguments) else [None]:
            path = rule_path(rule, {name: object_id for name in rule.arguments if is_id_argument(name)})
            for method in methods_of(rule):
                client = sweep_app.test_client()
                if who == "customer":
                    sign_in(client, acme.contact, clock)
                response = client.open(path, method=method)
                count += 1
                if not _refused_as_signed_out(response) or SECRET_MARKER.encode() in response.get_data():
                    failures.append(f"{method} {path} ({rule.endpoint}) → {response.status_code}")
    assert failures == [], "\n".join(failures)
    assert count >= 20


@pytest.mark.parametrize("role", list(StaffRole))
def test_each_role_gets_exactly_what_the_permission_table_says(sweep_app, db, clock, world, role):
    member = make_staff(db, clock, role=role)
    failures, allowed_count, denied_count = [], 0, 0
    for rule in _guarded(sweep_app):
        permission = declared_permission(sweep_app.view_functions[rule.endpoint])
        allowed = allows(role, permission)
        for method in methods_of(rule):
            # An unknown id: an allowed view answers 404 (after the guard), a refused one 403.
            client = sweep_app.test_client()
            staff_sign_in(client, member, clock)
            response = client.open(rule_path(rule, filler="no-such-id"), method=method)
            # The session is live, so the guard refuses only with 403 (or sends an admin without
            # a second factor to enrol); signing out itself redirects to the sign-in page.
            location = response.headers.get("Location", "")
            passed_guard = response.status_code != 403 and not location.startswith("/admin/account/totp")
            if passed_guard != allowed:
                failures.append(f"{role}: {method} {rule.rule} ({permission}) → {response.status_code} {location}")
            if allowed:
                allowed_count += 1
            else:
                denied_count += 1
    assert failures == [], "\n".join(failures)
    assert allowed_count >= 5  # every role has its dashboard and account pages at least
    if role != StaffRole.ADMIN:
        assert denied_count > 0


@pytest.mark.parametrize("role", list(StaffRole))
def test_positive_control_allowed_pages_with_an_id_show_their_object(sweep_app, db, clock, world, role):
    member = make_staff(db, clock, role=role)
    unreached = []
    for rule in _guarded(sweep_app):
        if "GET" not in rule.methods or not any(is_id_argument(a) for a in rule.arguments):
            continue
        if not allows(role, declared_permission(sweep_app.view_functions[rule.endpoint])):
            continue
        client = sweep_app.test_client()
        staff_sign_in(client, member, clock)
        # Every assignment of the world's ids to the rule's id arguments (a dispute's file needs
        # the dispute's id and the file's); buffered: a download is read and closed.
        names = sorted(name for name in rule.arguments if is_id_argument(name))
        statuses = [client.get(rule_path(rule, dict(zip(names, ids, strict=True))), buffered=True).status_code
                    for ids in product(world, repeat=len(names))]
        if 200 not in statuses:
            unreached.append(f"{role}: {rule.rule} ({rule.endpoint}): add its object to the world fixture")
    assert unreached == [], "\n".join(unreached)


def test_the_sweep_covers_the_report_pages(app):
    """The numbers page is swept like every other: declared VIEW_REPORTS, so supervisors and
    admins pass the guard and analysts and collectors get 403 (the tests above)."""
    swept = {rule.endpoint: rule for rule in _guarded(app)}
    assert swept["admin.numbers"].rule == "/admin/numbers"
    assert declared_permission(app.view_functions["admin.numbers"]) is Permission.VIEW_REPORTS


def test_the_table_names_every_permission_and_only_known_roles():
    assert set(ROLES_BY_PERMISSION) == set(Permission)
    assert all(roles <= set(StaffRole) for roles in ROLES_BY_PERMISSION.values())
