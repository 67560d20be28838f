"""Attachment settings: a directory outside the static folder (required in production), a
well-formed scanner address, sane limits; and the limits the domain derives from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.config import STATIC_FOLDER, ConfigError, Settings
from portal.domain.attachments.policy import MB, UploadLimits
from portal.domain.attachments.scanner import ClamdScanner

PRODUCTION = {
    "PORTAL_MODE": "production", "DATABASE_URL": "sqlite:///:memory:", "SECRET_KEY": "k" * 40,
    "STRIPE_WEBHOOK_SECRETS": "whsec_production_test",
}


def test_production_requires_an_attachments_directory():
    with pytest.raises(ConfigError, match="ATTACHMENTS_DIR must name"):
        Settings.from_env(PRODUCTION)
    settings = Settings.from_env({**PRODUCTION, "ATTACHMENTS_DIR": "/srv/portal/attachments"})
    assert settings.attachments_dir == "/srv/portal/attachments"


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_demo_and_test_default_under_the_instance_folder(mode):
    settings = Settings.from_env({**PRODUCTION, "PORTAL_MODE": mode})
    assert settings.attachments_dir == str(Path("instance").resolve() / "attachments")


@pytest.mark.parametrize("directory", [str(STATIC_FOLDER), str(STATIC_FOLDER / "uploads"),
                                       str(STATIC_FOLDER.parent)])
def test_the_static_folder_is_refused(directory):
    with pytest.raises(ConfigError, match="outside the portal's static folder"):
        Settings.from_env({**PRODUCTION, "ATTACHMENTS_DIR": directory})


def test_a_relative_directory_is_refused():
    with pytest.raises(ConfigError, match="absolute"):
        Settings.from_env({**PRODUCTION, "ATTACHMENTS_DIR": "attachments"})


@pytest.mark.parametrize(("address", "ok"), [
    ("", True), ("tcp://127.0.0.1:3310", True), ("unix:///run/clamav/clamd.ctl", True), ("/run/clamd.ctl", True),
    ("127.0.0.1:3310", False), ("http://127.0.0.1:3310", False),
])
def test_clamav_address_forms(address, ok):
    env = {**PRODUCTION, "ATTACHMENTS_DIR": "/srv/a", "CLAMAV_ADDRESS": address}
    if ok:
        settings = Settings.from_env(env)
        scanner = ClamdScanner.from_settings(settings)
        assert (scanner is None) is (address == "")
    else:
        with pytest.raises(ConfigError, match="CLAMAV_ADDRESS"):
            Settings.from_env(env)


def test_limits_come_from_the_settings():
    settings = Settings.from_env({**PRODUCTION, "ATTACHMENTS_DIR": "/srv/a", "UPLOAD_MAX_FILE_MB": "5",
                                  "UPLOAD_MAX_REQUEST_MB": "12", "UPLOAD_MAX_FILES": "4",
                                  "UPLOAD_MAX_IMAGE_MEGAPIXELS": "20"})
    limits = UploadLimits.from_settings(settings)
    assert (limits.max_file_bytes, limits.max_request_bytes, limits.max_files, limits.max_image_pixels) == (
        5 * MB, 12 * MB, 4, 20_000_000)
    assert UploadLimits.from_settings(Settings.from_env({**PRODUCTION, "ATTACHMENTS_DIR": "/srv/a"})) == UploadLimits()


@pytest.mark.parametrize("change", [
    {"UPLOAD_MAX_FILE_MB": "30"},  # more than a request may carry
    {"UPLOAD_MAX_FILES": "0"},
    {"UPLOAD_MAX_IMAGE_MEGAPIXELS": "0"},
    {"CLAMAV_TIMEOUT": "0"},
])
def test_nonsense_limits_are_refused(change):
    with pytest.raises(ConfigError):
        Settings.from_env({**PRODUCTION, "ATTACHMENTS_DIR": "/srv/a", **change})
