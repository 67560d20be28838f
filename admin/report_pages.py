"""The supervisors' numbers (VIEW_REPORTS): open disputes by age, reason and team; cycle times,
SLA breaches and credits over the last 90 days; the amount disputes hold."""

from __future__ import annotations

from flask import render_template

from portal.domain.disputes.policy import duration_text
from portal.domain.disputes.queries import MAX_CYCLE_SAMPLE, dispute_numbers
from portal.domain.staff.policy import Permission
from portal.web.context import db, services

from . import bp
from .permissions import requires


@bp.get("/numbers")
@requires(Permission.VIEW_REPORTS)
def numbers():
    return render_template("admin/numbers.html", numbers=dispute_numbers(db(), services().clock.now()),
                           duration=duration_text, max_sample=MAX_CYCLE_SAMPLE)
