"""U3: display names are sanitised (no path, controls, CR/LF, bidi overrides; bounded); U1: the
name's last extension must be an allowed one. And the scan status table, pair by pair."""

from __future__ import annotations

import pytest

from portal.domain.attachments.policy import (
    CSV, JPEG, MAX_DISPLAY_NAME_LENGTH, PDF, PNG, XLSX, UploadLimits, UploadRefused, check_counts, kind_for_name,
    sanitise_display_name,
)
from portal.domain.attachments.states import SCAN_TRANSITIONS, SERVABLE, ScanStatus
from portal.domain.core.errors import InvalidTransition


@pytest.mark.parametrize(("raw", "expected"), [
    ("../../x.pdf", "x.pdf"),
    ("..\\..\\windows\\x.pdf", "x.pdf"),
    ("/etc/passwd.csv", "passwd.csv"),
    ("..", ""),
    ("invoice\r\nContent-Type: text/html\r\n\r\n.pdf", "html.pdf"),  # the "/" ends the path
    ("invoice\r\nX-Injected: yes.pdf", "invoiceX-Injected_ yes.pdf"),
    ("photo\x00.png.exe.png", "photo.png.exe.png"),
    ("credit\u202efdp.exe", "creditfdp.exe"),  # RTLO: shown as "creditexe.pdf" were it kept
    ("a\u2066b\u2069c\u200f\u200b\ufeff.csv", "abc.csv"),
    ("line\u2028break.pdf", "linebreak.pdf"),
    ("  spaced \t out   name .pdf  ", "spaced out name .pdf"),
    ('quo"te<>|?*:.pdf', "quo_te______.pdf"),
    (".hidden.pdf", "hidden.pdf"),
    ("Überweisung März.pdf", "Überweisung März.pdf"),
    ("請求書.xlsx", "請求書.xlsx"),
    ("e\u0301te\u0301.pdf", "été.pdf"),  # NFC: combining accents folded
])
def test_display_names_are_sanitised(raw, expected):
    assert sanitise_display_name(raw) == expected


def test_no_control_or_format_character_survives_any_name():
    nasty = "".join(chr(c) for c in range(0, 0x20)) + "\x7f\x85\u200e\u200f\u202a\u202b\u202c\u202d\u202e" \
        + "\u2066\u2067\u2068\u2069\u061c\ufeff\ue000" + "name.pdf"
    assert sanitise_display_name(nasty) == "name.pdf"


def test_very_long_names_are_cut_keeping_the_extension():
    name = sanitise_display_name("a" * 5000 + ".xlsx")
    assert len(name) == MAX_DISPLAY_NAME_LENGTH
    assert name.endswith("a.xlsx")
    assert len(sanitise_display_name("b" * 5000)) == MAX_DISPLAY_NAME_LENGTH


@pytest.mark.parametrize(("name", "kind"), [
    ("a.pdf", PDF), ("A.PDF", PDF), ("scan.png", PNG), ("photo.jpg", JPEG), ("photo.JPEG", JPEG),
    ("lines.csv", CSV), ("lines.xlsx", XLSX), ("x.html.pdf", PDF),
])
def test_the_last_extension_names_the_kind(name, kind):
    assert kind_for_name(name) is kind


@pytest.mark.parametrize("name", [
    "a.pdf.html", "drawing.svg", "page.htm", "macro.xlsm", "old.xls", "archive.zip", "run.exe", "notes.txt",
    "noextension", ".pdf", "pdf", "a.pdf.", "photo.gif",
])
def test_other_extensions_are_refused_with_the_allowed_list(name):
    with pytest.raises(UploadRefused, match="only PDF, PNG, JPEG, CSV and XLSX"):
        kind_for_name(name)


def test_file_count_limit():
    check_counts(10, UploadLimits())
    with pytest.raises(UploadRefused, match="At most 10 files"):
        check_counts(11, UploadLimits())


EXPECTED_MOVES = {("pending", "clean"), ("pending", "infected")}


@pytest.mark.parametrize(("source", "target"), SCAN_TRANSITIONS.pairs())
def test_scan_status_moves_exactly_as_listed(source, target):
    allowed = (str(source), str(target)) in EXPECTED_MOVES
    assert SCAN_TRANSITIONS.can_move(source, target) is allowed
    if not allowed:
        with pytest.raises(InvalidTransition):
            SCAN_TRANSITIONS.check(source, target)


def test_only_clean_and_unscanned_files_are_servable():
    assert SERVABLE == {ScanStatus.CLEAN, ScanStatus.NOT_SCANNED}
    assert SCAN_TRANSITIONS.final == {ScanStatus.CLEAN, ScanStatus.INFECTED, ScanStatus.NOT_SCANNED}
