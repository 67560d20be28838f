"""Reading back the PDFs the portal serves: their text, page by page (pypdf)."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

# Stripe object ids as they look anywhere (pi_..., ch_..., cus_..., pm_..., a client secret).
STRIPE_ID = re.compile(r"\b(?:pi|ch|py|cus|pm|tok|ctoken|card|src|seti|re|evt|txn|acct|in)_[A-Za-z0-9]{6,}")


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page, whitespace runs collapsed to one space."""
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def pdf_text(pdf: bytes) -> str:
    return "\n".join(pdf_pages(pdf))
