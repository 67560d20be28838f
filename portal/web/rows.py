"""What the table rows drawn in Python share (`invoice_rows`, `payment_rows`).

A page's long tables are written in Python rather than Jinja: in a template each value of a
row costs an escape, a lookup and a yield through several generator frames, and 25 rows cost
more than the rest of the page together (docs/benchmarks.md). Values go through `text`, the
standard library's HTML escape (one C call, where markupsafe's `escape` makes a `Markup`
object of each); the words come from the request's catalogue and are trusted as the
templates' translations are, with each value put into them escaped first.

Not escaped: what the portal writes itself from numbers and dates (`format_money`,
`format_day`, `format_moment` in every language: `tests/unit/core/test_formats_are_plain_text.py`
proves they never hold a character HTML gives a meaning to) and a row's status, one of the
portal's own words.
"""

from __future__ import annotations

from html import escape as _escape


def text(value: object) -> str:
    """`value` as HTML text, or as an attribute value in double or single quotes."""
    return _escape(value if isinstance(value, str) else str(value))
