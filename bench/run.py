"""Benchmark every customer page, the Stripe webhook and the staff side's dispute queue and
dispute page against hello world, on SQLite and PostgreSQL, at several sizes.

    python -m bench.run                      # the full run (see docs/benchmarks.md), ~15 minutes
    python -m bench.run --quick              # smoke check: SQLite, 200 invoices, 50/200 disputes, 2 s per page
    python -m bench.run --sizes 200,5000,50000 --staff-sizes 200,5000 --db sqlite,postgresql --duration 5 \
        --out results.md

For each database: build it with the migrations (SQLite: a file in a temporary directory;
PostgreSQL: a throwaway database, dropped at the end), seed one account per size plus other
customers (bench/seed.py), count the SQL statements of every page in-process, profile where the
time goes (bench/profile.py), then start gunicorn (2 sync workers; `--workers`) on 127.0.0.1 with
`bench.wsgi_app` and run wrk on hello world, every page and the webhook, for each account.
Then the staff side: for each number of active disputes in `--staff-sizes` (bench/seed.py adds
them, over the other customers' invoices), the same statement count, profile and wrk runs for
the analyst's queue and one dispute's page, signed in as the analyst who owns most of them.

Any answer other than 200 (or the webhook not doing what it should) stops the run with an error.
Needs `wrk` on PATH (Debian: apt-get install wrk), and for PostgreSQL a server where
BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/postgres) may create databases.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.orm import Session

from admin.session import STAFF_COOKIE

from portal import migrate
from portal.domain.core.database import make_engine
from portal.domain.payments.models import Payment, StripeEvent
from portal.web.logging import JsonFormatter

from . import profile, webhooks
from .seed import (
    SeededAccount, SeededDisputes, SeededStaff, add_open_disputes, add_settlement_payments,
    fail_leftover_settlement_payments, seed_account, seed_other_customers, seed_staff,
)
from .wsgi_app import WEBHOOK_SECRET, build_bench_app

REPO_ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).with_name("webhook.lua")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One sync worker per core of the machines these runs are made on (as in every earlier run);
# `--workers 4` measures the deployment README describes. On two cores SQLite does better with
# 2 (its pages are CPU-bound), PostgreSQL with 4 (a worker waits on the database).
WORKERS = 2
WRK_THREADS = 2
WRK_CONNECTIONS = 8

# The targets of the speed work (docs/benchmarks.md).
MIN_RATIO_AT_SMALLEST = 0.20
MAX_SLOWDOWN_AT_LARGEST = 1.5

PAGES = ("overview", "invoice list", "invoice", "pay", "payments", "payment", "payment status")
WEBHOOKS = ("webhook: unknown intent", "webhook: settlement")
STAFF_PAGES = ("staff queue", "staff dispute", "staff customer", "staff receivables")
# Measured signed in as the supervisor (the analyst may not see them); the others as the analyst.
SUPERVISOR_PAGES = frozenset({"staff receivables"})
# What each side measures, and what its size counts.
SIDES = {"customer": ((*PAGES, *WEBHOOKS), "invoices"), "staff": (STAFF_PAGES, "open disputes")}


def page_paths(account: SeededAccount) -> dict[str, str]:
    pay = "&".join(f"invoice={pid}" for pid in account.pay_invoice_public_ids)
    return {
        "overview": "/account",
        "invoice list": "/invoices",
        "invoice": f"/invoices/{account.detail_invoice_public_id}",
        "pay": f"/pay?{pay}",
        "payments": "/payments",
        "payment": f"/payments/{account.payment_public_id}",
        "payment status": f"/payments/{account.payment_public_id}/status",
    }


def staff_page_paths(disputes: SeededDisputes, staff: SeededStaff) -> dict[str, str]:
    return {
        "staff queue": "/admin/disputes",  # the "mine" tab: the analyst's active disputes, soonest due first
        "staff dispute": f"/admin/disputes/{disputes.page_dispute_public_id}",
        # The largest account's timeline, first page; and the AR dashboard over the whole ledger.
        "staff customer": f"/admin/customers/{staff.timeline_customer_public_id}",
        "staff receivables": "/admin/ar",
    }


def staff_member_of(page: str, staff: SeededStaff) -> str:
    return staff.supervisor_public_id if page in SUPERVISOR_PAGES else staff.analyst_public_id


@dataclass
class Measure:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int


@dataclass
class SizeResult:
    database: str
    size: int  # invoices in the account (customer side), active disputes (staff side)
    side: str = "customer"
    hello_runs: list[Measure] = field(default_factory=list)
    pages: dict[str, Measure] = field(default_factory=dict)
    hello_reference: dict[str, float] = field(default_factory=dict)  # hello req/s around each page
    sql: dict[str, int] = field(default_factory=dict)
    in_process_ms: dict[str, float] = field(default_factory=dict)

    @property
    def hello_rps(self) -> float:
        return sum(m.rps for m in self.hello_runs) / len(self.hello_runs)

    def ratio(self, page: str) -> float:
        """The page's req/s over hello's, measured right before and right after it."""
        return self.pages[page].rps / self.hello_reference[page]


# ------------------------------------------------------------------------------------------
# Databases and data


@contextmanager
def sqlite_database(workdir: Path):
    yield f"sqlite:///{workdir / 'bench.db'}"


@contextmanager
def postgresql_database():
    admin_url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    name = f"portal_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def compact_after_bulk_seed(engine) -> None:
    """PostgreSQL: rewrite the tables once the seed is in, as a live database's autovacuum keeps them.

    The seed writes each account's invoices in one transaction, and every invoice moves its
    maintained sums (`account_totals`, `account_due_dates`, the invoice's own balance) by
    trigger: each move leaves a dead row version that no vacuum may remove while that
    transaction runs. A 50,000-invoice account left `account_due_dates` with 862 live rows in
    324 pages (25,687 dead versions), and the overview spent 1.6 ms scanning them instead of
    0.13 ms. An account that grows invoice by invoice never gets there (autovacuum frees the
    space and the updates reuse it in place); a bulk import does, and needs the same
    `VACUUM (FULL, ANALYZE)` afterwards.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (FULL, ANALYZE)"))


def build_and_seed(url: str, sizes: list[int], others: int,
                   others_invoices: int) -> tuple[list[SeededAccount], SeededStaff]:
    started = time.monotonic()
    migrate.upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    accounts = []
    try:
        with engine.connect() as conn:
            seed_other_customers(conn, others, others_invoices, now)
            conn.commit()
        for size in sizes:
            with engine.connect() as conn:
                accounts.append(seed_account(conn, size, f"N{size}", now))
                conn.commit()
        with Session(engine) as db:
            largest = max(accounts, key=lambda account: account.invoice_count)
            staff = seed_staff(db, now, largest.customer_id)
            db.commit()
        with engine.begin() as conn:  # committed: on SQLite an uncommitted ANALYZE leaves no statistics
            conn.execute(text("ANALYZE"))
        if engine.dialect.name == "postgresql":
            compact_after_bulk_seed(engine)
    finally:
        engine.dispose()
    log(f"  seeded {sum(sizes) + others * others_invoices:,} invoices "
        f"({others} other customers of {others_invoices}) in {time.monotonic() - started:.0f} s")
    return accounts, staff


def add_disputes(url: str, staff: SeededStaff, total: int, most: int) -> SeededDisputes:
    """Top the active disputes up to `total`, then ANALYZE (committed, as after seeding)."""
    started = time.monotonic()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            disputes = add_open_disputes(conn, staff, total, most, datetime.now(UTC))
            conn.commit()
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    log(f"  {total:,} active disputes ({disputes.owned_by_analyst:,} the analyst's) in "
        f"{time.monotonic() - started:.0f} s")
    return disputes


def settlement_deliveries(url: str, account: SeededAccount, count: int, batch: str) -> list[bytes]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            payments = add_settlement_payments(conn, account, count, datetime.now(UTC), batch)
            conn.commit()
    finally:
        engine.dispose()
    return [webhooks.succeeded_event(intent, amount, "usd", reference) for reference, intent, amount in payments]


def stored_counts(url: str, customer_id: int) -> tuple[int, int]:
    """(Stripe events stored, the customer's settled payments)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            events = conn.scalar(select(func.count()).select_from(StripeEvent))
            settled = conn.scalar(select(func.count()).select_from(Payment).where(
                Payment.customer_id == customer_id, Payment.status == "succeeded"))
    finally:
        engine.dispose()
    return events, settled


# ------------------------------------------------------------------------------------------
# In-process: SQL statements per request, and where the time goes


class InProcess:
    """The bench app with the Flask test client, signed in through `sign_in_path` (an
    account's clerk, or a staff member)."""

    def __init__(self, url: str, secret_key: str, sign_in_path: str) -> None:
        root = logging.getLogger()
        if not root.handlers:  # the JSON log lines are formatted as in production, then dropped
            sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the process)
            sink.setFormatter(JsonFormatter())
            root.addHandler(sink)
        self.app = build_bench_app(url, secret_key)
        self.engine = self.app.extensions["portal"].engine
        self.client = self.app.test_client()
        self.get(sign_in_path)

    def get(self, path: str):
        response = self.client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        return response

    def post_webhook(self, payload: bytes, expect: str):
        response = self.client.post("/stripe/webhook", data=payload, headers={
            "Stripe-Signature": webhooks.signature_header(payload, WEBHOOK_SECRET),
            "Content-Type": "application/json"})
        check_webhook_answer(response.status_code, response.get_data(), expect)
        return response

    def statements(self, send) -> int:
        count = 0

        def record(*_args):
            nonlocal count
            count += 1

        event.listen(self.engine, "before_cursor_execute", record)
        try:
            send()
        finally:
            event.remove(self.engine, "before_cursor_execute", record)
        return count

    def close(self) -> None:
        self.engine.dispose()


def check_webhook_answer(status: int, body: bytes, expect: str) -> None:
    if status != 200:
        raise RuntimeError(f"POST /stripe/webhook answered {status}: {body[:300]!r}")
    answer = json.loads(body)
    if answer.get("duplicate") or expect not in answer.get("outcome", ""):
        raise RuntimeError(f"webhook outcome {answer!r}, expected {expect!r}")


def count_and_profile(url: str, secret_key: str, account: SeededAccount, profile_seconds: float,
                      profiles: dict) -> tuple[dict[str, int], dict[str, float]]:
    """SQL statements per request for every page and webhook; with `profile_seconds`, the
    in-process profile of every page (stored in `profiles`)."""
    prepared: list[bytes] = []

    def next_settlement() -> bytes:
        if not prepared and not batches:  # created after the pages were measured
            batches.append(1)
            prepared.extend(settlement_deliveries(url, account, 2 + int(profile_seconds * 400), "inproc"))
        if not prepared:
            raise RuntimeError("in-process profile ran out of payments to settle; lower --profile-seconds")
        return prepared.pop()

    sends = {name: (lambda path=path: target.get(path)) for name, path in page_paths(account).items()}
    target = InProcess(url, secret_key, "/bench/sign-in/" + account.contact_public_id)
    sends["webhook: unknown intent"] = lambda: target.post_webhook(
        webhooks.unknown_intent_events(1)[0], "ignored: unknown payment intent")
    sends["webhook: settlement"] = lambda: target.post_webhook(next_settlement(), "processing -> succeeded")
    sends["hello"] = lambda: target.get("/bench/hello")
    counts, medians, batches = {}, {}, []
    try:
        for name, send in sends.items():
            send()  # compile templates, warm the statement cache
            counts[name] = target.statements(send)
            if profile_seconds:
                medians[name], shares, samples = profile.profile_requests(send, profile_seconds)
                profiles[name] = (medians[name], shares, samples)
    finally:
        target.close()
        fail_leftovers(url, account)
    return counts, medians


def count_and_profile_staff(url: str, secret_key: str, staff: SeededStaff, disputes: SeededDisputes,
                            profile_seconds: float, profiles: dict) -> tuple[dict[str, int], dict[str, float]]:
    """The same for the staff pages, signed in as the measured analyst (the supervisor for the
    reports)."""
    members = {member: InProcess(url, secret_key, "/bench/staff-sign-in/" + member)
               for member in (staff.analyst_public_id, staff.supervisor_public_id)}
    analyst = members[staff.analyst_public_id]
    paths = staff_page_paths(disputes, staff)
    sends = {name: (members[staff_member_of(name, staff)], path) for name, path in paths.items()}
    sends["hello"] = (analyst, "/bench/hello")
    counts, medians = {}, {}
    try:
        for name, (member, path) in sends.items():
            def send(member=member, path=path):
                return member.get(path)

            send()
            counts[name] = member.statements(send)
            if profile_seconds:
                medians[name], shares, samples = profile.profile_requests(send, profile_seconds)
                profiles[name] = (medians[name], shares, samples)
    finally:
        for member in members.values():
            member.close()
    return counts, medians


def fail_leftovers(url: str, account: SeededAccount) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            fail_leftover_settlement_payments(conn, account)
            conn.commit()
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------
# gunicorn and wrk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(url: str, secret_key: str, log_path: Path, workers: int = WORKERS):
    port = free_port()
    env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_SECRET_KEY": secret_key}
    command = [
        sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "--chdir", str(REPO_ROOT), "--log-level", "warning",
        "bench.wsgi_app:app",
    ]
    with open(log_path, "ab") as log_file:
        server = subprocess.Popen(command, env=env, stdout=log_file, stderr=log_file, cwd=REPO_ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/bench/hello", server)
        yield base
    finally:
        server.terminate()  # SIGTERM: gunicorn's graceful shutdown of its own workers
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up; see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer in time")


def session_cookie(base: str, contact_public_id: str) -> str:
    return _cookie_from(f"{base}/bench/sign-in/{contact_public_id}", "portal_session")


def staff_cookie(base: str, staff_public_id: str) -> str:
    """The staff session's cookie, and the Flask session cookie the first admin page sets (its
    CSRF token, for the sign-out form): a browser sends both from then on."""
    staff = _cookie_from(f"{base}/bench/staff-sign-in/{staff_public_id}", STAFF_COOKIE)
    return f"{staff}; {_cookie_from(f'{base}/admin/', 'portal_session', cookie=staff)}"


def _cookie_from(url: str, name: str, cookie: str = "") -> str:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith(f"{name}="):
                return header.split(";", 1)[0]
    raise RuntimeError(f"{url} set no {name} cookie")


def warm_up(url: str, cookie: str | None, requests: int = 10) -> None:
    """Compile templates and open connections in every worker; fail on anything but 200."""
    for _ in range(requests):
        request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")


def warm_up_webhook(base: str, payloads: list[bytes], expect: str) -> None:
    for payload in payloads:
        request = urllib.request.Request(base + "/stripe/webhook", data=payload, method="POST", headers={
            "Content-Type": "application/json",
            "Stripe-Signature": webhooks.signature_header(payload, WEBHOOK_SECRET)})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                check_webhook_answer(response.status, response.read(), expect)
        except urllib.error.HTTPError as error:
            check_webhook_answer(error.code, error.read(), expect)


def drain(url: str, slowest_seconds: float, timeout: float = 60) -> None:
    """Wait until the workers have answered the requests wrk left queued when it stopped (on a
    slow page, seconds of work), so they do not count against the next run: as long as the
    slowest request of the run took, then until hello answers quickly three times running."""
    time.sleep(min(slowest_seconds, 10))
    base = url.split("/", 3)
    hello = "/".join(base[:3]) + "/bench/hello"
    deadline, quick = time.monotonic() + timeout, 0
    while quick < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not become idle after a wrk run")
        started = time.monotonic()
        warm_up(hello, None, requests=1)
        quick = quick + 1 if time.monotonic() - started < 0.05 else 0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _latency_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {percentile}% latency in wrk's output:\n{output}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, duration: int, cookie: str | None = None, script_args: list[str] | None = None) -> Measure:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    if script_args is not None:
        command += ["-s", str(LUA_SCRIPT), url, "--", *script_args]
    else:
        command += [url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    slowest = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)", output, re.MULTILINE)
    drain(url, float(slowest.group(1)) * _UNITS[slowest.group(2)] / 1000 if slowest else 1.0)
    problems = [m.group(0) for m in (re.search(r"Non-2xx or 3xx responses: \d+", output),
                                     re.search(r"Socket errors: .*", output)) if m]
    if problems:
        raise RuntimeError(f"{url}: {'; '.join(problems)}\n{output}")
    return Measure(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_latency_ms(output, "50"), p99_ms=_latency_ms(output, "99"),
        requests=int(re.search(r"(\d+) requests in", output).group(1)),
    )


def measure_webhook(base: str, url: str, account: SeededAccount, duration: int, payloads: list[bytes],
                    expect: str, workdir: Path, settled: bool) -> Measure:
    """Run wrk with one new signed delivery per request, then check that every request was a
    new event that did what it should."""
    warm, payloads = payloads[:10], payloads[10:]
    warm_up_webhook(base, warm, expect)
    events_before, settled_before = stored_counts(url, account.customer_id)
    deliveries = workdir / "deliveries.txt"
    webhooks.write_deliveries(deliveries, payloads, WEBHOOK_SECRET)
    result = wrk(base + "/stripe/webhook", duration, script_args=[str(deliveries), str(WRK_THREADS)])
    events_after, settled_after = stored_counts(url, account.customer_id)
    # Every request must have been a new event (a thread that ran out repeats its last one,
    # answered as a duplicate and stored once). wrk counts completed requests; a few more may
    # have been answered as it stopped, hence "at least".
    if events_after - events_before < result.requests:
        raise RuntimeError(f"{expect}: {result.requests} requests stored only {events_after - events_before} events")
    if settled and settled_after - settled_before < result.requests:
        raise RuntimeError(f"{expect}: {result.requests} requests settled only {settled_after - settled_before}")
    return result


# ------------------------------------------------------------------------------------------


def run_database(kind: str, args, workdir: Path, profiles: dict) -> list[SizeResult]:
    secret_key = secrets.token_urlsafe(48)
    database = sqlite_database(workdir) if kind == "sqlite" else postgresql_database()
    results = []
    with database as url:
        log(f"{kind}: building and seeding")
        accounts, staff = build_and_seed(url, args.sizes, args.others, args.others_invoices)
        counted = {}
        for account in accounts:
            profile_here = args.profile_seconds if account.invoice_count in (min(args.sizes), max(args.sizes)) else 0
            counted[account.invoice_count] = count_and_profile(
                url, secret_key, account, profile_here,
                profiles.setdefault((kind, "customer", account.invoice_count), {}))
            log(f"  {account.invoice_count} invoices: SQL per request {counted[account.invoice_count][0]}")
        with gunicorn(url, secret_key, workdir / f"gunicorn-{kind}.log", args.workers) as base:
            warm_up(base + "/bench/hello", None)
            for account in accounts:
                cookie = session_cookie(base, account.contact_public_id)
                paths = page_paths(account)
                for path in paths.values():
                    warm_up(base + path, cookie)
                result = SizeResult(kind, account.invoice_count, "customer")
                result.sql, result.in_process_ms = counted[account.invoice_count]
                hello = hello_meter(result, base, args.duration)
                before = measure_pages(result, hello, base, paths, args.duration, cookie)
                budget = int(max(m.rps for m in result.hello_runs) * args.duration) + 500
                result.pages["webhook: unknown intent"] = measure_webhook(
                    base, url, account, args.duration, webhooks.unknown_intent_events(budget),
                    "ignored: unknown payment intent", workdir, settled=False)
                after = hello()
                result.hello_reference["webhook: unknown intent"], before = (before + after) / 2, after
                result.pages["webhook: settlement"] = measure_webhook(
                    base, url, account, args.duration, settlement_deliveries(url, account, budget, "wrk"),
                    "processing -> succeeded", workdir, settled=True)
                result.hello_reference["webhook: settlement"] = (before + hello()) / 2
                fail_leftovers(url, account)
                results.append(result)
                log(f"  {kind} {account.invoice_count}: hello {result.hello_rps:,.0f} req/s; " + ", ".join(
                    f"{name} {result.ratio(name):.1%}" for name in result.pages))
            for total in args.staff_sizes:
                results.append(measure_staff_side(url, secret_key, base, kind, staff, total, args, profiles))
    return results


def hello_meter(result: SizeResult, base: str, duration: float):
    """A function that runs wrk on hello world (a little shorter than a page's run), records the
    run in `result` and returns its req/s."""
    seconds = max(2, round(duration * 0.6))

    def hello() -> float:
        result.hello_runs.append(wrk(base + "/bench/hello", seconds))
        return result.hello_runs[-1].rps

    return hello


def measure_pages(result: SizeResult, hello, base: str, paths: dict[str, str], duration: float,
                  cookie: str) -> float:
    """wrk on each page, with hello world before and after it: a page's reference is the mean
    of the two. Returns the last hello's req/s (the next measurement's "before")."""
    before = hello()
    for name, path in paths.items():
        result.pages[name] = wrk(base + path, duration, cookie)
        after = hello()
        result.hello_reference[name], before = (before + after) / 2, after
    return before


def measure_staff_side(url: str, secret_key: str, base: str, kind: str, staff: SeededStaff, total: int, args,
                       profiles: dict) -> SizeResult:
    """With `total` active disputes: the staff pages' statements and profile in-process, then
    wrk on each with hello before and after, as for the customer pages."""
    started = time.monotonic()
    disputes = add_disputes(url, staff, total, max(args.staff_sizes))
    profile_here = args.profile_seconds if total in (min(args.staff_sizes), max(args.staff_sizes)) else 0
    result = SizeResult(kind, total, "staff")
    result.sql, result.in_process_ms = count_and_profile_staff(
        url, secret_key, staff, disputes, profile_here, profiles.setdefault((kind, "staff", total), {}))
    log(f"  {total} active disputes: SQL per request {result.sql}")
    hello = hello_meter(result, base, args.duration)
    paths = staff_page_paths(disputes, staff)
    for member in dict.fromkeys(staff_member_of(name, staff) for name in paths):
        cookie = staff_cookie(base, member)
        mine = {name: path for name, path in paths.items() if staff_member_of(name, staff) == member}
        for path in mine.values():
            warm_up(base + path, cookie)
        measure_pages(result, hello, base, mine, args.duration, cookie)
    log(f"  {kind} staff, {total} disputes: hello {result.hello_rps:,.0f} req/s; " + ", ".join(
        f"{name} {result.ratio(name):.1%}" for name in result.pages) + f" ({time.monotonic() - started:.0f} s)")
    return result


# ------------------------------------------------------------------------------------------
# Report


def machine_description() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} cores{f' ({model})' if model else ''}")


def markdown(results: list[SizeResult], profiles: dict, args) -> str:
    out = [
        f"Run {date.today().isoformat()} on {machine_description()}; load average before the run "
        f"{args.load_before}.",
        f"gunicorn {args.workers} sync workers, `wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{args.duration}s --latency` per "
        f"page, hello world for {max(2, round(args.duration * 0.6))} s before and after each page (the page's % is "
        f"of the mean of those two), production mode; {args.others} other customers of {args.others_invoices} "
        "invoices each in the database. Staff pages signed in as an analyst who owns 80 % of the active disputes "
        "(the receivables as a supervisor; the customer page is the largest account's timeline).",
        "",
    ]
    for kind in dict.fromkeys(r.database for r in results):
        for side, (pages, unit) in SIDES.items():
            rows = [r for r in results if r.database == kind and r.side == side]
            if not rows:
                continue
            out += [f"#### {kind}" + (" — staff pages" if side == "staff" else ""), "",
                    f"| page | {unit} | req/s | % of hello | p50 ms | p99 ms | SQL / request | in-process ms |",
                    "|---|---:|---:|---:|---:|---:|---:|---:|"]
            for r in rows:
                low, high = min(m.rps for m in r.hello_runs), max(m.rps for m in r.hello_runs)
                p50 = sorted(m.p50_ms for m in r.hello_runs)[len(r.hello_runs) // 2]
                p99 = sorted(m.p99_ms for m in r.hello_runs)[len(r.hello_runs) // 2]
                out.append(f"| *hello* (mean of {len(r.hello_runs)} runs, {low:,.0f}–{high:,.0f}) | {r.size:,} | "
                           f"{r.hello_rps:,.0f} | 100% | {p50:.1f} | {p99:.1f} | {r.sql.get('hello', 0)} | "
                           f"{_ms(r.in_process_ms.get('hello'))} |")
            for name in pages:
                for r in rows:
                    m = r.pages[name]
                    out.append(f"| {name} | {r.size:,} | {m.rps:,.0f} | {r.ratio(name):.1%} | {m.p50_ms:.1f} | "
                               f"{m.p99_ms:.1f} | {r.sql[name]} | {_ms(r.in_process_ms.get(name))} |")
            out.append("")
    out += targets(results)
    if profiles:
        out += ["", "#### Where the time goes (in-process, Flask test client, share of sampled time)", "",
                "| database | size | page | ms | " + " | ".join(profile.PARTS) + " |",
                "|---|---:|---|---:|" + "---:|" * len(profile.PARTS)]
        for (kind, side, size), pages in profiles.items():
            for name, (median, shares, _samples) in pages.items():
                out.append(f"| {kind} | {size:,} {SIDES[side][1]} | {name} | {median:.1f} | "
                           + " | ".join(f"{shares[p]:.0%}" for p in profile.PARTS) + " |")
    return "\n".join(out)


def _ms(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "–"


def targets(results: list[SizeResult]) -> list[str]:
    """Whether each page meets the targets: >= 20 % of hello at the smallest size, within 1.5x
    of that at the largest, the same SQL count at every size (invoices in the account for the
    customer pages, active disputes for the staff pages)."""
    lines = ["#### Targets", "",
             f"At least {MIN_RATIO_AT_SMALLEST:.0%} of hello at the smallest size; at the largest no more than "
             f"{MAX_SLOWDOWN_AT_LARGEST}x slower than at the smallest; the same SQL count at every size.", "",
             "| database | page | % of hello (smallest → largest) | ≥ 20 % | flat (≤ 1.5x) | SQL constant | met |",
             "|---|---|---|:-:|:-:|:-:|:-:|"]
    for kind in dict.fromkeys(r.database for r in results):
        for side, (pages, _unit) in SIDES.items():
            rows = sorted((r for r in results if r.database == kind and r.side == side), key=lambda r: r.size)
            if not rows:
                continue
            small, large = rows[0], rows[-1]
            for name in pages:
                fast = small.ratio(name) >= MIN_RATIO_AT_SMALLEST
                flat = large.ratio(name) * MAX_SLOWDOWN_AT_LARGEST >= small.ratio(name)
                constant = len({r.sql[name] for r in rows}) == 1
                trend = " → ".join(f"{r.ratio(name):.1%}" for r in rows)
                yes = {True: "yes", False: "**no**"}
                lines.append(f"| {kind} | {name} | {trend} | {yes[fast]} | {yes[flat]} | {yes[constant]} | "
                             f"{yes[fast and flat and constant]} |")
    return lines


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,5000,50000", help="invoices in the measured account, comma-separated")
    parser.add_argument("--staff-sizes", default="200,5000",
                        help="active disputes when the staff pages are measured, comma-separated (empty: none)")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help=f"gunicorn sync workers, for hello world and every page alike (default {WORKERS})")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--others", type=int, default=200, help="other customers in the database (default 200)")
    parser.add_argument("--others-invoices", type=int, default=30, help="invoices per other customer (default 30)")
    parser.add_argument("--profile-seconds", type=float, default=2.0,
                        help="in-process profile per page at the smallest and largest size (0: none)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: SQLite, 200 invoices, 20 other customers, 50 and 200 active disputes, "
                             "2 s runs, short profile")
    parser.add_argument("--out", type=Path, help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.db, args.duration, args.others, args.profile_seconds = "200", "sqlite", 2, 20, 0.5
        args.staff_sizes = "50,200"
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    args.staff_sizes = sorted(int(s) for s in args.staff_sizes.split(",") if s.strip())
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    if any(k not in ("sqlite", "postgresql") for k in kinds):
        parser.error("--db takes sqlite and/or postgresql")
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())

    started = time.monotonic()
    results: list[SizeResult] = []
    profiles: dict = {}
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        for kind in kinds:
            results += run_database(kind, args, Path(tmp), profiles)
    report = markdown(results, profiles, args)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    log(f"\n(total run time {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
