"""The collaborators the app was built with, the request's database session, and its one commit.

One session per request. A request that writes (any method but GET, HEAD and OPTIONS) gets a
writing session: on SQLite its transactions take the write lock when they begin. A reading
request's session refuses ORM writes and, on PostgreSQL, runs its statements without BEGIN and
COMMIT around them (`core.database.reading_session`). The view does
its work and returns; `PortalFlask.dispatch_request` then commits, once. A view that raises
commits nothing: the session is rolled back when the request ends, so a failed request leaves
no trace. Views never call commit themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from portal.config import Settings
from portal.domain.access.rate_limits import RateLimiter
from portal.domain.access.tokens import LinkSigner
from portal.domain.attachments.service import FileStore
from portal.domain.core.audit import Actor
from portal.domain.core.clock import Clock
from portal.domain.core.context import Context
from portal.domain.core.database import reading_session, writing_session
from portal.domain.disputes.queries import OwnerNames, no_owner_names
from portal.domain.disputes.service import DisputeRouter, no_routing
from portal.domain.gateway.protocol import PaymentGateway, WebhookVerifier
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.staff.credentials import PasswordHasher
from portal.web.i18n import WordsTranslatedEnvironment

READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Services:
    """Built once by `create_app`; every request and command uses these same objects."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    gateway: PaymentGateway
    webhook_verifier: WebhookVerifier
    rate_limiter: RateLimiter
    link_signer: LinkSigner
    supplier: SupplierDetails
    content_security_policy: str
    password_hasher: PasswordHasher
    # Where uploads are kept, whether a scanner judges them, and the limits of one request.
    file_store: FileStore
    # Team, assignee, priority and SLA dates of a new dispute, and the owners' names on its
    # page: none until routing rules and staff exist.
    dispute_router: DisputeRouter = no_routing
    dispute_owner_names: OwnerNames = no_owner_names


# How many paths `PortalFlask.url_for` keeps: the app's fixed pages and static files, per mount point.
FIXED_PATHS_KEPT = 512


class PortalFlask(Flask):
    jinja_environment = WordsTranslatedEnvironment

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_paths: dict[tuple[str, str, str | None], str] = {}

    def url_for(self, endpoint: str, *, _anchor=None, _method=None, _scheme=None, _external=None, **values) -> str:
        """Flask's `url_for`, with the paths of pages that take no argument (the navigation,
        a static file) built once per mount point instead of on every link of every page: a
        page's chrome alone asks for a dozen. The app registers no `url_defaults`, so such a
        path depends on nothing but the endpoint, the file and the request's script root."""
        filename = values.get("filename")
        if (_anchor is None and _method is None and _scheme is None and not _external and endpoint[:1] != "."
                and (not values or (len(values) == 1 and isinstance(filename, str))) and has_request_context()):
            key = (request.script_root, endpoint, filename)
            path = self._fixed_paths.get(key)
            if path is None:
                path = super().url_for(endpoint, **values)
                if len(self._fixed_paths) < FIXED_PATHS_KEPT:
                    self._fixed_paths[key] = path
            return path
        return super().url_for(endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external,
                               **values)

    def dispatch_request(self):
        """Run the view, then commit the request's session: the request's one commit point."""
        response = super().dispatch_request()
        session: Session | None = g.get("db")
        if session is not None:
            session.commit()
        return response


def services() -> Services:
    return current_app.extensions["portal"]


def db() -> Session:
    if "db" not in g:
        factory = services().session_factory
        g.db = reading_session(factory) if request.method in READING_METHODS else writing_session(factory)
    return g.db


def request_context(actor: Actor) -> Context:
    return Context(db=db(), clock=services().clock, actor=actor)


def end_read_only_transaction() -> None:
    """Close the request's transaction before a collaborator writes through its own connection
    (the database rate limiter): on SQLite the request would otherwise hold the write lock the
    collaborator waits for. Only allowed while the request has written nothing."""
    session: Session | None = g.get("db")
    if session is None:
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_read_only_transaction after the request wrote something")
    session.commit()  # nothing to write: this only ends the transaction, keeping loaded objects


def close_request_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


def client_ip() -> str:
    # Behind proxies, TRUSTED_PROXIES makes create_app apply ProxyFix; never trust headers here.
    return request.remote_addr or ""


def actor_for_contact(contact_public_id: str) -> Actor:
    return Actor("contact", contact_public_id, client_ip())


def actor_for_staff(staff_public_id: str) -> Actor:
    return Actor("staff", staff_public_id, client_ip())


def init_app(app: Flask, services_: Services) -> None:
    app.extensions["portal"] = services_
    app.teardown_appcontext(close_request_session)
