"""The pure decisions of giving an invoice its PO: the PO number and the clerk's answer
bounded and one line, the way each invoice takes it (table), and the due date by rule."""

from __future__ import annotations

from datetime import date

import pytest

from portal.domain.invoicing.policy import (
    DueDateRule, PoRefused, ReissueMode, parse_po_number, parse_po_request, reissue_mode, reissued_due_date,
)


@pytest.mark.parametrize("text", ["PO-4471", "  4500012345 ", "Blanket PO 2026/07 #3", "P" * 60])
def test_a_po_number_is_one_line_of_up_to_60_characters(text):
    assert parse_po_number(text) == text.strip()


@pytest.mark.parametrize(("text", "message"), [
    ("", "Enter"), ("   ", "Enter"), ("P" * 61, "at most 60"), ("9" * 100_000, "at most 60"),
    ("PO\r\nBcc: x@evil.example", "one line"), ("PO\x00", "one line"), ("PO\u2028X", "one line"),
    ("PO\u202eX", "one line"), ("PO\tX", "one line"),
])
def test_a_bad_po_number_is_refused_with_a_clear_message(text, message):
    with pytest.raises(PoRefused, match=message):
        parse_po_number(text)


def test_the_clerk_gives_the_po_or_who_issues_it():
    assert parse_po_request("PO-1", "", "").as_details() == {"po_number": "PO-1"}
    assert parse_po_request("", "Dana Buyer", "Dana@Acme.example").as_details() == {
        "issuer_name": "Dana Buyer", "issuer_email": "dana@acme.example"}
    with pytest.raises(PoRefused, match="PO number, or tell us"):
        parse_po_request("", "", "")
    with pytest.raises(PoRefused, match="email"):
        parse_po_request("", "Dana", "")
    with pytest.raises(PoRefused, match="does not look like"):
        parse_po_request("", "Dana", "dana at acme")


FRESH = dict(entry_kinds={"issued"}, balance_minor=100, in_flight_minor=0, held_minor=0, ever_disputed=False)


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, ReissueMode.IN_PLACE),
    ({"entry_kinds": {"issued", "payment"}}, ReissueMode.CREDIT_AND_REPLACE),
    ({"entry_kinds": {"issued", "credit_note"}}, ReissueMode.CREDIT_AND_REPLACE),
    ({"entry_kinds": {"issued", "payment", "payment_reversal"}}, ReissueMode.CREDIT_AND_REPLACE),
    ({"ever_disputed": True}, ReissueMode.CREDIT_AND_REPLACE),
    ({"balance_minor": 0}, "already paid"),
    ({"balance_minor": -5}, "already paid"),
    ({"in_flight_minor": 1}, "processing"),
    ({"held_minor": 1}, "disputed"),
])
def test_how_an_invoice_takes_its_po(changes, expected):
    arguments = {**FRESH, **changes, "number": "INV-1"}
    if isinstance(expected, ReissueMode):
        assert reissue_mode(**arguments) == expected
    else:
        with pytest.raises(PoRefused, match=expected):
            reissue_mode(**arguments)


ISSUED, DUE = date(2026, 5, 1), date(2026, 5, 31)


@pytest.mark.parametrize(("rule", "mode", "reissue_date", "expected"), [
    ("keep", ReissueMode.IN_PLACE, date(2026, 6, 15), DUE),
    ("keep", ReissueMode.CREDIT_AND_REPLACE, date(2026, 5, 20), DUE),
    ("keep", ReissueMode.CREDIT_AND_REPLACE, date(2026, 6, 15), date(2026, 6, 15)),
    ("restart", ReissueMode.IN_PLACE, date(2026, 6, 15), date(2026, 7, 15)),
    ("restart", ReissueMode.CREDIT_AND_REPLACE, date(2026, 6, 15), date(2026, 7, 15)),
])
def test_the_due_date_follows_the_suppliers_rule(rule, mode, reissue_date, expected):
    assert reissued_due_date(DueDateRule(rule), issue_date=ISSUED, due_date=DUE, reissue_date=reissue_date,
                             mode=mode) == expected


def test_an_unknown_rule_is_a_programming_error():
    with pytest.raises(ValueError):
        reissued_due_date("sometimes", issue_date=ISSUED, due_date=DUE, reissue_date=DUE, mode=ReissueMode.IN_PLACE)
