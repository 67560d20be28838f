"""What the portal writes from numbers and dates holds no character HTML gives a meaning to, in
every language and currency: the rows drawn in Python (`portal.web.rows`) put it into markup
without escaping it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from portal.domain.core.locales import LANGUAGES, format_day, format_day_month, format_moment, format_money
from portal.domain.core.money import CURRENCY_EXPONENTS, Money

HTML_SPECIAL = set("<>&\"'")
AMOUNTS = (0, 1, -1, 99, 1_000, 123_456, -987_654_321, 10**15)


def _plain(written: str) -> bool:
    return not (set(written) & HTML_SPECIAL)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_amounts_in_every_currency_are_plain_text(language):
    for currency in CURRENCY_EXPONENTS:
        for minor in AMOUNTS:
            written = format_money(Money(minor, currency), language)
            assert written and _plain(written), (language, currency, written)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_days_of_every_month_are_plain_text(language):
    for month in range(1, 13):
        day = date(2026, month, 28)
        for written in (format_day(day, language), format_day_month(day, language)):
            assert written and _plain(written), (language, written)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_moments_in_every_time_zone_are_plain_text(language):
    winter, summer = datetime(2026, 1, 15, 12, 5, tzinfo=UTC), datetime(2026, 7, 15, 23, 55, tzinfo=UTC)
    for name in sorted(available_timezones()):
        zone = ZoneInfo(name)
        for moment in (winter, summer + timedelta(minutes=1)):
            written = format_moment(moment, zone, language)
            assert written and _plain(written), (language, name, written)


def test_the_check_sees_markup():
    assert not _plain("1 234,56 <b>$</b>") and not _plain("O'Hare") and _plain("1 234,56 $US")
