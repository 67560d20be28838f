"""/admin/webhooks (MANAGE_WEBHOOKS: admins only): adding an endpoint shows its secret once,
a bad URL is refused with its reason and saves nothing, disable/enable/delete and the test
event (delivered by the real sender to a server on 127.0.0.1), a dead delivery sent again,
every action audited without the secret, and every form refused without its CSRF token."""

from __future__ import annotations

import html
import json

import pytest
from sqlalchemy import func, select

from portal.domain.core.models import AuditEntry
from portal.domain.staff.states import StaffRole
from portal.domain.webhooks.jobs import deliver_due
from portal.domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.support.factories import add_invoice_entry, make_customer, make_invoice, make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from
from tests.support.webhooks import FAST, add_test_endpoint, deliveries, local_transport, signature_is_valid

CSRF_REFUSAL = "This form has expired"


def _admin(app, db, clock, role=StaffRole.ADMIN):
    client = app.test_client()
    staff_sign_in(client, make_staff(db, clock, role=role), clock)
    return client


def _text(response) -> str:
    return html.unescape(" ".join(response.get_data(as_text=True).split()))


def _add(client, url: str, events=("cash.payment", "cash.refund"), description="Cash application"):
    page = client.get("/admin/webhooks")
    return client.post("/admin/webhooks", data={"csrf_token": csrf_from(page), "url": url,
                                                 "description": description, "event_types": list(events)})


def test_an_admin_adds_an_endpoint_and_sees_its_secret_only_once(app, db, clock, webhook_receiver):
    client = _admin(app, db, clock)
    response = _add(client, webhook_receiver.url_for())
    assert response.status_code == 200
    [endpoint] = db.scalars(select(WebhookEndpoint)).all()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in _text(response)
    assert endpoint.subscribed == ("cash.payment", "cash.refund") and endpoint.enabled
    assert "no-store" in response.headers["Cache-Control"]
    later = _text(client.get("/admin/webhooks"))
    assert webhook_receiver.url_for() in later and endpoint.secret not in later
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "webhook_endpoint.added")).all()
    assert entry.after["url"] == webhook_receiver.url_for() and endpoint.secret not in json.dumps(entry.after)


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://127.0.0.1/hooks", "must start with https://"),
    ("http://erp.example.com/hooks", "must start with https://"),
    ("https://user:secret@erp.example.com/", "user name or password"),
    ("https://erp.example.com/" + "x" * 600, "at most 500 characters"),
    ("https://erp.example.com/\tx", "one line of plain text"),
    # NUL is refused by the app before any view (SECURITY.md A14): a plain 400.
    ("https://erp.example.com/\x00", ""),
])
def test_a_bad_url_is_refused_with_its_reason_and_nothing_is_saved(app, db, clock, url, reason):
    client = _admin(app, db, clock)
    response = _add(client, url)
    assert response.status_code == 400 and reason in _text(response)
    assert db.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action.like("webhook%"))) == 0


def test_unknown_event_types_or_none_are_refused(app, db, clock):
    client = _admin(app, db, clock)
    assert _add(client, "https://erp.example.com/h", events=()).status_code == 400
    assert _add(client, "https://erp.example.com/h", events=("cash.issued",)).status_code == 400
    assert db.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


def test_production_refuses_a_private_address_unless_allowed(make_app, db, clock):
    """The page passes the portal's mode and setting to the URL check (the table of refusals
    is tests/unit/webhooks/test_webhook_policy.py)."""
    production = dict(mode="production", session_cookie_secure=False)
    client = _admin(make_app(**production), db, clock)
    response = _add(client, "https://10.0.0.7/hooks")
    assert response.status_code == 400 and "private, loopback or link-local" in _text(response)
    allowed = _admin(make_app(**production, webhook_allow_private_addresses=True), db, clock)
    assert _add(allowed, "https://10.0.0.7/hooks").status_code == 200


def test_disable_enable_test_event_and_delete(app, db, clock, webhook_receiver):
    created = add_test_endpoint(db, clock, webhook_receiver.url_for())
    public_id = created.endpoint.public_id
    client = _admin(app, db, clock)
    csrf = csrf_from(client.get("/admin/webhooks"))

    assert client.post(f"/admin/webhooks/{public_id}/disable", data={"csrf_token": csrf}).status_code == 302
    db.expire_all()
    assert db.get(WebhookEndpoint, created.endpoint.id).enabled is False
    refused = client.post(f"/admin/webhooks/{public_id}/test", data={"csrf_token": csrf}, follow_redirects=True)
    assert "disabled" in _text(refused) and deliveries(db) == []

    assert client.post(f"/admin/webhooks/{public_id}/enable", data={"csrf_token": csrf}).status_code == 302
    assert client.post(f"/admin/webhooks/{public_id}/test", data={"csrf_token": csrf}).status_code == 302
    assert deliver_due(db, clock, local_transport(), policy=FAST).delivered == 1
    [request] = webhook_receiver.requests
    event = json.loads(request.body)
    assert event["type"] == "portal.test" and request.headers["Portal-Event-Id"] == event["id"]
    assert signature_is_valid(created.secret, request.headers["Portal-Signature"], request.body)[0]
    assert "portal.test" in _text(client.get("/admin/webhooks"))

    assert client.post(f"/admin/webhooks/{public_id}/delete", data={"csrf_token": csrf}).status_code == 302
    assert db.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0 and deliveries(db) == []
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.object_id == public_id)
                         .order_by(AuditEntry.id)).all()
    assert actions == ["webhook_endpoint.added", "webhook_endpoint.disabled", "webhook_endpoint.enabled",
                       "webhook_endpoint.test_sent", "webhook_endpoint.deleted"]
    assert client.post(f"/admin/webhooks/{public_id}/delete", data={"csrf_token": csrf}).status_code == 404


def test_a_dead_delivery_is_sent_again_from_the_page(app, db, clock, webhook_receiver):
    add_test_endpoint(db, clock, webhook_receiver.url_for())
    add_invoice_entry(db, clock, make_invoice(db, clock, make_customer(db, clock)), "refund", 100)
    db.commit()
    webhook_receiver.default_status = 500
    for _ in range(FAST.max_attempts):
        deliver_due(db, clock, local_transport(), policy=FAST)
        clock.advance(hours=1)
    [delivery] = deliveries(db)
    assert delivery.status == "dead"

    client = _admin(app, db, clock)
    page = client.get("/admin/webhooks")
    assert "HTTP 500" in _text(page) and f"/admin/webhooks/deliveries/{delivery.id}/retry" in page.get_data(as_text=True)
    response = client.post(f"/admin/webhooks/deliveries/{delivery.id}/retry", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 0, "")
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "webhook_delivery.retried")).all()
    assert entry.before["status"] == "dead"

    webhook_receiver.default_status = 200
    assert deliver_due(db, clock, local_transport(), policy=FAST).delivered == 1
    # Retrying it once it is delivered changes nothing.
    again = client.post(f"/admin/webhooks/deliveries/{delivery.id}/retry", data={"csrf_token": csrf_from(page)})
    assert again.status_code == 302 and deliveries(db)[0].status == "delivered"


@pytest.mark.parametrize("path", ["/admin/webhooks/deliveries/987654/retry", "/admin/webhooks/deliveries/abc/retry",
                                  f"/admin/webhooks/deliveries/{'1' * 13}/retry", "/admin/webhooks/no-such-id/disable",
                                  "/admin/webhooks/%00/test", f"/admin/webhooks/{'a' * 40}/delete"])
def test_unknown_or_malformed_ids_are_404(app, db, clock, path):
    client = _admin(app, db, clock)
    assert client.post(path, data={"csrf_token": csrf_from(client.get("/admin/webhooks"))}).status_code == 404


@pytest.mark.parametrize(("role", "allowed"), [(StaffRole.ADMIN, True), (StaffRole.SUPERVISOR, False),
                                               (StaffRole.ANALYST, False), (StaffRole.COLLECTOR, False)])
def test_only_admins_reach_the_page_and_see_it_in_settings(app, db, clock, role, allowed):
    client = _admin(app, db, clock, role)
    assert client.get("/admin/webhooks").status_code == (200 if allowed else 403)
    assert ('href="/admin/webhooks"' in client.get("/admin/settings").get_data(as_text=True)) is allowed
    if not allowed:
        page = client.get("/admin/")
        response = client.post("/admin/webhooks", data={"csrf_token": csrf_from(page), "url": "https://erp.example.com/",
                                                         "event_types": ["cash.payment"]})
        assert response.status_code == 403
        assert db.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


def test_every_form_needs_its_csrf_token(app, db, clock, webhook_receiver):
    created = add_test_endpoint(db, clock, webhook_receiver.url_for())
    add_invoice_entry(db, clock, make_invoice(db, clock, make_customer(db, clock)), "refund", 100)
    db.commit()
    [delivery] = deliveries(db)
    client = _admin(app, db, clock)
    public_id = created.endpoint.public_id
    for path in ("/admin/webhooks", f"/admin/webhooks/{public_id}/disable", f"/admin/webhooks/{public_id}/test",
                 f"/admin/webhooks/{public_id}/delete", f"/admin/webhooks/deliveries/{delivery.id}/retry"):
        response = client.post(path, data={"url": "https://erp.example.com/", "event_types": ["cash.payment"]})
        assert response.status_code == 400 and CSRF_REFUSAL in response.get_data(as_text=True), path
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(WebhookEndpoint)) == 1
    assert db.get(WebhookEndpoint, created.endpoint.id).enabled
    assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
