"""The pure rules of disputes: amounts per line and per invoice, text, approval, link scope."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.domain.core.money import Money
from portal.domain.disputes.policy import (
    DisputeRefused, InvoiceChoice, LineChoice, LineFacts, clean_description, clean_message, disputable,
    disputed_on_invoice, link_may_see, needs_approval,
)

LINES = [
    LineFacts(id=11, position=1, description="Widgets", quantity=Decimal("10"), unit_price_minor=1_250,
              amount_minor=12_500),
    LineFacts(id=12, position=2, description="Freight", quantity=Decimal("1"), unit_price_minor=4_000,
              amount_minor=4_000),
    LineFacts(id=13, position=3, description="Bolts", quantity=Decimal("3"), unit_price_minor=333, amount_minor=999),
]
USD = "USD"


def _usd(minor: int) -> Money:
    return Money(minor, USD)


def _decide(choice: InvoiceChoice, available: int = 16_500):
    return disputed_on_invoice(choice, number="INV-1", lines=LINES, available=_usd(available))


def test_whole_invoice_disputes_what_is_available():
    assert _decide(InvoiceChoice("p", "whole"), available=9_000).amount == _usd(9_000)


def test_an_amount_up_to_what_is_available():
    assert _decide(InvoiceChoice("p", "amount", amount_text="1,234.56"), available=200_000).amount == _usd(123_456)
    with pytest.raises(DisputeRefused, match=r"at most \$165.00"):
        _decide(InvoiceChoice("p", "amount", amount_text="165.01"))


@pytest.mark.parametrize("text", ["0", "-5", "1e9", "NaN", "1.005", "9" * 40, ""])
def test_bad_amounts_are_refused_with_a_message(text):
    with pytest.raises(DisputeRefused, match="INV-1"):
        _decide(InvoiceChoice("p", "amount", amount_text=text))


def test_lines_by_quantity_round_half_up_and_by_amount():
    decided = _decide(InvoiceChoice("p", "lines", lines=(
        LineChoice(1, quantity_text="2"), LineChoice(3, quantity_text="1.5"), LineChoice(2, amount_text="15.00"),
    )))
    # 2 × 12.50 = 25.00; 1.5 × 3.33 = 4.995 -> 5.00 (half up); 15.00 typed
    assert [line.amount.minor for line in decided.lines] == [2_500, 500, 1_500]
    assert decided.amount == _usd(4_500)
    assert decided.lines[0].quantity == Decimal("2") and decided.lines[2].quantity is None


def test_a_chosen_line_without_a_figure_counts_in_full():
    decided = _decide(InvoiceChoice("p", "lines", lines=(LineChoice(2),)))
    assert decided.amount == _usd(4_000)


@pytest.mark.parametrize(("choice", "message"), [
    (LineChoice(1, quantity_text="11"), "at most that"),
    (LineChoice(1, quantity_text="1.0001"), "3 decimals"),
    (LineChoice(1, quantity_text="0"), "above zero"),
    (LineChoice(1, quantity_text="1e3"), "as a number"),
    (LineChoice(1, quantity_text="2", amount_text="3"), "not both"),
    (LineChoice(2, amount_text="40.01"), "at most the line"),
    (LineChoice(9), "not on the invoice"),
])
def test_line_refusals(choice, message):
    with pytest.raises(DisputeRefused, match=message):
        _decide(InvoiceChoice("p", "lines", lines=(choice,)))


def test_lines_above_what_is_available_are_refused():
    with pytest.raises(DisputeRefused, match=r"come to \$125.00, more than the \$100.00"):
        _decide(InvoiceChoice("p", "lines", lines=(LineChoice(1),)), available=10_000)


def test_nothing_available_and_duplicate_lines_are_refused():
    with pytest.raises(DisputeRefused, match="nothing left"):
        _decide(InvoiceChoice("p", "whole"), available=0)
    with pytest.raises(DisputeRefused, match="twice"):
        _decide(InvoiceChoice("p", "lines", lines=(LineChoice(1), LineChoice(1))))


def test_disputable_leaves_out_money_in_flight_and_other_disputes():
    assert disputable(_usd(10_000), _usd(3_000), _usd(2_000)) == _usd(5_000)
    assert disputable(_usd(10_000), _usd(9_000), _usd(2_000)) == _usd(0)


@pytest.mark.parametrize("text", ["Wrong\x00price here", "Wrong\x1bprice here", "Wrong price\u202ehere",
                                  "Tab\tinside text"])
def test_descriptions_refuse_control_characters(text):
    with pytest.raises(DisputeRefused, match="not allowed"):
        clean_description(text)


def test_descriptions_keep_line_breaks_and_are_bounded():
    assert clean_description("Line one\r\nline two\rthree") == "Line one\nline two\nthree"
    with pytest.raises(DisputeRefused, match="at least 10"):
        clean_description("short")
    with pytest.raises(DisputeRefused, match="at most 4000"):
        clean_description("x" * 4001)
    with pytest.raises(DisputeRefused, match="Write a message"):
        clean_message("   ")


def test_approval_is_needed_only_above_the_limit():
    assert needs_approval(_usd(50_001), _usd(50_000))
    assert not needs_approval(_usd(50_000), _usd(50_000))
    assert not needs_approval(_usd(10**9), None)
    assert needs_approval(_usd(1), Money(10**6, "EUR"))  # a limit in another currency vouches for nothing


def test_a_link_sees_a_dispute_only_when_it_names_every_invoice():
    assert link_may_see({1, 2, 3}, [1, 2])
    assert not link_may_see({1}, [1, 2])
    assert not link_may_see({1}, [])


# --------------------------------------------------------------------------------------------
# Re-billing

def test_rebill_numbers_count_on_from_the_replaced_invoice():
    from portal.domain.disputes.policy import rebill_number_candidates

    assert rebill_number_candidates("INV-7", 40)[:3] == ["INV-7-R1", "INV-7-R2", "INV-7-R3"]
    assert rebill_number_candidates("INV-7-R1", 40)[0] == "INV-7-R2"
    assert rebill_number_candidates("INV-7-R9", 40)[0] == "INV-7-R10"
    long = "X" * 40
    assert all(len(n) == 40 and n.startswith("X" * 37) for n in rebill_number_candidates(long, 40)[:5])


def test_a_rebill_credit_within_the_limit_passes_and_above_it_names_a_supervisor():
    from portal.domain.disputes.policy import check_rebill_credit

    check_rebill_credit(_usd(50_000), _usd(50_000))
    check_rebill_credit(_usd(10**9), None)  # no limit
    check_rebill_credit(_usd(0), _usd(0))  # nothing left open: nothing credited
    with pytest.raises(DisputeRefused, match=r"credits \$500.01 .* limit of \$500.00: ask a supervisor"):
        check_rebill_credit(_usd(50_001), _usd(50_000))
    with pytest.raises(DisputeRefused, match="ask a supervisor"):
        check_rebill_credit(_usd(1), Money(10**6, "EUR"))


def test_a_correction_is_bounded():
    from datetime import date, timedelta

    from portal.domain.disputes.policy import (
        MAX_CORRECTED_DUE_DAYS, MAX_CORRECTED_LINES, MAX_CORRECTED_TOTAL_MINOR, CorrectedLineFacts, check_correction,
    )

    today = date(2026, 6, 15)
    line = CorrectedLineFacts(Decimal(1), 100, 100)

    def check(lines, due=today):
        check_correction("INV-1", due_date=due, lines=lines, today=today, currency=USD)

    check([line] * MAX_CORRECTED_LINES, today + timedelta(days=MAX_CORRECTED_DUE_DAYS))
    check([CorrectedLineFacts(Decimal(1), MAX_CORRECTED_TOTAL_MINOR, MAX_CORRECTED_TOTAL_MINOR)])
    check([line, CorrectedLineFacts(Decimal(1), 0, 0)])  # a free line beside a priced one
    for lines, due, message in (
        ([], today, "at least one line"),
        ([line] * (MAX_CORRECTED_LINES + 1), today, "at most 50 lines"),
        ([line], today - timedelta(days=1), "before today"),
        ([line], today + timedelta(days=MAX_CORRECTED_DUE_DAYS + 1), "within 366 days"),
        ([CorrectedLineFacts(Decimal(0), 100, 0)], today, "above zero"),
        ([CorrectedLineFacts(Decimal(1), 0, 0)], today, "comes to nothing"),
        ([CorrectedLineFacts(Decimal(1), MAX_CORRECTED_TOTAL_MINOR, MAX_CORRECTED_TOTAL_MINOR), line], today,
         "more than the"),
    ):
        with pytest.raises(DisputeRefused, match=message):
            check(lines, due)
