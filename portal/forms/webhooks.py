"""The admin's form for a new outgoing webhook endpoint: bounded single-line URL and
description, event types from the fixed list (the domain checks the URL itself)."""

from __future__ import annotations

from wtforms import SelectMultipleField

from portal.domain.webhooks.models import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH
from portal.domain.webhooks.states import EVENT_TYPE_LABELS
from portal.forms.staff import AdminForm, choices
from portal.forms.fields import line_field


class WebhookEndpointForm(AdminForm):
    url = line_field("The endpoint URL", MAX_URL_LENGTH)
    description = line_field("Description", MAX_DESCRIPTION_LENGTH)
    event_types = SelectMultipleField("Events", choices=choices(
        (event_type, f"{label} ({event_type})") for event_type, label in EVENT_TYPE_LABELS.items()))
