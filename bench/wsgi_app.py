"""The real portal app plus two routes only the benchmark has: `gunicorn bench.wsgi_app:app`.

`/bench/hello` is the hello-world baseline served by the same workers in the same run;
`/bench/sign-in/<contact public id>` starts a whole-account session for a seeded contact, and
`/bench/staff-sign-in/<staff public id>` a staff session (through the staff sessions service,
as signing in with a password would), so the load generator can send their cookies. The database and secret come from BENCH_DATABASE_URL
and BENCH_SECRET_KEY; the app runs in production mode (logging, security headers) as deployed,
with the default Stripe gateway: no Stripe key, so no page may call Stripe, while webhook
signatures are verified by the real code against `WEBHOOK_SECRET`.
"""

from __future__ import annotations

import os
import tempfile

from flask import abort, g, make_response
from sqlalchemy import select

from admin.session import COOKIE_PATH, STAFF_COOKIE
from portal.app import create_app
from portal.config import Settings
from portal.domain.access.policy import ACCOUNT
from portal.domain.customers.models import Contact
from portal.domain.staff.models import StaffMember
from portal.domain.staff.sessions import start_staff_session
from portal.domain.core.database import writing_session
from portal.web.context import db, services
from portal.web.customer_session import sign_in

WEBHOOK_SECRET = "whsec_benchmark_only"


def build_bench_app(database_url: str, secret_key: str):
    settings = Settings(
        mode="production", secret_key=secret_key, database_url=database_url,
        stripe_webhook_secrets=(WEBHOOK_SECRET,), session_cookie_secure=True,
        public_url="https://portal.bench.example",
        attachments_dir=os.environ.get("BENCH_ATTACHMENTS_DIR") or tempfile.mkdtemp(prefix="portal-bench-files-"),
    )
    app = create_app(settings)

    @app.get("/bench/hello")
    def bench_hello():
        return "Hello, World!"

    # GET, for wrk and urllib, yet they write: they ask for a writing session first.
    @app.get("/bench/sign-in/<contact_public_id>")
    def bench_sign_in(contact_public_id: str):
        g.db = writing_session(services().session_factory)
        contact = db().scalar(select(Contact).where(Contact.public_id == contact_public_id))
        if contact is None:
            abort(404)
        sign_in(contact, ACCOUNT)
        return "signed in"

    @app.get("/bench/staff-sign-in/<staff_public_id>")
    def bench_staff_sign_in(staff_public_id: str):
        g.db = writing_session(services().session_factory)
        staff = db().scalar(select(StaffMember).where(StaffMember.public_id == staff_public_id))
        if staff is None:
            abort(404)
        started = start_staff_session(db(), services().clock, staff)
        response = make_response("signed in")
        # The cookie as admin.session sets it after a password sign-in.
        response.set_cookie(STAFF_COOKIE, started.token, path=COOKIE_PATH, secure=settings.session_cookie_secure,
                            httponly=True, samesite="Lax")
        return response

    return app


app = build_bench_app(os.environ["BENCH_DATABASE_URL"], os.environ["BENCH_SECRET_KEY"]) \
    if "BENCH_DATABASE_URL" in os.environ else None
