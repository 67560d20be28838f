"""Security headers on every response (SECURITY.md A4, A9, A12)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from portal.config import Settings

from .context import services

# What real Stripe.js loads and frames (Stripe's published CSP requirements).
STRIPE_SCRIPT_ORIGINS = ("https://js.stripe.com", "https://*.js.stripe.com")
STRIPE_FRAME_ORIGINS = ("https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com")
STRIPE_API_ORIGIN = "https://api.stripe.com"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    """The policy for these settings: computed once per app (it depends on nothing else)."""
    js_origin = _origin(settings.stripe_js_url)
    # The local stand-in's Stripe.js talks to the stand-in's API; real Stripe.js to Stripe.
    api_origin = _origin(settings.stripe_api_base) if settings.stripe_api_base else STRIPE_API_ORIGIN
    scripts = " ".join(dict.fromkeys((js_origin, *STRIPE_SCRIPT_ORIGINS)))
    frames = " ".join(dict.fromkeys((js_origin, *STRIPE_FRAME_ORIGINS)))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {scripts}",
            f"frame-src {frames}",
            f"connect-src 'self' {api_origin}",
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
