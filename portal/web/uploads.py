"""The files a form posted, handed to a domain call (which checks its own step, then stores them).

The form's file input is `<input type="file" name="files" multiple>` in a
`multipart/form-data` form; `form_limits` gives the template the numbers it tells the user.
A body larger than the limits allow is cut off before it is read (413, `portal.web.errors`).
"""

from __future__ import annotations

from flask import request

from portal.domain.attachments.policy import ALLOWED_LIST_TEXT, KINDS_BY_EXTENSION, size_text
from portal.domain.core.locales import translate
from portal.domain.attachments.service import Uploads
from portal.web.context import services
from portal.web.i18n import current_language

FILES_FIELD = "files"
# What the browser's file picker offers (the server decides by the content all the same).
ACCEPT = ",".join(KINDS_BY_EXTENSION)


def posted_uploads(field: str = FILES_FIELD) -> Uploads:
    return services().file_store.uploads(request.files.getlist(field))


def files_were_posted(field: str = FILES_FIELD) -> bool:
    """Whether the form sent files: a refused form shown again cannot keep them (browsers do
    not refill a file input), so the page asks for them again."""
    return any(part.filename for part in request.files.getlist(field))


def form_limits() -> dict[str, str]:
    """The upload rules a form states next to its file input, in the page's language."""
    limits = services().file_store.limits
    language = current_language()
    return {"accept": ACCEPT, "kinds": translate(ALLOWED_LIST_TEXT, language), "max_files": str(limits.max_files),
            "max_file": size_text(limits.max_file_bytes).render(language),
            "max_request": size_text(limits.max_request_bytes).render(language)}
