"""Benchmark the invoice list page against hello world, on SQLite and PostgreSQL.

    python -m bench.run_invoice_list [--duration 10] [--counts 50,200,400] [--databases sqlite,postgresql]

For each database: build it with the migrations (SQLite: a file in a temporary directory;
PostgreSQL: a throwaway database, dropped at the end), seed one customer per invoice count,
count the SQL statements of the list, overview and invoice pages in-process, then start
gunicorn (2 sync workers) on 127.0.0.1 with `bench.wsgi_app` and run
`wrk -t2 -c16 -d<duration>s` against `/bench/hello` and right after against `/invoices` (the
default first page) for each customer. Prints a markdown table; req/s are only comparable
within one run on one machine, so the ratio list/hello is the figure to watch.

Needs `wrk` on PATH, and for PostgreSQL a server where BENCH_POSTGRES_URL (default
postgres@127.0.0.1:5432/postgres) may create databases. About 2.5 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, UTC
from pathlib import Path

from sqlalchemy import create_engine, event, text

from portal import migrate
from portal.domain.core.database import make_engine, make_session_factory

from .seed import SeededCustomer, seed_customer

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WORKERS = 2
WRK_THREADS = 2
WRK_CONNECTIONS = 16


@dataclass
class Result:
    database: str
    invoices: int
    hello_rps: float
    list_rps: float
    queries: dict[str, int]
    in_process_ms: dict[str, float] | None = None

    @property
    def ratio(self) -> float:
        return self.list_rps / self.hello_rps if self.hello_rps else 0.0


# ------------------------------------------------------------------------------------------
# Databases


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


def build_and_seed(url: str, counts: list[int]) -> list[SeededCustomer]:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            now = datetime.now(UTC)
            seeded = [seed_customer(session, count, f"N{count}", now) for count in counts]
            session.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return seeded


# ------------------------------------------------------------------------------------------
# SQL statements per page, counted in-process with the Flask test client


def count_queries(url: str, secret_key: str, customer: SeededCustomer) -> dict[str, int]:
    from .wsgi_app import build_bench_app

    app = build_bench_app(url, secret_key)
    engine = app.extensions["portal"].engine
    client = app.test_client()
    client.get(f"/bench/sign-in/{customer.contact_public_id}")
    counts = {}
    for name, path in (("list", "/invoices"), ("overview", "/account"),
                       ("invoice", f"/invoices/{customer.sample_invoice_public_id}")):
        statements: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)  # noqa: B023 (listener removed before the next loop)

        event.listen(engine, "before_cursor_execute", record)
        try:
            response = client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        counts[name] = len(statements)
    engine.dispose()
    return counts


def in_process_milliseconds(url: str, secret_key: str, customer: SeededCustomer, repeats: int = 40) -> dict[str, float]:
    """Median wall time of one request through the Flask test client (no server, no wrk).

    Less sensitive than req/s to other work on a shared machine, so it is printed beside it.
    """
    from .wsgi_app import build_bench_app

    app = build_bench_app(url, secret_key)
    logging.getLogger("portal.access").disabled = True  # not part of the page's own cost
    client = app.test_client()
    client.get(f"/bench/sign-in/{customer.contact_public_id}")
    medians = {}
    try:
        for name, path in (("hello", "/bench/hello"), ("list", "/invoices")):
            for _ in range(5):
                client.get(path)
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
            medians[name] = statistics.median(samples)
    finally:
        logging.getLogger("portal.access").disabled = False
        app.extensions["portal"].engine.dispose()
    return medians


# ------------------------------------------------------------------------------------------
# gunicorn and wrk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(url: str, secret_key: str, log_path: Path):
    port = free_port()
    env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_SECRET_KEY": secret_key}
    command = [
        sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "--chdir", str(REPO_ROOT), "--log-level", "warning",
        "bench.wsgi_app:app",
    ]
    with open(log_path, "ab") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=REPO_ROOT)
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


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 20) -> None:
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
    with urllib.request.urlopen(f"{base}/bench/sign-in/{contact_public_id}", timeout=5) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("portal_session="):
                return header.split(";", 1)[0]
    raise RuntimeError("the sign-in route set no session cookie")


def warm_up(url: str, cookie: str | None, requests: int = 20) -> None:
    """Compile templates and open connections in both workers before measuring."""
    for _ in range(requests):
        request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")


def wrk(url: str, duration: int, cookie: str | None = None) -> float:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


# ------------------------------------------------------------------------------------------


def run_database(kind: str, counts: list[int], duration: int, workdir: Path) -> list[Result]:
    secret_key = secrets.token_urlsafe(48)
    database = sqlite_database(workdir) if kind == "sqlite" else postgresql_database()
    results = []
    with database as url:
        seeded = build_and_seed(url, counts)
        queries = {customer.invoice_count: count_queries(url, secret_key, customer) for customer in seeded}
        timings = {customer.invoice_count: in_process_milliseconds(url, secret_key, customer) for customer in seeded}
        with gunicorn(url, secret_key, workdir / f"gunicorn-{kind}.log") as base:
            warm_up(base + "/bench/hello", None)
            for customer in seeded:
                cookie = session_cookie(base, customer.contact_public_id)
                warm_up(base + "/invoices", cookie)
                hello = wrk(base + "/bench/hello", duration)
                listing = wrk(base + "/invoices", duration, cookie)
                results.append(Result(kind, customer.invoice_count, hello, listing,
                                      queries[customer.invoice_count], timings[customer.invoice_count]))
                print(f"  {kind:10} {customer.invoice_count:4} invoices: hello {hello:8.1f} req/s, "
                      f"list {listing:8.1f} req/s", file=sys.stderr, flush=True)
    return results


def machine_description() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, Python {platform.python_version()}, " \
           f"{os.cpu_count()} cores{f' ({model})' if model else ''}"


def markdown(results: list[Result], duration: int) -> str:
    lines = [
        f"Run {date.today().isoformat()} on {machine_description()}.",
        f"gunicorn {WORKERS} sync workers, `wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{duration}s`, "
        "page 1 (25 rows) of the invoice list, production mode.",
        "",
        "| database | invoices | hello req/s | list req/s | list / hello | in-process ms hello / list "
        "| SQL: list | SQL: overview | SQL: invoice |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        timing = f"{r.in_process_ms['hello']:.2f} / {r.in_process_ms['list']:.1f}" if r.in_process_ms else "–"
        lines.append(
            f"| {r.database} | {r.invoices} | {r.hello_rps:,.0f} | {r.list_rps:,.0f} | {r.ratio:.1%} | {timing} | "
            f"{r.queries['list']} | {r.queries['overview']} | {r.queries['invoice']} |"
        )
    for kind in dict.fromkeys(r.database for r in results):
        per_count = {r.invoices: r.queries for r in results if r.database == kind}
        constant = len({tuple(sorted(q.items())) for q in per_count.values()}) == 1
        lines.append("")
        lines.append(f"{kind}: SQL statements per page "
                     f"{'do not change' if constant else 'CHANGE'} with the number of invoices.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--counts", default="50,200,400", help="invoice counts, comma-separated")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite and/or postgresql")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]

    started = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        for kind in kinds:
            results += run_database(kind, counts, args.duration, Path(tmp))
    print(markdown(results, args.duration))
    print(f"\n(total run time {time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
