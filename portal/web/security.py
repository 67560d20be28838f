"""Security headers on every response (SECURITY.md A4, A9, A12)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from portal.config import Settings

from .context import services

# What real Stripe.js needs on the page that loads it (Stripe's published CSP requirements for
# Stripe.js and Elements): its script, the Payment Element's and 3-D Secure's frames, and its
# calls to Stripe's API. The address-autocomplete origins Stripe also lists are only for the
# Address Element, which the portal does not use.
STRIPE_SCRIPT_ORIGINS = ("https://js.stripe.com", "https://*.js.stripe.com")
STRIPE_FRAME_ORIGINS = ("https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com")
STRIPE_CONNECT_ORIGINS = ("https://api.stripe.com",)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _sources(*origins: str) -> str:
    return " ".join(dict.fromkeys(origins))


def _stripe_sources(settings: Settings) -> tuple[str, str, str]:
    """(script-src, frame-src, connect-src) origins for the page's Stripe.js, by STRIPE_DIALECT.

    - "localstripe": its fake Stripe.js is served by localstripe and calls localstripe's API
      (STRIPE_API_BASE, or the script's own origin): those origins only, none of Stripe's.
    - "real": Stripe.js talks to Stripe from the browser whatever STRIPE_API_BASE is (that is the
      server's route to Stripe, maybe a proxy or a recorder): Stripe's origins, plus the script's
      origin when STRIPE_JS_URL is not Stripe's own (a stand-in of Stripe.js in the tests).
    """
    js_origin = _origin(settings.stripe_js_url)
    if settings.uses_local_stripe:
        api_origin = _origin(settings.stripe_api_base) if settings.stripe_api_base else js_origin
        return js_origin, js_origin, api_origin
    return (_sources(*STRIPE_SCRIPT_ORIGINS, js_origin), _sources(*STRIPE_FRAME_ORIGINS),
            _sources(*STRIPE_CONNECT_ORIGINS))


def content_security_policy(settings: Settings) -> str:
    """The policy for these settings: computed once per app (it depends on nothing else)."""
    scripts, frames, connects = _stripe_sources(settings)
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {scripts}",
            f"frame-src {frames}",
            f"connect-src 'self' {connects}",
            "img-src 'self' data:",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        )
    )


def add_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", services().content_security_policy)
    # Links carry tokens in their path: never send our URLs to another site. Same-origin
    # requests keep the Referer, which Flask-WTF requires on HTTPS form posts (no-referrer
    # would make every POST fail its CSRF check in production).
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if services().settings.session_cookie_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint and request.endpoint != "static":
        # Account data must not linger in shared caches or the back-forward cache.
        headers.setdefault("Cache-Control", "no-store")
    return response
