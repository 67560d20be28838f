"""Settings: one top-bar link to the pages that set the portal up, each listed only for a role
that may open it, and every one it lists opens for that role."""

from __future__ import annotations

import re

import pytest
from flask import url_for

from admin.settings_pages import SETTINGS
from portal.domain.staff.policy import allows
from portal.domain.staff.states import StaffRole
from tests.support.factories import make_staff, staff_sign_in


def _client(app, db, clock, role):
    member = make_staff(db, clock, role=role, name=f"{role.title()} Member")
    client = app.test_client()
    staff_sign_in(client, member, clock)
    return client


def _settings_links(html: str) -> list[str]:
    listing = html.split('class="settings-list"', 1)[1] if 'class="settings-list"' in html else ""
    return re.findall(r'<a href="([^"]+)"><strong>', listing)


@pytest.mark.parametrize("role", [role.value for role in StaffRole])
def test_settings_lists_what_the_role_may_open_and_each_opens(app, db, clock, role):
    client = _client(app, db, clock, role)
    response = client.get("/admin/settings")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    allowed = [setting for setting in SETTINGS if allows(role, setting.permission)]
    with app.test_request_context():
        expected = [url_for(setting.endpoint) for setting in allowed]
    assert _settings_links(html) == expected
    for path in expected:
        assert client.get(path).status_code == 200, path
    for setting in SETTINGS:
        if setting not in allowed:
            with app.test_request_context():
                        assert client.get(url_for(setting.endpoint)).status_code == 403
    nav = html.split('aria-label="Admin"', 1)[1].split("</nav>", 1)[0]
    assert ('href="/admin/settings"' in nav) == bool(allowed)


def test_the_top_bar_marks_settings_on_a_settings_page_and_not_on_a_queue(app, db, clock):
    client = _client(app, db, clock, "admin")
    on_teams = client.get("/admin/teams").get_data(as_text=True)
    assert re.search(r'href="/admin/settings" aria-current="page"', on_teams)
    on_plans = client.get("/admin/plans").get_data(as_text=True)
    assert not re.search(r'href="/admin/settings" aria-current="page"', on_plans)
    assert re.search(r'href="/admin/plans" aria-current="page"', on_plans)
    on_policy = client.get("/admin/plan-policy").get_data(as_text=True)
    assert re.search(r'href="/admin/settings" aria-current="page"', on_policy)
    assert not re.search(r'href="/admin/plans" aria-current="page"', on_policy)
