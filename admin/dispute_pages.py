"""The staff side of disputes: the queues (VIEW_DISPUTES; the "all" tab VIEW_ALL_DISPUTES)."""

from __future__ import annotations

from flask import render_template, request

from portal.domain.disputes.queries import QUEUE_STATUS_FILTERS, QUEUE_TAB_LABELS, reason_choices, staff_queue
from portal.domain.disputes.states import STATUS_LABELS, DisputeStatus
from portal.domain.staff.policy import Permission, allows
from portal.forms.staff_disputes import queue_query
from portal.web.context import db, services

from . import bp
from .permissions import requires
from .session import current_staff

STATUS_FILTER_LABELS = {"active": "Open (any active state)", "all": "Any state",
                        **{str(status): STATUS_LABELS[status] for status in DisputeStatus}}


def _queue_page(tab: str | None):
    staff = current_staff().staff
    reasons = reason_choices(db())
    query = queue_query(request.args, reasons={code for code, _ in reasons}, tab=tab)
    queue = staff_queue(db(), staff.id, query, services().clock.now())
    tabs = [name for name in QUEUE_TAB_LABELS if name != "all" or allows(staff.role, Permission.VIEW_ALL_DISPUTES)]
    return render_template("admin/disputes.html", queue=queue, tabs=tabs, tab_labels=QUEUE_TAB_LABELS,
                           reasons=reasons, status_filters=[(s, STATUS_FILTER_LABELS[s]) for s in QUEUE_STATUS_FILTERS])


@bp.get("/disputes")
@requires(Permission.VIEW_DISPUTES)
def disputes():
    return _queue_page(None)


@bp.get("/disputes/all")
@requires(Permission.VIEW_ALL_DISPUTES)
def disputes_all():
    return _queue_page("all")
