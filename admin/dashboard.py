"""The admin start page: who is signed in, what their role may do, and where to go."""

from __future__ import annotations

from flask import render_template

from portal.domain.disputes.queries import open_dispute_count
from portal.domain.notifications.queries import dead_message_count
from portal.domain.staff.policy import Permission, permissions_of
from portal.domain.staff.queries import staff_list, team_list
from portal.domain.routing.service import rules_in_order
from portal.web.context import db

from . import bp
from .permissions import requires
from .session import current_staff


@bp.get("/")
@requires(Permission.STAFF)
def dashboard():
    staff = current_staff().staff
    permissions = permissions_of(staff.role)
    counts = {}
    if Permission.MANAGE_STAFF in permissions:
        counts["staff"] = len(staff_list(db()))
    if Permission.MANAGE_ROUTING in permissions:
        counts["teams"] = len(team_list(db()))
        counts["rules"] = len(rules_in_order(db()))
    if Permission.VIEW_REPORTS in permissions:
        counts["open_disputes"] = open_dispute_count(db())
    if Permission.MANAGE_OUTBOX in permissions:
        counts["dead_messages"] = dead_message_count(db())
    return render_template("admin/dashboard.html", staff=staff, permissions=sorted(permissions), counts=counts)
