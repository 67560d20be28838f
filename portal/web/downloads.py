"""Serving a stored attachment: always a download, never a page (SECURITY.md U1, U3).

`download_response` is what a route calls once it has checked that the signed-in customer or
staff member may see the file (through the owner's link table). The response:

- `Content-Disposition: attachment` with the display name as RFC 6266 `filename` (ASCII) and,
  for other names, RFC 5987 `filename*=UTF-8''...` (werkzeug's `send_file` writes both; the
  name was sanitised when stored, so it holds no CR, LF or other control character, and
  werkzeug quotes `"` and `\\`);
- the stored content type, which is one of the allowlist's (checked again here), with
  `X-Content-Type-Options: nosniff` so no browser guesses another;
- `Content-Security-Policy: default-src 'none'; sandbox`: were it ever rendered, it could
  run nothing, load nothing and reach no cookie of ours;
- `Cache-Control: private, no-store`.

A file still being scanned, or found infected, is answered 409 with a message saying so.
"""

from __future__ import annotations

from flask import Response, send_file
from flask_babel import gettext

from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.policy import FileNotServable, sanitise_display_name
from portal.domain.attachments.service import open_stored_file
from portal.domain.attachments.states import ScanStatus
from portal.domain.attachments.storage import FileStorage
from portal.web.errors import error_response
from portal.web.i18n import refusal_message

DOWNLOAD_CSP = "default-src 'none'; sandbox"


def download_response(stored: StoredFile, storage: FileStorage):
    try:
        stream = open_stored_file(storage, stored)
    except FileNotServable as refusal:
        pending = stored.scan_status == ScanStatus.PENDING
        return error_response(409, refusal_message(refusal),
                              title=gettext("Not available yet") if pending else gettext("Not available"))
    # Sanitised when stored; sanitised again so that no row, however it was written, can put a
    # line break into the header (werkzeug would answer 500 for it).
    name = sanitise_display_name(stored.display_name) or "attachment"
    response: Response = send_file(
        stream, mimetype=stored.content_type, as_attachment=True, download_name=name,
        conditional=False, etag=False, max_age=None,
    )
    response.content_length = stored.size_bytes
    headers = response.headers
    # Exactly the stored type: no charset is claimed for a CSV whose encoding we did not choose.
    headers["Content-Type"] = stored.content_type
    headers["Content-Security-Policy"] = DOWNLOAD_CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cache-Control"] = "private, no-store"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
