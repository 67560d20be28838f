"""Routing vocabularies: how a team assigns its disputes, and dispute priorities."""

from __future__ import annotations

from enum import StrEnum


class AssignmentStrategy(StrEnum):
    ROUND_ROBIN = "round_robin"          # the next available member after the last one assigned
    LEAST_OPEN_LOAD = "least_open_load"  # the available member with the fewest open disputes


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


STRATEGY_LABELS = {AssignmentStrategy.ROUND_ROBIN: "Round robin",
                   AssignmentStrategy.LEAST_OPEN_LOAD: "Least open disputes"}
