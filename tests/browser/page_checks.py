"""Checks every customer page must pass in Chromium: no sideways scrolling, no serious or
critical axe-core finding, a screenshot for a person to look at.

axe-core comes from npm (tests/browser/package.json, installed by `npm ci` in
scripts/_setup.sh when node is there). Without it the axe checks skip on a newcomer's machine
and fail on CI, like the other local services (tests/support/fixtures/availability.py).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.support.fixtures.availability import service_missing

AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# The widths every page is checked at: a laptop, and a 390 px phone.
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
BLOCKING_IMPACTS = ("serious", "critical")


def axe_path() -> Path:
    if not AXE.exists():
        service_missing("axe-core is not installed: run `npm ci` in tests/browser")
    return AXE


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the viewport (0: no sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def wide_elements(page: Page) -> list[str]:
    """The elements reaching past the viewport's right edge (to say what overflows)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                         (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))""")


def serious_axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    page.add_script_tag(path=str(axe_path()))
    # target-size (WCAG 2.2's 24 px tap targets) is off in axe's defaults: on here.
    results = page.evaluate("axe.run(document, {resultTypes: ['violations'], rules: {'target-size': {enabled: true}}})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
        for violation in results["violations"] if violation["impact"] in BLOCKING_IMPACTS
    ]


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def screenshots_at_widths(page: Page, name: str, widths: tuple[int, ...] = (1280, 390)) -> None:
    """Full-page screenshots `<name>-<width>.png` at each width, for a person to look at; the
    page is left at the size it had."""
    before = page.viewport_size
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"{name}-{width}")
    if before:
        page.set_viewport_size(before)


def check_page(page: Page, name: str) -> None:
    """The page as loaded: fits the viewport's width, nothing serious for axe, a skip link to
    the content, a screenshot."""
    screenshot(page, name)
    assert page.locator("a.skip-link[href='#content']").text_content() == "Skip to content", name
    assert page.locator("main#content").count() == 1, name
    overflow = horizontal_overflow(page)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px: {wide_elements(page)}"
    violations = serious_axe_violations(page)
    assert violations == [], f"{name}: {violations}"


def check_at_both_widths(page: Page, name: str) -> None:
    """`check_page` at the desktop and the phone width (screenshots `<name>-1280`, `<name>-390`),
    then back to the desktop width."""
    for width, height in (WIDTHS["desktop"], WIDTHS["phone"]):
        page.set_viewport_size({"width": width, "height": height})
        check_page(page, f"{name}-{width}")
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"], strict=True)))
