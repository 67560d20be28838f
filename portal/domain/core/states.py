"""One way to name a status vocabulary and its allowed moves.

Each area names its statuses once, as a `StrEnum`, and writes its transition table as a
`Transitions` over it. Everything else is derived from that pair: the database CHECK
constraint (`sql_in`), partial-index predicates, the final statuses, and the error raised for
a move the table does not allow. `tests/unit/core/test_state_tables.py` checks every pair of
every table, so a new vocabulary is tested as soon as it is registered in `ALL_TABLES` there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from portal.domain.core.errors import InvalidTransition

S = TypeVar("S", bound=StrEnum)


def sql_in(column: str, statuses: Iterable[StrEnum]) -> str:
    """`column IN ('a', 'b')`: a CHECK constraint or index predicate from enum members.

    The values are our own identifiers (checked here), never user input.
    """
    values = [str(status) for status in statuses]
    for value in values:
        if not value.replace("_", "").isalnum():
            raise ValueError(f"status {value!r} is not a plain identifier")
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Transitions(Generic[S]):
    """The allowed moves between the members of one `StrEnum`.

    `table` maps every member to the members it may move to; a member missing from the table
    is a programming error caught at import time, so a new status cannot be forgotten.
    """

    def __init__(self, name: str, statuses: type[S], table: Mapping[S, Iterable[S]]) -> None:
        missing = set(statuses) - set(table)
        if missing:
            raise ValueError(f"{name}: no transitions listed for {sorted(missing)}")
        self.name = name
        self.statuses = statuses
        self._table: dict[S, frozenset[S]] = {
            statuses(source): frozenset(statuses(target) for target in targets)
            for source, targets in table.items()
        }

    def targets(self, current: S) -> frozenset[S]:
        return self._table[self.statuses(current)]

    def can_move(self, current: S | str, target: S | str) -> bool:
        return self.statuses(target) in self._table[self.statuses(current)]

    def check(self, current: S | str, target: S | str, what: str = "") -> S:
        """`target` as a member when the move is allowed; `InvalidTransition` otherwise."""
        if not self.can_move(current, target):
            subject = f"{self.name} {what}".strip()
            raise InvalidTransition(f"{subject}: {current} -> {target} not allowed")
        return self.statuses(target)

    @property
    def final(self) -> frozenset[S]:
        """Statuses nothing moves on from."""
        return frozenset(status for status, targets in self._table.items() if not targets)

    def pairs(self) -> list[tuple[S, S]]:
        """Every (source, target) pair of members, allowed or not: what the table test walks."""
        return [(a, b) for a in self.statuses for b in self.statuses]
