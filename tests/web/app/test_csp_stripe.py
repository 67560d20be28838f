"""The Content-Security-Policy lets Stripe.js in (real or the local stand-in) and nothing inline."""

from __future__ import annotations

import pytest


def _directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


def test_real_stripe_js_is_allowed_and_nothing_inline(make_app):
    app = make_app(stripe_api_base=None, stripe_js_url="https://js.stripe.com/v3/")
    directives = _directives(app.test_client().get("/"))
    assert "https://js.stripe.com" in directives["script-src"]
    assert "https://*.js.stripe.com" in directives["frame-src"]
    assert "https://api.stripe.com" in directives["connect-src"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in directives[directive]
        assert "'unsafe-eval'" not in directives[directive]
    assert directives["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("base", ["http://127.0.0.1:8421"])
def test_local_stand_in_origin_is_allowed_for_script_and_api(make_app, base):
    app = make_app(stripe_api_base=base, stripe_js_url=f"{base}/js.stripe.com/v3/")
    directives = _directives(app.test_client().get("/"))
    assert base in directives["script-src"]
    assert base in directives["connect-src"]
    assert "https://api.stripe.com" not in directives["connect-src"]
