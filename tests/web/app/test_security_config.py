"""A11: the portal refuses to start in production with a missing or weak SECRET_KEY."""

from __future__ import annotations

import logging

import pytest

from portal.app import create_app
from portal.config import MIN_SECRET_KEY_LENGTH, ConfigError, Settings

STRONG = "k" * MIN_SECRET_KEY_LENGTH
PRODUCTION_ENV = {
    "PORTAL_MODE": "production",
    "DATABASE_URL": "sqlite:///:memory:",
    "STRIPE_WEBHOOK_SECRETS": "whsec_production_test",
    "ATTACHMENTS_DIR": "/var/lib/portal/attachments",
}


@pytest.fixture(autouse=True)
def restore_logging():
    """A production app installs a JSON handler on the root logger: undo it after the test."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)


@pytest.mark.parametrize("key", [None, "", "short", "k" * (MIN_SECRET_KEY_LENGTH - 1)])
def test_settings_refuse_a_missing_or_short_key_in_production(key):
    env = dict(PRODUCTION_ENV)
    if key is not None:
        env["SECRET_KEY"] = key
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(env)


def test_settings_refuse_a_weak_fallback_key():
    env = {**PRODUCTION_ENV, "SECRET_KEY": STRONG, "SECRET_KEY_FALLBACKS": f"{STRONG},old"}
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS"):
        Settings.from_env(env)


def test_production_is_the_default_mode():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "PORTAL_MODE"}
    with pytest.raises(ConfigError):
        Settings.from_env(env)


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_other_modes_still_need_a_key(mode):
    with pytest.raises(ConfigError):
        Settings.from_env({**PRODUCTION_ENV, "PORTAL_MODE": mode, "SECRET_KEY": ""})


def test_a_strong_key_starts(gateway):
    settings = Settings.from_env({**PRODUCTION_ENV, "SECRET_KEY": STRONG})
    app = create_app(settings, gateway=gateway)
    assert app.config["SECRET_KEY"] == STRONG
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("key", ["", "short"])
def test_create_app_refuses_hand_built_settings_with_a_weak_key(key, gateway):
    settings = Settings(mode="production", secret_key=key, database_url="sqlite:///:memory:",
                        stripe_webhook_secrets=("whsec_production_test",))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(settings, gateway=gateway)
