"""The Content-Security-Policy lets the dialect's Stripe.js in (real Stripe.js, or localstripe's
fake) and nothing inline. It follows STRIPE_DIALECT, never STRIPE_API_BASE alone: with the real
dialect behind a proxy or a recorder, the browser's Stripe.js still talks to api.stripe.com."""

from __future__ import annotations

import pytest

STRIPE_ORIGINS = {"https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com", "https://api.stripe.com"}


def _directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


@pytest.mark.parametrize("api_base", [None, "http://127.0.0.1:8421", "http://127.0.0.1:8080/stripe-proxy"])
def test_real_dialect_allows_stripes_origins_whatever_the_api_base(make_app, api_base):
    app = make_app(stripe_dialect="real", stripe_api_base=api_base, stripe_js_url="https://js.stripe.com/v3/")
    directives = _directives(app.test_client().get("/"))
    assert directives["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert directives["frame-src"] == ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"]
    # The API base is the server's route to Stripe; the browser never talks to it.
    assert directives["connect-src"] == ["'self'", "https://api.stripe.com"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in directives[directive]
        assert "'unsafe-eval'" not in directives[directive]
    assert directives["frame-ancestors"] == ["'none'"]


def test_real_dialect_with_stripe_js_from_elsewhere_allows_that_script_too(make_app):
    app = make_app(stripe_dialect="real", stripe_api_base="http://127.0.0.1:8421",
                   stripe_js_url="http://127.0.0.1:8533/v3/")
    directives = _directives(app.test_client().get("/"))
    assert directives["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com",
                                        "http://127.0.0.1:8533"]
    assert directives["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert "http://127.0.0.1:8421" not in " ".join(sum(directives.values(), []))


@pytest.mark.parametrize("base", ["http://127.0.0.1:8421"])
def test_localstripe_dialect_allows_only_the_stand_ins_origin(make_app, base):
    app = make_app(stripe_dialect="localstripe", stripe_api_base=base, stripe_js_url=f"{base}/js.stripe.com/v3/")
    directives = _directives(app.test_client().get("/"))
    assert directives["script-src"] == ["'self'", base]
    assert directives["frame-src"] == [base]
    assert directives["connect-src"] == ["'self'", base]
    assert not STRIPE_ORIGINS & set(sum(directives.values(), []))


def test_localstripe_dialect_without_an_api_base_calls_the_scripts_origin(make_app):
    app = make_app(stripe_dialect="localstripe", stripe_api_base=None,
                   stripe_js_url="http://127.0.0.1:8421/js.stripe.com/v3/")
    assert _directives(app.test_client().get("/"))["connect-src"] == ["'self'", "http://127.0.0.1:8421"]
