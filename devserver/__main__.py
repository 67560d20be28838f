"""`python -m devserver`: the whole portal on this machine, with nothing real attached.

It builds a fresh SQLite database under instance/ (the Alembic migrations, then the demo
ledger), starts localstripe (offline Stripe) with the portal's webhook registered, a mail
catcher, the portal under gunicorn, the outbox and webhook senders, and `reconcile-stripe`,
`warn-sla-at-risk`, `check-promises`, `send-reminders` and `collect-installments` every minute, all on
127.0.0.1. Then it prints:

    Portal: <url>
    Clerk link: <a sign-in link for the demo clerk, ap@acme.example>
    Staff login: <the admin sign-in page> <email> <password>   (<the disputes they own>)
                                        (one line per demo staff member)
    Mail: <the mail catcher's page>

and stays in the foreground until Ctrl-C, when it stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import IO

from sqlalchemy import select

from portal import migrate
from portal.config import Settings
from portal.domain.core.clock import SystemClock
from portal.domain.core.database import make_engine, make_session_factory, writing_session
from devserver.demo_data import DEMO_CLERK_EMAIL, DemoDataExists, seed_demo_data
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.customers.models import Contact
from portal.domain.imports.service import import_erp_file

from devserver.localstripe_server import LocalStripe
from devserver.mail_catcher import MailCatcher, serve_mail_pages
from devserver.ports import LOOPBACK, preferred_or_free, stop_process

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INSTANCE = ROOT / "instance"
ERP_SAMPLE = ROOT / "docs" / "samples" / "erp-import.csv"


@dataclass(frozen=True)
class Places:
    """Where the demo keeps its database and logs (instance/ unless --instance says otherwise)."""

    instance: Path

    @property
    def logs(self) -> Path:
        return self.instance / "demo-logs"

    @property
    def database(self) -> Path:
        return self.instance / "demo.db"

    def shown(self, path: Path) -> str:
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass
class Ports:
    app: int
    stripe: int
    smtp: int
    mail_pages: int

    @classmethod
    def choose(cls, app_port: int) -> Ports:
        return cls(app=preferred_or_free(app_port), stripe=preferred_or_free(8420),
                   smtp=preferred_or_free(8025), mail_pages=preferred_or_free(8026))


def demo_environment(ports: Ports, stripe: LocalStripe, webhook_secret: str, database: Path) -> dict[str, str]:
    """The settings every demo process shares (see portal/config.py)."""
    return {
        "PORTAL_MODE": "demo",
        # A new key per run: the database is new too, so no session or link outlives it.
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{database}",
        "PUBLIC_URL": f"http://{LOOPBACK}:{ports.app}",
        "SESSION_COOKIE_SECURE": "0",
        # The demo supplier's details on receipts, invoices and statements (made up).
        "SUPPLIER_ADDRESS": "Northwind Supplies Inc.; 1200 Harbor Way, Suite 400; Portland, OR 97209; United States",
        "SUPPLIER_TAX_ID": "EIN 93-1234567",
        "STRIPE_SECRET_KEY": "sk_test_demo_portal",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_demo_portal",
        "STRIPE_API_BASE": stripe.url, "STRIPE_DIALECT": "localstripe",
        "STRIPE_JS_URL": stripe.js_url,
        "STRIPE_WEBHOOK_SECRETS": webhook_secret,
        "SMTP_HOST": LOOPBACK,
        "SMTP_PORT": str(ports.smtp),
        "SMTP_STARTTLS": "0",
        "SMTP_USERNAME": "",
        "SMTP_PASSWORD": "",
    }


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path


@dataclass
class Demo:
    """Everything started, so that all of it can be stopped in reverse order."""

    places: Places
    children: list[Child] = field(default_factory=list)
    stripe: LocalStripe | None = None
    catcher: MailCatcher | None = None
    mail_pages: ThreadingHTTPServer | None = None
    logs: list[IO] = field(default_factory=list)

    def log_file(self, name: str) -> tuple[IO, Path]:
        path = self.places.logs / f"{name}.log"
        handle = open(path, "w", buffering=1)
        self.logs.append(handle)
        return handle, path

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        handle, path = self.log_file(name)
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
            # Own session: Ctrl-C reaches only this supervisor, which stops children in order.
            start_new_session=True,
        )
        child = Child(name, process, path)
        self.children.append(child)
        return child

    def exited_child(self) -> Child | None:
        return next((child for child in self.children if child.process.poll() is not None), None)

    def stop(self) -> None:
        for child in reversed(self.children):  # all asked at once, then each waited for
            if child.process.poll() is None:
                child.process.terminate()
        for child in reversed(self.children):
            stop_process(child.process)
        self.children.clear()
        if self.stripe is not None:
            self.stripe.stop()
        if self.mail_pages is not None:
            self.mail_pages.shutdown()
            self.mail_pages.server_close()
        if self.catcher is not None:
            self.catcher.stop()
        for handle in self.logs:
            handle.close()
        self.logs.clear()


def say(message: str = "") -> None:
    print(message, flush=True)


def fresh_database(places: Places, keep: bool) -> str:
    places.logs.mkdir(parents=True, exist_ok=True)
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{places.database}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{places.database}"
    migrate.upgrade(url)
    return url


def seed(session_factory) -> str:
    with writing_session(session_factory) as db:
        try:
            summary = seed_demo_data(db, SystemClock())
        except DemoDataExists as exists:
            return exists.message
        db.commit()
        # The ERP's sample file, as `import-invoices docs/samples/erp-import.csv` would import it:
        # a customer, contacts, invoices, a credit note and a void with their ERP ids.
        erp = import_erp_file(Context(db=db, clock=SystemClock(), actor=Actor.system("seed-demo")),
                              ERP_SAMPLE.read_bytes(), source=ERP_SAMPLE.name)
        db.commit()
        db.connection().exec_driver_sql("ANALYZE")  # what `flask db analyze` does from cron
        db.commit()
        return f"added {summary}; the ERP sample file: {erp.summary()}"


def clerk_link(settings: Settings, session_factory) -> str:
    """A fresh sign-in link for the demo clerk, also emailed to them through the outbox (so the
    mail catcher shows the email a clerk would get)."""
    from portal.domain.access.service import send_sign_in_link
    from portal.domain.access.tokens import LinkSigner
    from portal.domain.notifications.rendering import SupplierDetails

    signer = LinkSigner.from_settings(settings)
    clock = SystemClock()
    with writing_session(session_factory) as db:
        contact = db.scalar(select(Contact).where(Contact.email == DEMO_CLERK_EMAIL))
        if contact is None:
            raise SystemExit(f"demo clerk {DEMO_CLERK_EMAIL} is missing from the database")
        issued = send_sign_in_link(db, clock, signer, SupplierDetails.from_settings(settings), contact=contact)
        db.commit()
        return issued.url


def staff_logins(session_factory) -> list[tuple[str, str, str]]:
    """(email, password, the disputes they own) of each demo staff member, with passwords new
    at every start."""
    from devserver.demo_disputes import dispute_owners
    from devserver.demo_staff import fresh_demo_passwords
    from portal.domain.staff.credentials import PasswordHasher

    with writing_session(session_factory) as db:
        owners = dispute_owners(db)
        logins = [(member.email, password, owners.get(member.id, ""))
                  for member, password in fresh_demo_passwords(db, SystemClock(), PasswordHasher())]
        db.commit()
        return logins


def wait_for_http(url: str, timeout: float = 30.0, watch: Demo | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if watch is not None and watch.exited_child() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status < 500
        except urllib.error.HTTPError as error:
            return error.code < 500
        except OSError:
            time.sleep(0.2)
    return False


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# How often the demo runs `reconcile-stripe`, `warn-sla-at-risk`, `check-promises` and
# `send-reminders` and `collect-installments`, as production cron jobs would.
RECONCILE_EVERY_SECONDS = 60
SLA_WARNINGS_EVERY_SECONDS = 60
PROMISE_CHECK_EVERY_SECONDS = 60
REMINDERS_EVERY_SECONDS = 60
INSTALLMENTS_EVERY_SECONDS = 60


def child_commands(app_port: int) -> dict[str, list[str]]:
    """The processes the demo runs beside localstripe and the mail catcher.

    gunicorn's own access log stays off: it would print raw paths, link tokens included. The
    portal writes its own access log with tokens redacted (portal.web.logging).
    """
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    return {
        "app": [sys.executable, "-m", "gunicorn", "--bind", f"{LOOPBACK}:{app_port}", "--workers", "2",
                "--chdir", str(ROOT), "wsgi:app"],
        "outbox": [*flask, "send-outbox", "--loop", "--interval", "1"],
        "webhooks": [*flask, "send-webhooks", "--loop", "--interval", "1"],
        "reconcile": [sys.executable, "-m", "devserver.schedule", str(RECONCILE_EVERY_SECONDS), "--",
                      *flask, "reconcile-stripe"],
        "sla-warnings": [sys.executable, "-m", "devserver.schedule", str(SLA_WARNINGS_EVERY_SECONDS), "--",
                         *flask, "warn-sla-at-risk"],
        "promise-check": [sys.executable, "-m", "devserver.schedule", str(PROMISE_CHECK_EVERY_SECONDS), "--",
                          *flask, "check-promises"],
        "reminders": [sys.executable, "-m", "devserver.schedule", str(REMINDERS_EVERY_SECONDS), "--",
                      *flask, "send-reminders"],
        "installments": [sys.executable, "-m", "devserver.schedule", str(INSTALLMENTS_EVERY_SECONDS), "--",
                         *flask, "collect-installments"],
    }


def run(args: argparse.Namespace) -> int:
    places = Places(Path(args.instance).resolve())
    demo = Demo(places)
    stopping = {"signal": None}

    def request_stop(signum, _frame):
        stopping["signal"] = signum

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)

    try:
        ports = Ports.choose(args.port)
        say(f"Preparing the demo database ({places.shown(places.database)}) ...")
        database_url = fresh_database(places, args.keep_data)

        demo.stripe = LocalStripe(ports.stripe)
        stripe_log, _ = demo.log_file("localstripe")
        demo.stripe.start(log=stripe_log)
        webhook_secret = "whsec_demo_" + secrets.token_hex(16)
        env_settings = demo_environment(ports, demo.stripe, webhook_secret, places.database)
        env = {**os.environ, **env_settings, "PYTHONUNBUFFERED": "1"}
        settings = Settings.from_env(env_settings)

        engine = make_engine(database_url)
        session_factory = make_session_factory(engine)
        say(f"Demo data: {seed(session_factory)}")
        logins = staff_logins(session_factory)

        demo.catcher = MailCatcher(ports.smtp).start()
        demo.mail_pages = serve_mail_pages(demo.catcher, ports.mail_pages)

        app_url = settings.public_url
        demo.stripe.register_webhook(f"{app_url}/stripe/webhook", webhook_secret)
        commands = child_commands(ports.app)
        app_child = demo.spawn("app", commands["app"], env)
        for name in ("outbox", "webhooks", "reconcile", "sla-warnings"):
            demo.spawn(name, commands[name], env)
        if not wait_for_http(f"{app_url}/", watch=demo):
            failed = demo.exited_child() or app_child
            say(f"The {failed.name} process did not start. Last lines of {failed.log_path}:")
            say(tail(failed.log_path))
            return 1

        link = clerk_link(settings, session_factory)
        engine.dispose()
        demo.catcher.wait_for(1, timeout=5)
        mail_url = f"http://{LOOPBACK}:{ports.mail_pages}/"

        say()
        say(f"Portal: {app_url}")
        say(f"Clerk link: {link}")
        for email, password, owns in logins:
            say(f"Staff login: {app_url}/admin/sign-in {email} {password}" + (f"   ({owns})" if owns else ""))
        say(f"Mail: {mail_url}")
        say()
        say(f"The clerk link signs in {DEMO_CLERK_EMAIL} (Acme Corp) once, within 15 minutes; the same")
        say("link is in the caught mail. For another, ask the portal for a sign-in link: it arrives at Mail.")
        say("Test cards (any future expiry, any CVC): 4242 4242 4242 4242 pays; 4000 0025 0000 3155 asks")
        say("for 3-D Secure; 4000 0000 0000 0341 is declined.")
        say("Staff logins are new at every start. The admin sets up an authenticator app (TOTP) at the first")
        say("sign-in; the other roles sign in with the password alone.")
        say(f"Logs: {places.shown(places.logs)}/   Stop with Ctrl-C.")

        while stopping["signal"] is None:
            exited = demo.exited_child()
            if exited is not None:
                say(f"The {exited.name} process stopped (exit {exited.process.returncode}). Last lines of {exited.log_path}:")
                say(tail(exited.log_path))
                return 1
            time.sleep(0.5)
        say("Stopping the demo ...")
        return 0
    finally:
        demo.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devserver", description="Run the portal demo locally.")
    parser.add_argument("--port", type=int, default=5000, help="the portal's port (another is used if taken)")
    parser.add_argument("--keep-data", action="store_true",
                        help="reuse instance/demo.db instead of starting from fresh demo data")
    parser.add_argument("--instance", default=str(DEFAULT_INSTANCE),
                        help="folder for the demo database and logs (default: instance/)")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
