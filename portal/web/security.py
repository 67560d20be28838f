"""Security headers on every response, and the error pages (SECURITY.md A4, A9, A12)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

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


def _error_page(status: int, title: str, message: str):
    return render_template("error.html", status=status, title=title, message=message), status


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _error_page(
            400, "This form has expired",
            "The page was open too long or was sent twice. Go back, reload the page and try again.",
        )

    @app.errorhandler(400)
    def bad_request(error):
        return _error_page(400, "Bad request", getattr(error, "description", "") or "The request was not understood.")

    @app.errorhandler(403)
    def forbidden(error):
        return _error_page(403, "Not allowed", "You do not have access to this page.")

    @app.errorhandler(404)
    def not_found(error):
        return _error_page(404, "Not found", "There is nothing here, or it is not part of your account.")

    @app.errorhandler(405)
    def method_not_allowed(error):
        return _error_page(405, "Not allowed", "That action is not available here.")

    @app.errorhandler(413)
    def too_large(error):
        return _error_page(413, "Too large", "The upload is larger than allowed.")

    @app.errorhandler(429)
    def too_many(error):
        return _error_page(
            429, "Too many requests",
            getattr(error, "description", "") or "Please wait a few minutes and try again.",
        )

    @app.errorhandler(500)
    def server_error(error):
        return _error_page(500, "Something went wrong", "Nothing was changed. Please try again in a moment.")
