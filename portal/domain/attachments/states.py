"""The malware scan status of a stored file and its transition table."""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.states import Transitions


class ScanStatus(StrEnum):
    PENDING = "pending"  # a scanner is configured and has not judged the file yet
    CLEAN = "clean"  # the scanner found nothing
    INFECTED = "infected"  # the scanner found something: never served
    NOT_SCANNED = "not_scanned"  # stored while no scanner was configured


SCAN_TRANSITIONS = Transitions("stored file", ScanStatus, {
    # A scanner that cannot judge (down, timeout) leaves the file pending: it is retried by
    # `scan-pending-files` and not served meanwhile (fail closed).
    ScanStatus.PENDING: {ScanStatus.CLEAN, ScanStatus.INFECTED},
    ScanStatus.CLEAN: set(),
    ScanStatus.INFECTED: set(),
    ScanStatus.NOT_SCANNED: set(),
})

# What may be downloaded. A pending file may yet turn out infected; an infected one never.
SERVABLE = frozenset({ScanStatus.CLEAN, ScanStatus.NOT_SCANNED})
