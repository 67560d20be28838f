"""Time as a collaborator: the domain never calls `datetime.now()` itself."""

from __future__ import annotations

from datetime import date, datetime, timedelta, UTC
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, **delta: float) -> None:
        self._at = self._at + timedelta(**delta)

    def set(self, at: datetime) -> None:
        self._at = at


def today_in(clock: Clock, tz_name: str) -> date:
    """The calendar date for a customer in their own time zone."""
    return clock.now().astimezone(ZoneInfo(tz_name)).date()
