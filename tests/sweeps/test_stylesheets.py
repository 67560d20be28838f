"""Every stylesheet parses as its author meant: braces balance, and each section (a top-level
`/* ---- ... */` comment) starts outside any block. An unclosed `@media {` once swallowed every
rule after it, so that at desktop widths the skip link showed, the pay bar did not stick and
focus outlines were gone, while every page still "worked"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "portal" / "static"
STYLESHEETS = sorted(STATIC.rglob("*.css"))
_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def _depth_problems(text: str) -> list[str]:
    problems, depth = [], 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("/* ----") and depth:
            problems.append(f"line {number}: a section starts inside a block ({depth} open)")
        code = _COMMENT.sub("", line)
        depth += code.count("{") - code.count("}")
        if depth < 0:
            problems.append(f"line {number}: a block closes that was never opened")
            depth = 0
    if depth:
        problems.append(f"end of file: {depth} block(s) never closed")
    return problems


def test_there_are_stylesheets():
    assert STYLESHEETS, f"no .css under {STATIC}"


@pytest.mark.parametrize("path", STYLESHEETS, ids=lambda p: p.name)
def test_braces_balance_and_sections_start_outside_any_block(path: Path):
    assert _depth_problems(path.read_text()) == []


def test_the_check_finds_an_unclosed_block():
    assert _depth_problems("@media (max-width: 1px) {\n  a { color: red; }\n/* ---- next */\nb { }\n") == [
        "line 3: a section starts inside a block (1 open)", "end of file: 1 block(s) never closed"]
