"""`PortalFlask.url_for` keeps the paths of pages without arguments, per mount point, and builds
every other link as Flask does."""

from __future__ import annotations

from flask import Flask, url_for

from portal.web.context import FIXED_PATHS_KEPT


def _flask_url_for(app, endpoint, **values) -> str:
    return Flask.url_for(app, endpoint, **values)


def test_a_fixed_path_is_flasks_own_and_built_once(app):
    with app.test_request_context("/invoices"):
        first = url_for("account.invoices")
        assert first == _flask_url_for(app, "account.invoices") == "/invoices"
        assert url_for("static", filename="css/portal.css") == _flask_url_for(app, "static", filename="css/portal.css")
    assert app._fixed_paths[("", "account.invoices", None)] == "/invoices"
    app._fixed_paths[("", "account.invoices", None)] = "/kept"  # the next request reads what was kept
    with app.test_request_context("/account"):
        assert url_for("account.invoices") == "/kept"


def test_each_mount_point_has_its_own_paths(app):
    with app.test_request_context("/invoices"):
        at_root = url_for("account.invoices")
    with app.test_request_context("/invoices", base_url="http://localhost/billing/"):
        mounted = url_for("account.invoices")
        static = url_for("static", filename="js/pay.js")
    assert at_root == "/invoices"
    assert mounted == "/billing/invoices" and static.startswith("/billing/")


def test_links_with_arguments_anchors_or_hosts_are_built_every_time(app):
    with app.test_request_context("/invoices"):
        assert url_for("payments.payment", public_id="a1") == "/payments/a1"
        assert url_for("payments.payment", public_id="b2") == "/payments/b2"
        assert url_for("account.invoices", status="open") == "/invoices?status=open"
        assert url_for("account.invoices", _anchor="top") == "/invoices#top"
        assert url_for("account.invoices", _external=True) == "http://localhost/invoices"
    assert set(app._fixed_paths) == set()  # none of those was kept


def test_the_kept_paths_are_bounded(app):
    with app.test_request_context("/"):
        for n in range(FIXED_PATHS_KEPT + 50):
            assert url_for("static", filename=f"file-{n}.css") == f"/static/file-{n}.css"
    assert len(app._fixed_paths) == FIXED_PATHS_KEPT
