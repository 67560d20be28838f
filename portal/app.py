"""The application factory: settings and collaborators in, a configured Flask app out."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlencode

from flask import Flask
from flask_wtf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import Settings
from portal.domain.access.rate_limits import RateLimiter, build_rate_limiter
from portal.domain.access.tokens import LinkSigner
from portal.domain.attachments.policy import UploadLimits
from portal.domain.attachments.service import FileStore
from portal.domain.attachments.storage import FileStorage, LocalDirectoryStorage
from portal.domain.core.clock import Clock, SystemClock
from portal.domain.core.database import make_engine, make_session_factory
from portal.domain.disputes.service import route_by_rules
from portal.domain.gateway.protocol import PaymentGateway
from portal.domain.gateway.stripe_adapter import StripeGateway, StripeWebhookVerifier
from portal.domain.notifications.rendering import SupplierDetails
from portal.domain.staff.credentials import PasswordHasher
from portal.domain.staff.queries import owner_names
from portal.web import context, i18n
from portal.web.context import PortalFlask, Services
from portal.web.errors import register_error_pages
from portal.web.logging import configure_logging
from portal.web.security import add_security_headers, content_security_policy

csrf = CSRFProtect()
# What a form may carry besides its files (fields, multipart headers), above the files' own
# limit: a request within the files' limit always reaches the view, whose refusal names the
# file and keeps the form; only a body larger still is cut off at 413 before it is read.
FORM_ROOM_BYTES = 1024 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    gateway: PaymentGateway | None = None,
    engine=None,
    rate_limiter: RateLimiter | None = None,
    file_storage: FileStorage | None = None,
) -> Flask:
    """Every collaborator is built here, once; tests pass their own clock, gateway or engine."""
    settings = settings or Settings.from_env()
    settings.validate()  # also for settings built by hand: no weak SECRET_KEY in production (A11)
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    upload_limits = UploadLimits.from_settings(settings)
    file_store = FileStore(
        storage=file_storage or LocalDirectoryStorage.from_settings(settings),
        scanner_configured=bool(settings.clamav_address), limits=upload_limits,
    )

    app = PortalFlask(__name__, instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SECRET_KEY_FALLBACKS=list(settings.secret_key_fallbacks),
        SESSION_COOKIE_NAME="portal_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        # The cookie is written when the session changes (sign-in, the idle clock's minute
        # ticking over), not re-signed on every response: the timeouts live on the server.
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_CONTENT_LENGTH=upload_limits.max_request_bytes + FORM_ROOM_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        TESTING=settings.mode == "test",
    )
    context.init_app(app, Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        clock=clock,
        gateway=gateway if gateway is not None else StripeGateway.from_settings(settings),
        webhook_verifier=StripeWebhookVerifier.from_settings(settings),
        rate_limiter=rate_limiter or build_rate_limiter(settings, session_factory, clock),
        link_signer=LinkSigner.from_settings(settings),
        supplier=SupplierDetails.from_settings(settings),
        content_security_policy=content_security_policy(settings),
        password_hasher=PasswordHasher.for_mode(settings.mode),
        file_store=file_store,
        dispute_router=route_by_rules,
        dispute_owner_names=owner_names,
    ))

    configure_logging(app, settings.mode)
    if settings.trusted_proxies:
        # Client address, scheme and host from the proxies' headers: rate limits per IP,
        # audit rows and HTTPS-only cookies need the real ones. Only as many hops as configured.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    csrf.init_app(app)
    app.after_request(add_security_headers)
    register_error_pages(app)
    i18n.init_app(app)
    _register_template_helpers(app, settings)
    _register_blueprints(app)

    from portal.cli import register_commands

    register_commands(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from admin import bp as admin_bp, init_staff_sign_in
    from portal.routes import (
        account, api, auth, disputes, followup_sources, followups, language, methods, payments, plans, promises,
        reminders, webhooks,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(payments.bp)
    app.register_blueprint(disputes.bp)
    app.register_blueprint(promises.bp)
    app.register_blueprint(reminders.bp)
    app.register_blueprint(plans.bp)
    app.register_blueprint(followups.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(methods.bp)
    app.register_blueprint(followup_sources.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(language.bp)
    app.register_blueprint(admin_bp)
    init_staff_sign_in(app)
    # The CSRF exemptions: Stripe signs its webhooks instead (SECURITY.md A10), and the ERP's
    # API is authenticated by a bearer key, never by a cookie a browser would send along.
    csrf.exempt(webhooks.bp)
    csrf.exempt(api.bp)


@lru_cache(maxsize=1024)
def _query_string(items: tuple) -> str:
    """Most of a list's links are the same from one request to the next (the tabs, the sortable
    headers): each is encoded once. The values are a page's own few arguments, already checked
    and bounded (`InvoiceListQuery.from_params`), so the cache holds no visitor's text for long."""
    return "?" + urlencode(items, safe="!$'()*,/:;?@")


def _register_template_helpers(app: Flask, settings: Settings) -> None:
    @app.template_filter("query_string")
    def query_string_filter(params: dict) -> str:
        """"?status=open&page=2" for a link's arguments ("" for none): a page building many
        links to one route calls url_for once and appends these."""
        return _query_string(tuple(params.items())) if params else ""

    @app.context_processor
    def supplier():
        return {"supplier_name": settings.supplier_name, "supplier_email": settings.supplier_email}
