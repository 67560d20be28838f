"""A new admin's first sign-in in Chromium: password, then the authenticator set-up before
anything else, then the admin pages (staff, teams, routing rules), at phone and desktop widths.
Screenshots land in test-artifacts/ for a person to look at."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.routing.service import RuleDetails, create_rule
from portal.domain.staff.credentials import totp_code
from portal.domain.staff.service import TeamDetails, create_team
from tests.browser.page_checks import screenshots_at_widths
from tests.support.factories import STAFF_PASSWORD, make_staff

pytestmark = pytest.mark.browser



def _shot(page: Page, name: str) -> None:
    screenshots_at_widths(page, f"staff-{name}")


@pytest.mark.parametrize("width", [1280, 390])
def test_a_new_admin_enrols_a_second_factor_then_manages_routing(page: Page, db, clock, live_server, width):
    admin = make_staff(db, clock, role="admin", name="Ada Admin", email="ada@northwind.example", totp_secret="")
    analyst = make_staff(db, clock, name="Ana Analyst")
    ctx = Context(db, clock, Actor.system("test"))
    team = create_team(ctx, TeamDetails("Disputes Americas", "America/New_York", "12345", 540, 1020, True),
                       [analyst.id])
    create_rule(ctx, RuleDetails("Large USD disputes", team.id, "least_open_load", "high", 4, 3, currency="USD",
                                 min_amount_minor=1_000_000))
    db.commit()
    page.set_viewport_size({"width": width, "height": 900})
    page.set_default_timeout(10_000)

    page.goto(f"{live_server.url}/admin/routing")
    expect(page).to_have_url(re.compile(r"/admin/sign-in\?next=/admin/routing$"))
    page.get_by_label("Email address").fill(admin.email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    if width == 1280:
        _shot(page, "sign-in")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Set up your authenticator")).to_be_visible()
    expect(page.get_by_text("Your role needs a second factor")).to_be_visible()
    secret = page.locator("input[name=secret]").input_value()
    if width == 1280:
        _shot(page, "totp")
    # Nothing else opens before the set-up is done.
    page.goto(f"{live_server.url}/admin/staff")
    expect(page.get_by_role("heading", name="Set up your authenticator")).to_be_visible()
    secret = page.locator("input[name=secret]").input_value()
    page.get_by_label("Code").fill(totp_code(secret, clock.now()))
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_text("Your authenticator is set up")).to_be_visible()
    expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()
    if width == 1280:
        _shot(page, "dashboard")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Routing rules").click()
    expect(page.get_by_role("link", name="Large USD disputes")).to_be_visible()
    expect(page.get_by_text("$10,000.00")).to_be_visible()
    if width == 1280:
        _shot(page, "routing")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Teams", exact=True).click()
    expect(page.get_by_text("Ana Analyst")).to_be_visible()
    if width == 1280:
        _shot(page, "teams")
        page.get_by_role("link", name="Disputes Americas").click()
        _shot(page, "team-form")
        page.goto(f"{live_server.url}/admin/routing/new")
        _shot(page, "rule-form")
        page.goto(f"{live_server.url}/admin/staff")
        _shot(page, "staff")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{live_server.url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/sign-in"))
