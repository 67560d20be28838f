"""Settings: the pages that set the portal up rather than work its queues (staff, teams and
routing, reminder and plan policies, the ERP connection, the outbox's dead letters), one
link in the top bar instead of one each, listed for what the signed-in role may open."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from portal.domain.staff.policy import Permission, allows

from . import bp
from .permissions import requires
from .session import current_staff


@dataclass(frozen=True)
class Setting:
    title: str
    endpoint: str
    permission: Permission
    description: str
    # The endpoints (prefixes) that belong to it, for the top bar's "you are here".
    prefixes: tuple[str, ...]


SETTINGS: tuple[Setting, ...] = (
    Setting("Staff", "admin.staff", Permission.MANAGE_STAFF,
            "Who may sign in, their roles, second factors and sessions.", ("admin.staff",)),
    Setting("Teams", "admin.teams", Permission.MANAGE_ROUTING,
            "Teams, their members, business hours, time zones and follow-up queues.", ("admin.team",)),
    Setting("Routing rules", "admin.routing_rules", Permission.MANAGE_ROUTING,
            "Which team a new dispute goes to, by reason, amount and customer.", ("admin.routing_rule", "admin.rule")),
    Setting("Reminders", "admin.reminders", Permission.PAUSE_REMINDERS,
            "The reminder steps, their tone and wording, and pauses per customer.", ("admin.reminder",)),
    Setting("Plan policy", "admin.plan_policy", Permission.MANAGE_PLANS,
            "What a customer may set up alone: installments, length, minimum amount.", ("admin.plan_policy",)),
    Setting("ERP import and cash export", "admin.erp", Permission.IMPORT_INVOICES,
            "Upload the ERP's CSV of customers and invoices; download the cash since a cursor.", ("admin.erp",)),
    Setting("Webhooks to the ERP", "admin.webhooks", Permission.MANAGE_WEBHOOKS,
            "Signed notices of every payment, refund, credit note and chargeback, sent to the ERP.",
            ("admin.webhook",)),
    Setting("API keys", "admin.api_keys", Permission.MANAGE_API_KEYS,
            "The ERP's keys for the JSON API: make one (its secret is shown once), see when each was used, revoke.",
            ("admin.api_key",)),
    Setting("Dead letters", "admin.dead_letters", Permission.MANAGE_OUTBOX,
            "Emails the outbox gave up on, to read and send again.", ("admin.dead_letter",)),
)


def settings_for(role: str) -> list[Setting]:
    return [setting for setting in SETTINGS if allows(role, setting.permission)]


def is_settings_endpoint(endpoint: str) -> bool:
    return endpoint == "admin.settings" or any(endpoint.startswith(prefix) for setting in SETTINGS
                                                for prefix in setting.prefixes)


@bp.get("/settings")
@requires(Permission.STAFF)
def settings():
    return render_template("admin/settings.html", settings=settings_for(current_staff().staff.role))
