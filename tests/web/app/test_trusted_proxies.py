"""Behind a reverse proxy the per-IP limits must see each client, not the proxy; without a
trusted proxy a forged X-Forwarded-For must change nothing."""

from __future__ import annotations

import pytest

from portal.config import ConfigError
from tests.support.fixtures.links import csrf_for

PROXY = {"REMOTE_ADDR": "10.0.0.2"}


def _ask(client, token: str, forwarded_for: str):
    return client.post("/sign-in", data={"csrf_token": token, "email": "nobody@example.com"},
                       headers={"X-Forwarded-For": forwarded_for}, environ_base=PROXY)


@pytest.mark.parametrize(("trusted_proxies", "second_status"), [(1, 200), (0, 429)])
def test_client_address_comes_from_a_trusted_proxy_only(make_app, trusted_proxies, second_status):
    app = make_app(trusted_proxies=trusted_proxies, ip_requests_per_window=1, link_requests_per_window=10)
    client = app.test_client()
    token = csrf_for(client)
    assert _ask(client, token, "203.0.113.7").status_code == 200
    assert _ask(client, token, "203.0.113.8").status_code == second_status


def test_an_absurd_proxy_count_is_refused(settings):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        settings.with_changes(trusted_proxies=-1)
