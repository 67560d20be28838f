"""Stripe's webhook endpoint: the one route exempt from CSRF (Stripe signs instead).

verify → deduplicate → apply in `receive_stripe_webhook`; the web glue commits. The answers tell
Stripe what to do next: 400 for a body we cannot trust (no retry helps), 200 for applied,
duplicate or ignored events, 5xx for anything that went wrong here, with nothing committed,
so that Stripe delivers the event again (SECURITY.md W1-W5).
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from portal.domain.core.audit import STRIPE
from portal.domain.gateway.protocol import WebhookRejected
from portal.domain.payments.webhooks import EventNotReady, receive_stripe_webhook
from portal.web.context import db, request_context, services

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


@bp.post("/stripe/webhook")
def stripe():
    s = services()
    try:
        result = receive_stripe_webhook(
            request_context(STRIPE), s.gateway, s.webhook_verifier, s.supplier,
            payload=request.get_data(cache=False), signature_header=request.headers.get("Stripe-Signature"),
        )
    except WebhookRejected as rejected:
        db().rollback()
        log.warning("stripe webhook refused: %s", rejected)
        return jsonify(error="invalid signature"), 400
    except EventNotReady as not_ready:
        db().rollback()
        log.info("stripe webhook deferred: %s", not_ready)
        return jsonify(error="not ready, deliver again later"), 503
    except Exception:
        # Testing mode would re-raise from Flask's handler; Stripe needs an answer either way.
        db().rollback()
        log.exception("stripe webhook failed; nothing was committed")
        return jsonify(error="internal error"), 500
    return jsonify(received=True, duplicate=result.duplicate, outcome=result.outcome), 200
