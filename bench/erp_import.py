"""How long the ERP import takes for a large file, on SQLite and PostgreSQL.

    python -m bench.erp_import                        # 10,000 invoices, both databases
    python -m bench.erp_import --invoices 2000 --db sqlite

Builds a throwaway database with the migrations (bench.run's helpers), writes one CSV with
`--customers` customers (one contact each) and `--invoices` invoices of two lines, and times,
each in its own transaction as `import-invoices` runs it: the first import, the same file
again (every row unchanged), and on PostgreSQL the dead row versions the import's triggers
left in the maintained tables and the `VACUUM (ANALYZE)` the command runs afterwards
(`portal.cli.erp.tidy_after_import`). Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.run import postgresql_database, sqlite_database
from portal.cli.erp import tidy_after_import
from portal.domain.core.audit import Actor
from portal.domain.core.clock import FixedClock
from portal.domain.core.context import Context
from portal.domain.core.database import make_engine, make_session_factory, writing_session
from portal.domain.imports.service import import_erp_file
from portal.migrate import upgrade as upgrade_database

HEADER = ["record", "erp_id", "customer_erp_id", "invoice_erp_id", "account_number", "name", "email", "timezone",
          "number", "currency", "issue_date", "due_date", "description", "quantity", "unit_price", "total"]
MAINTAINED = ("invoices", "invoice_entries", "account_totals", "account_due_dates")


def import_file(customers: int, invoices: int) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\r\n")
    writer.writeheader()
    for c in range(customers):
        writer.writerow({"record": "customer", "erp_id": f"C{c}", "account_number": f"BENCH-{c:05d}",
                         "name": f"Customer {c}", "timezone": "Europe/London"})
        writer.writerow({"record": "contact", "erp_id": f"P{c}", "customer_erp_id": f"C{c}",
                         "email": f"ap{c}@customer{c}.example", "name": "Accounts payable"})
    start = date(2026, 1, 5)
    for n in range(invoices):
        issued = start + timedelta(days=n % 300)
        writer.writerow({"record": "invoice", "erp_id": f"I{n}", "customer_erp_id": f"C{n % customers}",
                         "number": f"BI-{n:07d}", "currency": "USD", "issue_date": issued.isoformat(),
                         "due_date": (issued + timedelta(days=30)).isoformat(), "total": f"{(n % 900) + 150}.00"})
        writer.writerow({"record": "line", "invoice_erp_id": f"I{n}", "description": "Widgets", "quantity": "1",
                         "unit_price": "100.00"})
        writer.writerow({"record": "line", "invoice_erp_id": f"I{n}", "description": "Service", "quantity": "1",
                         "unit_price": f"{(n % 900) + 50}.00"})
    return out.getvalue().encode()


def dead_rows(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT relname, n_dead_tup FROM pg_stat_user_tables WHERE relname = ANY(:t)"),
                            {"t": list(MAINTAINED)}).all()
    return dict(rows)


def timed_import(session_factory, data: bytes) -> tuple[float, str]:
    clock = FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    began = time.perf_counter()
    db = writing_session(session_factory)
    try:
        report = import_erp_file(Context(db=db, clock=clock, actor=Actor.system("bench")), data, source="bench.csv")
        db.commit()
    finally:
        db.close()
    return time.perf_counter() - began, report.summary()


def run(kind: str, url: str, data: bytes, invoices: int) -> list[str]:
    upgrade_database(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    first, first_report = timed_import(factory, data)
    lines = [f"| {kind} | first import | {first:.1f} s | {invoices / first:,.0f} invoices/s | {first_report} |"]
    if kind == "postgresql":
        time.sleep(1)  # the statistics collector reports with a short delay
        dead = dead_rows(engine)
        began = time.perf_counter()
        tidy_after_import(engine)
        lines.append(f"| {kind} | VACUUM (ANALYZE) after | {time.perf_counter() - began:.1f} s | | dead row versions "
                     f"before: {', '.join(f'{t} {dead.get(t, 0):,}' for t in MAINTAINED)} |")
    again, again_report = timed_import(factory, data)
    lines.append(f"| {kind} | same file again | {again:.1f} s | {invoices / again:,.0f} invoices/s | {again_report} |")
    engine.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    data = import_file(args.customers, args.invoices)
    print(f"{args.invoices:,} invoices (2 lines each), {args.customers} customers, {len(data) / 1e6:.1f} MB, "
          f"{os.cpu_count()} cores")
    print("| database | step | time | rate | result |\n|---|---|---|---|---|")
    for kind in args.db.split(","):
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as workdir, sqlite_database(Path(workdir)) as url:
                lines = run(kind, url, data, args.invoices)
        else:
            with postgresql_database() as url:
                lines = run(kind, url, data, args.invoices)
        print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
