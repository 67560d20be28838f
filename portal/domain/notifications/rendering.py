"""Rendering emails from `portal/templates/email/` with plain Jinja2 (no Flask needed).

Each email NAME has `NAME.subject.txt`, `NAME.txt` and optionally `NAME.html`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment, PackageLoader, TemplateNotFound, select_autoescape

from portal.domain.core.money import Money


@dataclass(frozen=True)
class SupplierDetails:
    """Who every email is from and where it sends people: built once in `create_app`.

    `render_email` requires it, so no email can go out without our name and address in it.
    """

    name: str
    email: str
    portal_url: str
    # The postal address, one line per item, and the tax (VAT / EIN) id: on receipts and
    # invoices, which an AP clerk files. Empty when not configured (then left off).
    address: tuple[str, ...] = ()
    tax_id: str = ""

    @classmethod
    def from_settings(cls, settings) -> SupplierDetails:
        """From `portal.config.Settings` (duck-typed so the domain does not import it)."""
        return cls(name=settings.supplier_name, email=settings.supplier_email,
                   portal_url=settings.public_url.rstrip("/"),
                   address=tuple(settings.supplier_address), tax_id=settings.supplier_tax_id)

    def url(self, path: str) -> str:
        return f"{self.portal_url}/{path.lstrip('/')}"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def payer_text(value) -> str:
    """What a payer typed (PO number, memo, reason), made safe to quote inside our own email:
    one line (any control or separator character becomes a space; forms refuse them, this also
    covers older rows) inside quotation marks, so it can never pass for a line we wrote."""
    flat = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in str(value or ""))
    return '"' + " ".join(flat.split()) + '"'


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("portal", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )
    env.filters["money"] = lambda value: value.format() if isinstance(value, Money) else value
    env.filters["day"] = lambda value: value.strftime("%d %b %Y") if value else ""
    env.filters["payer_text"] = payer_text
    return env


def render_email(name: str, *, supplier: SupplierDetails, **context) -> RenderedEmail:
    """Render email NAME; templates see `supplier` and, for short, `supplier_name`,
    `supplier_email` and `portal_url`."""
    if not isinstance(supplier, SupplierDetails) or not supplier.name:
        raise TypeError("render_email needs the supplier's details")
    context.update(supplier=supplier, supplier_name=supplier.name, supplier_email=supplier.email,
                   portal_url=supplier.portal_url)
    env = _environment()
    subject = " ".join(env.get_template(f"{name}.subject.txt").render(**context).split())
    text = env.get_template(f"{name}.txt").render(**context)
    try:
        html = env.get_template(f"{name}.html").render(**context)
    except TemplateNotFound:
        html = ""
    return RenderedEmail(subject=subject, text=text, html=html)
