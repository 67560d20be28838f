"""The outbox's dead letters (MANAGE_OUTBOX: admins, supervisors): the emails the sender gave
up on, and sending one again (`POST /admin/outbox/dead/<id>/retry`, audited)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from portal.domain.core.errors import InvalidTransition, NotFound
from portal.domain.notifications.queries import MAX_DEAD_PAGE, dead_letters as dead_letter_page
from portal.domain.notifications.service import retry_dead_message
from portal.domain.staff.policy import Permission
from portal.forms.fields import small_number
from portal.web.context import db, request_context

from . import bp
from .auth import staff_actor
from .permissions import requires

# Message ids are database integers: a path segment of more digits, or anything else, is not
# one of ours (404 before any query).
MAX_MESSAGE_ID_DIGITS = 12


@bp.get("/outbox/dead")
@requires(Permission.MANAGE_OUTBOX)
def dead_letters():
    page = small_number(request.args.get("page"), 1, MAX_DEAD_PAGE)
    return render_template("admin/dead_letters.html", listing=dead_letter_page(db(), page))


@bp.post("/outbox/dead/<message_id>/retry")
@requires(Permission.MANAGE_OUTBOX)
def dead_letter_retry(message_id: str):
    if not (message_id.isascii() and message_id.isdigit() and len(message_id) <= MAX_MESSAGE_ID_DIGITS):
        abort(404)
    try:
        retry_dead_message(request_context(staff_actor()), int(message_id))
    except NotFound:
        db().rollback()
        abort(404)
    except InvalidTransition:
        db().rollback()
        flash("That message is no longer dead: it was retried already.", "warning")
        return redirect(url_for("admin.dead_letters"))
    flash("The message is queued again; the outbox sends it on its next run.", "success")
    return redirect(url_for("admin.dead_letters"))
