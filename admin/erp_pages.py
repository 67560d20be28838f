"""The ERP connection for staff: upload an import file (IMPORT_INVOICES) and download the cash
rows since a cursor (EXPORT_CASH). The same domain calls as `import-invoices` and
`export-cash` (portal/cli/erp.py)."""

from __future__ import annotations

import csv
import io

from flask import Response, flash, redirect, render_template, request, url_for

from portal.domain.attachments.policy import sanitise_display_name
from portal.domain.exports.queries import COLUMNS, MAX_PAGE, CursorInvalid, all_cash_since, parse_cursor
from portal.domain.imports.policy import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, RowError
from portal.domain.imports.service import ImportRefused, import_erp_file
from portal.domain.staff.policy import Permission
from portal.forms.fields import first_value
from portal.web.context import db, request_context

from . import bp
from .auth import staff_actor
from .permissions import requires

FILE_FIELD = "file"
# Room for the form's other fields and the multipart framing around the file.
FORM_ROOM_BYTES = 64 * 1024


def _page(*, error: str | None = None, errors: list[RowError] | None = None, since: str = "", status: int = 200):
    return render_template("admin/erp.html", error=error, errors=errors or [], since=since,
                           max_mb=MAX_IMPORT_BYTES // (1024 * 1024), max_rows=MAX_IMPORT_ROWS,
                           max_export=MAX_PAGE), status


@bp.get("/erp")
@requires(Permission.IMPORT_INVOICES)
def erp():
    return _page()


@bp.post("/erp/import")
@requires(Permission.IMPORT_INVOICES)
def erp_import():
    too_large = f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB: split it. Nothing was imported."
    if (request.content_length or 0) > MAX_IMPORT_BYTES + FORM_ROOM_BYTES:
        return _page(error=too_large, status=413)
    upload = request.files.get(FILE_FIELD)
    if upload is None or not upload.filename:
        return _page(error="Choose the CSV file to import.", status=400)
    data = upload.stream.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return _page(error=too_large, status=413)
    name = sanitise_display_name(upload.filename) or "upload.csv"
    try:
        report = import_erp_file(request_context(staff_actor()), data, source=name)
    except ImportRefused as refused:
        db().rollback()
        return _page(error=refused.message, errors=refused.errors, status=400)
    flash(f"{name}: {report.summary()}.", "success")
    return redirect(url_for("admin.erp"))


@bp.get("/erp/cash.csv")
@requires(Permission.EXPORT_CASH)
def erp_cash_export():
    since = first_value(request.args, "since", 60).strip()
    try:
        cursor = parse_cursor(since)
    except CursorInvalid as invalid:
        return _page(error=invalid.message, status=400)
    rows, final = all_cash_since(db(), cursor, max_rows=MAX_PAGE)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row.cells())
    next_cursor = str(final[0])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="cash-since-{cursor}.csv"'
    response.headers["X-Next-Cursor"] = next_cursor
    response.headers["Cache-Control"] = "private, no-store"
    return response
