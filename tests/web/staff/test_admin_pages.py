"""The admin pages do what they say: staff accounts, teams, routing rules, one's own account.
Each change leaves one audit row (SECURITY.md L1); a refused form changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.domain.core.models import AuditEntry
from portal.domain.routing.models import RoutingRule
from portal.domain.staff.models import StaffMember, StaffSession, Team
from tests.support.factories import STAFF_PASSWORD, make_customer, make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from


def _admin_client(app, db, clock):
    admin = make_staff(db, clock, role="admin", name="Ada Admin")
    client = app.test_client()
    staff_sign_in(client, admin, clock)
    return admin, client


def _count(db, model, *where) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _actions(db) -> list[str]:
    db.commit()
    return list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_an_admin_creates_a_staff_member_who_can_then_sign_in(app, db, clock):
    _, client = _admin_client(app, db, clock)
    page = client.get("/admin/staff/new")
    form = {"csrf_token": csrf_from(page), "email": "New.Analyst@Northwind.example", "name": "Nia New",
            "role": "analyst", "timezone": "Europe/Paris", "status": "active", "password": STAFF_PASSWORD}
    response = client.post("/admin/staff/new", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/staff"
    listing = client.get("/admin/staff").get_data(as_text=True)
    assert "Nia New" in listing and "new.analyst@northwind.example" in listing
    assert "staff.created" in _actions(db)
    # The same address in other capitals is the same account.
    again = client.post("/admin/staff/new", data={**form, "email": "NEW.ANALYST@northwind.example"})
    assert again.status_code == 400 and "already has a staff account" in again.get_data(as_text=True)
    assert _count(db, StaffMember, StaffMember.email == "new.analyst@northwind.example") == 1
    other = app.test_client()
    sign_in_page = other.get("/admin/sign-in")
    signed_in = other.post("/admin/sign-in", data={"csrf_token": csrf_from(sign_in_page),
                                                   "email": "new.analyst@northwind.example",
                                                   "password": STAFF_PASSWORD})
    assert signed_in.status_code == 302


def test_bad_staff_input_is_refused_with_a_message_and_writes_nothing(app, db, clock):
    _, client = _admin_client(app, db, clock)
    page = client.get("/admin/staff/new")
    base = {"csrf_token": csrf_from(page), "email": "x@northwind.example", "name": "X", "role": "analyst",
            "timezone": "UTC", "status": "active", "password": STAFF_PASSWORD}
    for change, message in [({"password": "short"}, "at least 12"), ({"role": "root"}, "Not a valid choice"),
                            ({"timezone": "Mars/Base"}, "time zone"), ({"email": "not-an-address"}, "email")]:
        response = client.post("/admin/staff/new", data={**base, **change})
        assert response.status_code == 400 and message in response.get_data(as_text=True), change
    assert _count(db, StaffMember) == 1  # the admin only
    assert "staff.created" not in _actions(db)


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(app, db, clock):
    admin, client = _admin_client(app, db, clock)
    page = client.get(f"/admin/staff/{admin.public_id}")
    form = {"csrf_token": csrf_from(page), "name": admin.name, "role": "supervisor", "timezone": "UTC",
            "status": "active"}
    refused = client.post(f"/admin/staff/{admin.public_id}", data=form)
    assert refused.status_code == 400 and "last active admin" in refused.get_data(as_text=True)
    refused = client.post(f"/admin/staff/{admin.public_id}", data={**form, "role": "admin", "status": "deactivated"})
    assert refused.status_code == 400
    db.refresh(admin)
    assert (admin.role, admin.status) == ("admin", "active")


def test_teams_with_members_and_one_fallback(app, db, clock):
    _, client = _admin_client(app, db, clock)
    ana, bo = make_staff(db, clock, name="Ana Analyst"), make_staff(db, clock, name="Bo Analyst")
    page = client.get("/admin/teams/new")
    form = {"csrf_token": csrf_from(page), "name": "Pricing", "timezone": "America/Chicago",
            "business_days": ["1", "2", "3", "4", "5"], "opens": "08:30", "closes": "17:00", "is_fallback": "y",
            "members": [ana.public_id, bo.public_id]}
    assert client.post("/admin/teams/new", data=form).status_code == 302
    assert client.post("/admin/teams/new", data={**form, "name": "General", "members": [bo.public_id]}
                       ).status_code == 302
    db.commit()
    teams = {team.name: team for team in db.scalars(select(Team))}
    assert not teams["Pricing"].is_fallback and teams["General"].is_fallback  # the fallback moved
    assert sorted(m.staff_id for m in teams["Pricing"].memberships) == sorted([ana.id, bo.id])
    assert (teams["Pricing"].opens_minute, teams["Pricing"].closes_minute) == (510, 1020)
    listing = client.get("/admin/teams").get_data(as_text=True)
    assert "08:30–17:00" in listing and "Ana Analyst" in listing
    bad = client.post("/admin/teams/new", data={**form, "name": "Late", "opens": "18:00", "closes": "09:00"})
    assert bad.status_code == 400 and "open before they close" in bad.get_data(as_text=True)
    dup = client.post("/admin/teams/new", data={**form, "name": "pricing"})
    assert dup.status_code == 400 and "exists already" in dup.get_data(as_text=True)
    assert _count(db, Team) == 2
    edit = client.get(f"/admin/teams/{teams['Pricing'].public_id}")
    changed = client.post(f"/admin/teams/{teams['Pricing'].public_id}", data={
        **form, "csrf_token": csrf_from(edit), "is_fallback": "", "members": [ana.public_id]})
    assert changed.status_code == 302
    db.expire_all()
    assert [m.staff_id for m in db.get(Team, teams["Pricing"].id).memberships] == [ana.id]
    assert _actions(db).count("team.created") == 2 and "team.updated" in _actions(db)


def test_routing_rules_are_added_edited_reordered_and_deleted(app, db, clock):
    _, client = _admin_client(app, db, clock)
    customer = make_customer(db, clock, name="Globex")
    page = client.get("/admin/teams/new")
    client.post("/admin/teams/new", data={"csrf_token": csrf_from(page), "name": "Disputes", "timezone": "UTC",
                                          "business_days": ["1", "2", "3", "4", "5"], "opens": "09:00",
                                          "closes": "17:00"})
    db.commit()
    team = db.scalar(select(Team))
    page = client.get("/admin/routing/new")
    form = {"csrf_token": csrf_from(page), "name": "Big USD", "active": "y", "team": team.public_id,
            "strategy": "least_open_load", "priority": "high", "first_response_hours": "4", "resolution_days": "5",
            "currency": "usd", "min_amount": "10,000.00", "max_amount": "", "customer": "", "tags": ""}
    assert client.post("/admin/routing/new", data=form).status_code == 302
    assert client.post("/admin/routing/new", data={
        **form, "name": "Globex damage", "currency": "", "min_amount": "", "reasons": ["damaged"],
        "customer": customer.account_number, "tags": "Key-Account, retail"}).status_code == 302
    db.commit()
    big, globex = db.scalars(select(RoutingRule).order_by(RoutingRule.position)).all()
    assert (big.currency, big.min_amount_minor, big.max_amount_minor) == ("USD", 1_000_000, None)
    assert (globex.customer_id, globex.customer_tags, globex.reasons) == (customer.id, ["key-account", "retail"],
                                                                          ["damaged"])
    listing = client.get("/admin/routing").get_data(as_text=True)
    assert listing.index("Big USD") < listing.index("Globex damage") and "$10,000.00" in listing

    for change, message in [({"min_amount": "1e999", "name": "x"}, "digits"),
                            ({"currency": "", "name": "y"}, "needs a currency"),
                            ({"currency": "XYZ", "name": "z"}, "Unsupported currency"),
                            ({"min_amount": "500", "max_amount": "100", "name": "w"}, "must not be above"),
                            ({"customer": "C-NOPE", "name": "v"}, "No customer"),
                            ({"first_response_hours": "0", "name": "u"}, "between 1 and")]:
        response = client.post("/admin/routing/new", data={**form, **change})
        assert response.status_code == 400 and message in response.get_data(as_text=True), change
    assert _count(db, RoutingRule) == 2

    page = client.get("/admin/routing")
    assert client.post(f"/admin/routing/{globex.public_id}/move", data={"csrf_token": csrf_from(page),
                                                                        "direction": "up"}).status_code == 302
    db.expire_all()
    assert [rule.name for rule in db.scalars(select(RoutingRule).order_by(RoutingRule.position))] == [
        "Globex damage", "Big USD"]
    edit = client.get(f"/admin/routing/{big.public_id}")
    assert 'value="10000.00"' in edit.get_data(as_text=True)
    assert client.post(f"/admin/routing/{big.public_id}", data={**form, "csrf_token": csrf_from(edit),
                                                                "max_amount": "50000"}).status_code == 302
    db.expire_all()
    assert db.get(RoutingRule, big.id).max_amount_minor == 5_000_000
    assert client.post(f"/admin/routing/{big.public_id}/delete", data={"csrf_token": csrf_from(edit)}
                       ).status_code == 302
    assert _count(db, RoutingRule) == 1
    actions = _actions(db)
    assert [a for a in actions if a.startswith("routing_rule.")] == [
        "routing_rule.created", "routing_rule.created", "routing_rule.moved", "routing_rule.updated",
        "routing_rule.deleted"]


def test_a_member_marks_themselves_away_and_changes_their_password(app, db, clock):
    member = make_staff(db, clock, role="collector")
    client, other = app.test_client(), app.test_client()
    staff_sign_in(client, member, clock)
    staff_sign_in(other, member, clock)
    page = client.get("/admin/account")
    assert client.post("/admin/account/away", data={"csrf_token": csrf_from(page), "away": "y"}).status_code == 302
    db.refresh(member)
    assert member.away
    assert "marked away" in client.get("/admin/").get_data(as_text=True)
    wrong = client.post("/admin/account/password", data={"csrf_token": csrf_from(page), "current": "nope nope nope",
                                                         "new": "a brand new passphrase"})
    assert wrong.status_code == 400 and "current password is not right" in wrong.get_data(as_text=True)
    ok = client.post("/admin/account/password", data={"csrf_token": csrf_from(page), "current": STAFF_PASSWORD,
                                                      "new": "a brand new passphrase"})
    assert ok.status_code == 302
    assert client.get("/admin/").status_code == 200       # this session goes on
    assert other.get("/admin/").status_code == 302        # the other one ended
    assert _count(db, StaffSession, StaffSession.ended_at.is_(None)) == 1
    assert {"staff.away", "staff.password_changed"} <= set(_actions(db))


def test_every_post_form_on_the_admin_pages_carries_a_csrf_token(app, db, clock):
    import re

    admin, client = _admin_client(app, db, clock)
    page = client.get("/admin/teams/new")
    client.post("/admin/teams/new", data={"csrf_token": csrf_from(page), "name": "T", "timezone": "UTC",
                                          "business_days": ["1"], "opens": "09:00", "closes": "17:00"})
    db.commit()
    team = db.scalar(select(Team))
    page = client.get("/admin/routing/new")
    client.post("/admin/routing/new", data={"csrf_token": csrf_from(page), "name": "R", "team": team.public_id,
                                            "strategy": "round_robin", "priority": "low",
                                            "first_response_hours": "1", "resolution_days": "1"})
    db.commit()
    rule = db.scalar(select(RoutingRule))
    paths = ["/admin/", "/admin/account", "/admin/account/totp", "/admin/confirm-identity", "/admin/staff",
             "/admin/staff/new", f"/admin/staff/{admin.public_id}", "/admin/teams", "/admin/teams/new",
             f"/admin/teams/{team.public_id}", "/admin/routing", "/admin/routing/new", f"/admin/routing/{rule.public_id}"]
    forms = []
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        forms += re.findall(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", response.get_data(as_text=True),
                            re.IGNORECASE | re.DOTALL)
    forms += re.findall(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>",
                        app.test_client().get("/admin/sign-in").get_data(as_text=True), re.IGNORECASE | re.DOTALL)
    assert len(forms) >= 15
    assert all('name="csrf_token"' in form for form in forms)
