"""Settings from environment variables, checked once at start-up.

`PORTAL_MODE` is `production` (the default), `demo` or `test`. Outside demo and test the
portal refuses to start without a strong `SECRET_KEY` (SECURITY.md A11) and a webhook secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from portal.domain.promises.policy import (
    DEFAULT_GRACE_DAYS, DEFAULT_MAX_DAYS, DEFAULT_MAX_MOVES, GRACE_DAYS_RANGE, MAX_DAYS_RANGE, MAX_MOVES_RANGE,
    PromisePolicy,
)
from portal.domain.invoicing.policy import DueDateRule, PoSettings
from portal.domain.plans.policy import POLICY_BOUNDS, PlanPolicy

# Installment plans: PLAN_* variables, their PlanPolicy field and the range allowed (the one
# range the admin's plan policy page also checks, `plans.policy.POLICY_BOUNDS`).
PLAN_SETTINGS = {
    name: (field, POLICY_BOUNDS[field]) for name, field in (
        ("PLAN_MAX_TOTAL_MINOR", "max_total_minor"),
        ("PLAN_MAX_COUNT", "max_count"),
        ("PLAN_MAX_DAYS", "max_length_days"),
        ("PLAN_MIN_FIRST_MINOR", "min_first_payment_minor"),
        ("PLAN_DEFAULT_LOOKBACK_MONTHS", "default_lookback_months"),
        ("PLAN_RETRY_DAYS", "retry_after_days"),
        ("PLAN_MAX_FAILURES", "max_failures"),
        ("PLAN_REMINDER_DAYS", "reminder_days_before"),
    )
}

MODES = ("production", "demo", "test")
MIN_SECRET_KEY_LENGTH = 32
DEFAULT_STRIPE_JS_URL = "https://js.stripe.com/v3/"
# Which Stripe the portal talks to, chosen only by STRIPE_DIALECT (never guessed from
# STRIPE_API_BASE, which may point at a proxy or a recorder in front of real Stripe):
# "real" is api.stripe.com's API and Stripe.js's Payment Element; "localstripe" is the offline
# stand-in the demo and the tests run (card element and card tokens, see gateway.stripe_adapter).
STRIPE_DIALECTS = ("real", "localstripe")
MB = 1024 * 1024
# Attachments may not live where the app serves static files from (SECURITY.md U3).
STATIC_FOLDER = Path(__file__).resolve().parent / "static"
CLAMAV_ADDRESS_FORMS = ("tcp://", "unix:///", "/")
MAX_SLA_WARNING_HOURS = 7 * 24


class ConfigError(RuntimeError):
    pass


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def _address_lines(value: str | None) -> tuple[str, ...]:
    """A postal address given on one line, its lines separated by ";" (commas belong to lines)."""
    return tuple(line.strip() for line in (value or "").split(";") if line.strip())


def _key_mode(key: str) -> str:
    """"test" or "live" for a Stripe key (sk_/rk_/pk_), "" for anything else."""
    prefix, _, rest = (key or "").partition("_")
    mode = rest.partition("_")[0]
    return mode if prefix in ("sk", "rk", "pk") and mode in ("test", "live") else ""


@dataclass(frozen=True)
class Settings:
    mode: str = "production"
    secret_key: str = ""
    secret_key_fallbacks: tuple[str, ...] = ()
    database_url: str = ""
    public_url: str = "http://127.0.0.1:5000"
    supplier_name: str = "Northwind Supplies"
    supplier_email: str = "billing@northwind.example"
    # SUPPLIER_ADDRESS: lines separated by ";" ("100 Harbor Way; Portland, OR 97201; United States").
    supplier_address: tuple[str, ...] = ()
    supplier_tax_id: str = ""
    # What card statements show for a payment (Stripe's statement descriptor, set in the
    # Dashboard); empty: the supplier's name in capitals, cut to Stripe's 22 characters.
    card_statement_descriptor: str = ""

    stripe_secret_key: str = ""
    stripe_publishable_key: str = ""
    stripe_api_base: str | None = None  # None: api.stripe.com
    stripe_dialect: str = "real"
    stripe_js_url: str = DEFAULT_STRIPE_JS_URL
    stripe_webhook_secrets: tuple[str, ...] = ()
    stripe_webhook_tolerance: int = 300

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "Northwind Supplies <billing@northwind.example>"

    redis_url: str = ""
    # Reverse proxies in front of the app whose X-Forwarded-* headers are believed (0: none).
    trusted_proxies: int = 0
    session_cookie_secure: bool = True
    link_requests_per_window: int = 3
    link_request_window_seconds: int = 15 * 60
    ip_requests_per_window: int = 20
    # Requests per minute one API key may make (/api/v1).
    api_requests_per_minute: int = 120

    # Attachments: the directory their bytes are kept in (required in production), the
    # optional ClamAV daemon that scans them, and the limits of one upload.
    attachments_dir: str = ""
    clamav_address: str = ""  # tcp://127.0.0.1:3310, unix:///run/clamav/clamd.ctl or a socket path
    clamav_timeout_seconds: float = 30.0
    upload_max_file_bytes: int = 10 * MB
    upload_max_request_bytes: int = 25 * MB
    upload_max_files: int = 10
    upload_max_image_pixels: int = 40_000_000

    # Supervisors are warned when a dispute's SLA date is this close (or past): warn-sla-at-risk.
    sla_warning_hours: int = 4

    # Promises to pay: how far ahead the date may be, how often it may move, and the days after
    # it before a promise with money still owed counts as broken (check-promises).
    promise_max_days: int = DEFAULT_MAX_DAYS
    promise_max_moves: int = DEFAULT_MAX_MOVES
    promise_grace_days: int = DEFAULT_GRACE_DAYS

    # Outgoing webhooks to the ERP (docs/erp-webhooks.md): the deadline of one POST, and whether
    # an endpoint may be on a private, loopback or link-local address in production.
    webhook_timeout_seconds: float = 10.0
    webhook_allow_private_addresses: bool = False

    @property
    def promise_policy(self) -> PromisePolicy:
        return PromisePolicy(self.promise_max_days, self.promise_max_moves, self.promise_grace_days)

    # Installment plans: what a plan may be without staff approving it, and how the collector
    # retries (PLAN_SETTINGS); the defaults are PlanPolicy's.
    plan_policy: PlanPolicy = PlanPolicy()

    # An invoice given its PO number after issue: PO_REISSUE_DUE_DATE "keep" (the original due
    # date) or "restart" (the payment terms run again from the re-issue date); PO_AUTO_REISSUE
    # re-issues at once when the clerk gives the number, without staff (off by default).
    po_reissue_due_date: str = DueDateRule.KEEP.value
    po_auto_reissue: bool = False

    @property
    def po_settings(self) -> PoSettings:
        return PoSettings(DueDateRule(self.po_reissue_due_date), self.po_auto_reissue)

    @property
    def statement_descriptor(self) -> str:
        """The words a card statement shows for a payment to us."""
        return (self.card_statement_descriptor or self.supplier_name.upper())[:22]

    @property
    def uses_local_stripe(self) -> bool:
        """True when STRIPE_DIALECT names the offline stand-in (whatever STRIPE_API_BASE is)."""
        return self.stripe_dialect == "localstripe"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        mode = env.get("PORTAL_MODE", "production")
        default_db = "sqlite:///" + str(Path("instance").resolve() / "portal.db")
        # Production names its directory; demo and test keep attachments beside the database.
        default_attachments = "" if mode == "production" else str(Path("instance").resolve() / "attachments")
        settings = cls(
            mode=mode,
            secret_key=env.get("SECRET_KEY", ""),
            secret_key_fallbacks=_list(env.get("SECRET_KEY_FALLBACKS")),
            database_url=env.get("DATABASE_URL", default_db),
            public_url=env.get("PUBLIC_URL", cls.public_url).rstrip("/"),
            supplier_name=env.get("SUPPLIER_NAME", cls.supplier_name),
            supplier_email=env.get("SUPPLIER_EMAIL", cls.supplier_email),
            supplier_address=_address_lines(env.get("SUPPLIER_ADDRESS")),
            supplier_tax_id=env.get("SUPPLIER_TAX_ID", "").strip(),
            card_statement_descriptor=env.get("CARD_STATEMENT_DESCRIPTOR", "").strip(),
            stripe_secret_key=env.get("STRIPE_SECRET_KEY", ""),
            stripe_publishable_key=env.get("STRIPE_PUBLISHABLE_KEY", ""),
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            stripe_dialect=env.get("STRIPE_DIALECT", "real").strip().lower() or "real",
            stripe_js_url=env.get("STRIPE_JS_URL", DEFAULT_STRIPE_JS_URL),
            stripe_webhook_secrets=_list(env.get("STRIPE_WEBHOOK_SECRETS")),
            stripe_webhook_tolerance=int(env.get("STRIPE_WEBHOOK_TOLERANCE", "300")),
            smtp_host=env.get("SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get("SMTP_PORT", "25")),
            smtp_username=env.get("SMTP_USERNAME", ""),
            smtp_password=env.get("SMTP_PASSWORD", ""),
            smtp_starttls=_bool(env.get("SMTP_STARTTLS"), False),
            mail_from=env.get("MAIL_FROM", cls.mail_from),
            redis_url=env.get("REDIS_URL", ""),
            trusted_proxies=int(env.get("TRUSTED_PROXIES", "0")),
            api_requests_per_minute=int(env.get("API_REQUESTS_PER_MINUTE", "120")),
            session_cookie_secure=_bool(env.get("SESSION_COOKIE_SECURE"), mode == "production"),
            attachments_dir=env.get("ATTACHMENTS_DIR", "").strip() or default_attachments,
            clamav_address=env.get("CLAMAV_ADDRESS", "").strip(),
            clamav_timeout_seconds=float(env.get("CLAMAV_TIMEOUT", "30")),
            upload_max_file_bytes=int(float(env.get("UPLOAD_MAX_FILE_MB", "10")) * MB),
            upload_max_request_bytes=int(float(env.get("UPLOAD_MAX_REQUEST_MB", "25")) * MB),
            upload_max_files=int(env.get("UPLOAD_MAX_FILES", "10")),
            upload_max_image_pixels=int(float(env.get("UPLOAD_MAX_IMAGE_MEGAPIXELS", "40")) * 1_000_000),
            sla_warning_hours=int(env.get("SLA_WARNING_HOURS", "4")),
            promise_max_days=int(env.get("PROMISE_MAX_DAYS", str(DEFAULT_MAX_DAYS))),
            promise_max_moves=int(env.get("PROMISE_MAX_MOVES", str(DEFAULT_MAX_MOVES))),
            promise_grace_days=int(env.get("PROMISE_GRACE_DAYS", str(DEFAULT_GRACE_DAYS))),
            plan_policy=replace(PlanPolicy(), **{field: int(env[name]) for name, (field, _) in PLAN_SETTINGS.items()
                                                 if env.get(name, "").strip()}),
            po_reissue_due_date=env.get("PO_REISSUE_DUE_DATE", DueDateRule.KEEP.value).strip().lower()
            or DueDateRule.KEEP.value,
            po_auto_reissue=_bool(env.get("PO_AUTO_REISSUE"), False),
            webhook_timeout_seconds=float(env.get("WEBHOOK_TIMEOUT", "10")),
            webhook_allow_private_addresses=_bool(env.get("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"), False),
        )
        settings.validate()
        return settings

    def with_changes(self, **changes) -> Settings:
        updated = replace(self, **changes)
        updated.validate()
        return updated

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"PORTAL_MODE must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.stripe_webhook_tolerance <= 0:
            raise ConfigError("STRIPE_WEBHOOK_TOLERANCE must be positive (seconds)")
        if not 0 <= self.trusted_proxies <= 5:
            raise ConfigError("TRUSTED_PROXIES is the number of proxies in front of the app (0 to 5)")
        if self.stripe_dialect not in STRIPE_DIALECTS:
            raise ConfigError(f"STRIPE_DIALECT must be one of {', '.join(STRIPE_DIALECTS)}, not {self.stripe_dialect!r}")
        if _key_mode(self.stripe_secret_key) and _key_mode(self.stripe_publishable_key) \
                and _key_mode(self.stripe_secret_key) != _key_mode(self.stripe_publishable_key):
            raise ConfigError("STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY must both be test keys or both live keys")
        if len(self.supplier_address) > 6 or any(len(line) > 100 for line in self.supplier_address):
            raise ConfigError("SUPPLIER_ADDRESS holds at most 6 lines of 100 characters, separated by ';'")
        if len(self.supplier_tax_id) > 60:
            raise ConfigError("SUPPLIER_TAX_ID is at most 60 characters")
        if any(ch < " " for text in (*self.supplier_address, self.supplier_tax_id) for ch in text):
            raise ConfigError("SUPPLIER_ADDRESS and SUPPLIER_TAX_ID may not hold control characters")
        if not self.database_url:
            raise ConfigError("DATABASE_URL is empty")
        if not 1 <= self.sla_warning_hours <= MAX_SLA_WARNING_HOURS:
            raise ConfigError(f"SLA_WARNING_HOURS must be between 1 and {MAX_SLA_WARNING_HOURS} (hours)")
        for name, value, (low, high) in (("PROMISE_MAX_DAYS", self.promise_max_days, MAX_DAYS_RANGE),
                                         ("PROMISE_MAX_MOVES", self.promise_max_moves, MAX_MOVES_RANGE),
                                         ("PROMISE_GRACE_DAYS", self.promise_grace_days, GRACE_DAYS_RANGE)):
            if not low <= value <= high:
                raise ConfigError(f"{name} must be between {low} and {high} (days or moves)")
        for name, (field, (low, high)) in PLAN_SETTINGS.items():
            if not low <= getattr(self.plan_policy, field) <= high:
                raise ConfigError(f"{name} must be between {low} and {high}")
        if self.po_reissue_due_date not in {rule.value for rule in DueDateRule}:
            raise ConfigError(f"PO_REISSUE_DUE_DATE must be one of {', '.join(DueDateRule)}, "
                              f"not {self.po_reissue_due_date!r}")
        if not 0 < self.webhook_timeout_seconds <= 60:
            raise ConfigError("WEBHOOK_TIMEOUT must be between 0 and 60 seconds")
        if self.mode == "production":
            if len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
                raise ConfigError(
                    f"SECRET_KEY must be set to at least {MIN_SECRET_KEY_LENGTH} random characters "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            for fallback in self.secret_key_fallbacks:
                if len(fallback) < MIN_SECRET_KEY_LENGTH:
                    raise ConfigError("every SECRET_KEY_FALLBACKS entry must be as strong as SECRET_KEY")
            if not self.stripe_webhook_secrets:
                raise ConfigError("STRIPE_WEBHOOK_SECRETS must name the webhook signing secret(s)")
        elif not self.secret_key:
            raise ConfigError("SECRET_KEY is empty (demo and test modes generate one; pass it through)")
        self._validate_attachments()

    def _validate_attachments(self) -> None:
        if self.attachments_dir:
            directory = Path(self.attachments_dir).resolve()
            if not Path(self.attachments_dir).is_absolute():
                raise ConfigError("ATTACHMENTS_DIR must be an absolute path")
            if directory.is_relative_to(STATIC_FOLDER) or STATIC_FOLDER.is_relative_to(directory):
                raise ConfigError("ATTACHMENTS_DIR must be outside the portal's static folder")
        elif self.mode == "production":
            raise ConfigError("ATTACHMENTS_DIR must name the directory attachments are stored in")
        if self.clamav_address and not self.clamav_address.startswith(CLAMAV_ADDRESS_FORMS):
            raise ConfigError("CLAMAV_ADDRESS must be tcp://host:port, unix:///path or an absolute socket path")
        if not 0 < self.clamav_timeout_seconds <= 600:
            raise ConfigError("CLAMAV_TIMEOUT must be between 0 and 600 seconds")
        if not 0 < self.upload_max_file_bytes <= self.upload_max_request_bytes:
            raise ConfigError("UPLOAD_MAX_FILE_MB must be positive and at most UPLOAD_MAX_REQUEST_MB")
        if not 0 < self.upload_max_files <= 100:
            raise ConfigError("UPLOAD_MAX_FILES must be between 1 and 100")
        if not 0 < self.upload_max_image_pixels <= 200_000_000:
            raise ConfigError("UPLOAD_MAX_IMAGE_MEGAPIXELS must be between 0 and 200")
