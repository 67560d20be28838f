"""The AR dashboard (VIEW_REPORTS): aging, DSO, CEI, cash collected and expected, disputes,
promises and reminders, per currency, as of now in the signed-in member's time zone."""

from __future__ import annotations

from fractions import Fraction
from zoneinfo import ZoneInfo

from flask import render_template

from portal.domain.disputes.policy import duration_text
from portal.domain.reports.policy import bar_widths
from portal.domain.reports.queries import ar_dashboard
from portal.domain.staff.policy import Permission
from portal.web.context import db, services

from . import bp
from .permissions import requires
from .session import current_staff


def days_text(days: Fraction | None) -> str:
    return "—" if days is None else f"{float(days):.1f} days"


def percent_text(value: Fraction | None) -> str:
    return "—" if value is None else f"{float(value):.1f} %"


def _zone(name: str | None) -> str:
    try:
        ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return "UTC"
    return name or "UTC"


@bp.get("/ar")
@requires(Permission.VIEW_REPORTS)
def ar():
    zone = _zone(current_staff().staff.timezone)
    return render_template("admin/ar.html", d=ar_dashboard(db(), services().clock.now(), zone),
                           days_text=days_text, percent_text=percent_text, duration=duration_text, bars=bar_widths)
