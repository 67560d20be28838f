"""Reading back the PDFs the portal serves: their text, page by page (pypdf)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import template_rendered
from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.formatting_structure.boxes import TextBox

# Stripe object ids as they look anywhere (pi_..., ch_..., cus_..., pm_..., a client secret).
STRIPE_ID = re.compile(r"\b(?:pi|ch|py|cus|pm|tok|ctoken|card|src|seti|re|evt|txn|acct|in)_[A-Za-z0-9]{6,}")


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page, whitespace runs collapsed to one space."""
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def pdf_text(pdf: bytes) -> str:
    return "\n".join(pdf_pages(pdf))



@contextmanager
def documents_rendered(app) -> Iterator[list[str]]:
    """The HTML of each `pdf/` document `app` renders meanwhile, as WeasyPrint is given it
    (Flask's `template_rendered` signal)."""
    documents: list[str] = []

    def record(_sender, template, context, **_extra):
        if template.name.startswith("pdf/"):
            documents.append(template.render(context))

    template_rendered.connect(record, app)
    try:
        yield documents
    finally:
        template_rendered.disconnect(record, app)


def text_past_the_right_margin(html: str) -> list[str]:
    """Each piece of text that WeasyPrint lays out beyond the page's right margin: a table
    wider than the page is cut off there."""
    past = []
    for number, page in enumerate(HTML(string=html).render().pages, start=1):
        box = page._page_box
        right = box.content_box_x() + box.width
        past.extend(f"page {number}: {text.text!r} ends {text.position_x + text.width - right:.0f}px past the margin"
                    for text in box.descendants()
                    if isinstance(text, TextBox) and text.position_x + text.width > right + 0.5)
    return past
