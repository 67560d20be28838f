"""Rendering emails from `portal/templates/email/` with plain Jinja2 (no Flask needed).

Each email NAME has `NAME.subject.txt`, `NAME.txt` and optionally `NAME.html`. Each is
rendered in its recipient's language (`core.locales`): the templates mark their words with
`{% trans %}` / `_()`, and money and dates are written the way that language writes them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment, PackageLoader, TemplateNotFound, select_autoescape

from portal.domain.core.locales import (
    format_day, format_day_month, format_money, language_or_default, one_line, translations,
)


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


@lru_cache(maxsize=8)
def _environment(language: str) -> Environment:
    """One Jinja environment per language, with that language's catalogue installed for
    `{% trans %}` and `_()` and its money and date formats."""
    env = Environment(
        loader=PackageLoader("portal", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)
    env.filters["money"] = lambda value: format_money(value, language)
    env.filters["day"] = lambda value: format_day(value, language)
    env.filters["day_month"] = lambda value: format_day_month(value, language)
    env.filters["payer_text"] = payer_text
    env.globals["language"] = language
    return env


def recipient_language(context: dict) -> str:
    """The language of the contact an email is addressed to (`contact` in its context)."""
    return language_or_default(getattr(context.get("contact"), "language", None))




def render_email(name: str, *, supplier: SupplierDetails, language: str | None = None, **context) -> RenderedEmail:
    """Render email NAME in `language` (by default the language of the `contact` it is
    addressed to, else English); templates see `supplier` and, for short, `supplier_name`,
    `supplier_email` and `portal_url`."""
    if not isinstance(supplier, SupplierDetails) or not supplier.name:
        raise TypeError("render_email needs the supplier's details")
    language = language_or_default(language) if language else recipient_language(context)
    context.update(supplier=supplier, supplier_name=supplier.name, supplier_email=supplier.email,
                   portal_url=supplier.portal_url)
    env = _environment(language)
    subject = one_line(env.get_template(f"{name}.subject.txt").render(**context))
    text = env.get_template(f"{name}.txt").render(**context)
    try:
        html = env.get_template(f"{name}.html").render(**context)
    except TemplateNotFound:
        html = ""
    return RenderedEmail(subject=subject, text=text, html=html)
