"""The collaborators the app was built with, and the request's database session.

One session per request; handlers call `commit()` once. Anything not committed is rolled back
when the request ends, so a failed request leaves no trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from portal.config import Settings
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    gateway: Any = None  # portal.domain.gateway.PaymentGateway
    rate_limiter: Any = None  # portal.domain.rate_limits.RateLimiter
    content_security_policy: str = ""
    extra: dict = field(default_factory=dict)


def services() -> Services:
    return current_app.extensions["portal"]


def db() -> Session:
    if "db" not in g:
        g.db = services().session_factory()
    return g.db


def commit() -> None:
    db().commit()


def close_request_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


def client_ip() -> str:
    # Behind a proxy, configure werkzeug's ProxyFix in wsgi.py; never trust the header here.
    return request.remote_addr or ""


def actor_for_contact(contact_public_id: str) -> Actor:
    return Actor("contact", contact_public_id, client_ip())
