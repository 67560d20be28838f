"""Every page's title block is a short line of text: no markup and no line breaks inside the
`<title>`, where a browser would show it as the tab's name (an edit that pastes a section into
the block is caught here, not by a person reading a tab)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted([*ROOT.glob("portal/templates/**/*.html"), *ROOT.glob("admin/templates/**/*.html")])
TITLE = re.compile(r"{%-?\s*block title\s*-?%}(.*?){%-?\s*endblock", re.S)


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT)) for t in TEMPLATES])
def test_the_title_block_is_one_line_of_text(template):
    for title in TITLE.findall(template.read_text()):
        assert "\n" not in title and "<" not in title, f"{template.name}: title block {title[:80]!r}"


def test_the_sweep_reads_the_templates():
    titled = [t for t in TEMPLATES if TITLE.search(t.read_text())]
    assert len(titled) > 40
