"""The ERP connection from the command line.

- `flask --app wsgi import-invoices FILE`: import customers, contacts, invoices, credit notes
  and voids from the ERP's CSV (docs/erp-import.md), whole or not at all; prints
  "N created, N updated, N unchanged", or each row's error with its line (exit status 1).
- `flask --app wsgi export-cash --since CURSOR [--output FILE]`: the cash rows (payments'
  allocations, credit notes, refunds, chargebacks and reversals) after the cursor, as CSV to
  stdout or FILE; the next cursor goes to stderr (`next_cursor=...`) and is each row's
  `cursor` column.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
from flask import Flask

from portal.cli import command_context, command_session, services_of
from portal.domain.core.audit import Actor
from portal.domain.exports.queries import COLUMNS, CursorInvalid, all_cash_since, parse_cursor
from portal.domain.imports.policy import MAX_IMPORT_BYTES
from portal.domain.imports.service import ImportRefused, import_erp_file


# Below this many rows written, autovacuum and the daily `db analyze` keep up by themselves.
TIDY_AFTER_ROWS = 1_000
TIDIED_TABLES = ("invoices", "invoice_lines", "invoice_entries", "account_totals", "account_due_dates", "erp_records")


def tidy_after_import(engine) -> None:
    """After a bulk import has committed. On PostgreSQL each imported invoice moved its
    maintained balance and its customer's totals by trigger, one row version each time, all
    in one transaction: dead versions no vacuum could remove while it ran (see
    docs/benchmarks.md). A plain VACUUM (no table lock beyond what normal writes take) frees
    them for reuse and ANALYZE gives the planner the new sizes. SQLite: ANALYZE."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(TIDIED_TABLES)}")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def register(app: Flask) -> None:
    @app.cli.command("import-invoices")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--tidy/--no-tidy", default=True, show_default=True,
                  help=f"After importing {TIDY_AFTER_ROWS} rows or more: VACUUM (ANALYZE) the tables the "
                       "import rewrote (PostgreSQL), ANALYZE (SQLite).")
    def import_invoices_command(file: Path, tidy: bool) -> None:
        """Import the ERP's customers, contacts, invoices, credit notes and voids from a CSV file."""
        with file.open("rb") as stream:
            data = stream.read(MAX_IMPORT_BYTES + 1)
        try:
            with command_context(app, Actor.system("import-invoices")) as ctx:
                report = import_erp_file(ctx, data, source=file.name)
        except ImportRefused as refused:
            click.echo(refused.message, err=True)
            for error in refused.errors:
                click.echo(f"  {error}", err=True)
            sys.exit(1)
        click.echo(report.summary())
        if tidy and report.created + report.updated >= TIDY_AFTER_ROWS:
            tidy_after_import(services_of(app).engine)
            click.echo("planner statistics refreshed" + (" and dead row versions vacuumed"
                                                         if services_of(app).engine.dialect.name == "postgresql"
                                                         else ""))

    @app.cli.command("export-cash")
    @click.option("--since", "since", default="", help="The next_cursor of the previous export (empty: from the start).")
    @click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
                  help="Write the CSV here instead of stdout.")
    def export_cash_command(since: str, output: Path | None) -> None:
        """Export the cash rows after a cursor as CSV, for the ERP to apply once each."""
        try:
            cursor = parse_cursor(since)
        except CursorInvalid as invalid:
            raise click.BadParameter(invalid.message, param_hint="--since") from None
        with command_session(app) as db:
            stream = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
            try:
                writer = csv.writer(stream, lineterminator="\r\n")
                writer.writerow(COLUMNS)
                rows, final = all_cash_since(db, cursor)
                count = 0
                for row in rows:
                    writer.writerow(row.cells())
                    count += 1
            finally:
                if output:
                    stream.close()
        click.echo(f"{count} rows; next_cursor={final[0]}", err=True)
