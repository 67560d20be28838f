"""Outgoing webhooks to the ERP (MANAGE_WEBHOOKS: admins): the endpoints (add, with the
signing secret shown once; disable, enable, delete; send a test event) and the latest
deliveries, a dead one sent again from here. Every action is audited by the domain."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from portal.domain.core.errors import DomainError, InvalidTransition, NotFound
from portal.domain.staff.policy import Permission
from portal.domain.webhooks.queries import webhooks_page
from portal.domain.webhooks.service import (
    add_endpoint, delete_endpoint, retry_dead_delivery, send_test_event, set_endpoint_enabled,
)
from portal.domain.webhooks.states import EVENT_TYPE_LABELS
from portal.forms.webhooks import WebhookEndpointForm
from portal.web.context import db, request_context, services

from . import bp
from .auth import staff_actor
from .permissions import requires

MAX_DELIVERY_ID_DIGITS = 12
PUBLIC_ID_LENGTH = 22


def _page(form: WebhookEndpointForm | None = None, *, new_secret: str | None = None, new_url: str = "",
          error: str | None = None, status: int = 200):
    return render_template("admin/webhooks.html", page=webhooks_page(db()), form=form or WebhookEndpointForm(),
                           new_secret=new_secret, new_url=new_url, error=error, labels=EVENT_TYPE_LABELS), status


@bp.get("/webhooks")
@requires(Permission.MANAGE_WEBHOOKS)
def webhooks():
    return _page()


@bp.post("/webhooks")
@requires(Permission.MANAGE_WEBHOOKS)
def webhook_add():
    form = WebhookEndpointForm(request.form)
    settings = services().settings
    try:
        form.checked()
        created = add_endpoint(request_context(staff_actor()), url=form.url.data, description=form.description.data,
                               event_types=form.event_types.data or [], mode=settings.mode,
                               allow_private=settings.webhook_allow_private_addresses)
    except DomainError as refused:  # the form's own refusals (InvalidInput) too
        db().rollback()
        return _page(form, error=refused.message, status=400)
    # The secret is on this answer only (no redirect, no flash: nothing keeps it).
    return _page(new_secret=created.secret, new_url=created.endpoint.url)


def _endpoint_id(endpoint_id: str) -> str:
    if not (len(endpoint_id) <= PUBLIC_ID_LENGTH and endpoint_id.isascii()
            and endpoint_id.replace("-", "").replace("_", "").isalnum()):
        abort(404)
    return endpoint_id


def _endpoint_action(endpoint_id: str, action, done: str):
    try:
        action(request_context(staff_actor()), _endpoint_id(endpoint_id))
    except NotFound:
        db().rollback()
        abort(404)
    except DomainError as refused:
        db().rollback()
        flash(refused.message, "warning")
        return redirect(url_for("admin.webhooks"))
    flash(done, "success")
    return redirect(url_for("admin.webhooks"))


@bp.post("/webhooks/<endpoint_id>/disable")
@requires(Permission.MANAGE_WEBHOOKS)
def webhook_disable(endpoint_id: str):
    return _endpoint_action(endpoint_id, lambda ctx, public_id: set_endpoint_enabled(ctx, public_id, False),
                            "The endpoint is disabled: nothing is sent to it until it is enabled again.")


@bp.post("/webhooks/<endpoint_id>/enable")
@requires(Permission.MANAGE_WEBHOOKS)
def webhook_enable(endpoint_id: str):
    return _endpoint_action(endpoint_id, lambda ctx, public_id: set_endpoint_enabled(ctx, public_id, True),
                            "The endpoint is enabled.")


@bp.post("/webhooks/<endpoint_id>/delete")
@requires(Permission.MANAGE_WEBHOOKS)
def webhook_delete(endpoint_id: str):
    return _endpoint_action(endpoint_id, delete_endpoint, "The endpoint and its deliveries are deleted.")


@bp.post("/webhooks/<endpoint_id>/test")
@requires(Permission.MANAGE_WEBHOOKS)
def webhook_test(endpoint_id: str):
    return _endpoint_action(endpoint_id, send_test_event,
                            "A test event is queued; send-webhooks delivers it on its next run.")


@bp.post("/webhooks/deliveries/<delivery_id>/retry")
@requires(Permission.MANAGE_WEBHOOKS)
def webhook_delivery_retry(delivery_id: str):
    if not (delivery_id.isascii() and delivery_id.isdigit() and len(delivery_id) <= MAX_DELIVERY_ID_DIGITS):
        abort(404)
    try:
        retry_dead_delivery(request_context(staff_actor()), int(delivery_id))
    except NotFound:
        db().rollback()
        abort(404)
    except InvalidTransition:
        db().rollback()
        flash("That delivery is no longer dead: it was retried already.", "warning")
        return redirect(url_for("admin.webhooks"))
    flash("The delivery is queued again; send-webhooks tries it on its next run.", "success")
    return redirect(url_for("admin.webhooks"))
