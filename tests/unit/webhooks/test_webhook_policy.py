"""Which URLs an outgoing webhook endpoint may have (SSRF), the signature the ERP verifies
with the code in docs/erp-webhooks.md, and the backoff between attempts."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

import pytest

from portal.domain.webhooks.policy import (
    DeliveryPolicy, EndpointUrlRefused, address_allowed, check_endpoint_url, new_signing_secret, signature_header,
)

GOOD = "https://erp.example.com/hooks/portal?source=northwind"


@pytest.mark.parametrize(("url", "why"), [
    ("", "enter"),
    ("   ", "enter"),
    ("ftp://erp.example.com/hooks", "https://"),
    ("file:///etc/passwd", "https://"),
    ("gopher://erp.example.com:70/", "https://"),
    ("javascript:alert(1)", "https://"),
    ("//erp.example.com/hooks", "https://"),
    ("erp.example.com/hooks", "https://"),
    ("http://erp.example.com/hooks", "https://"),
    ("https://user:pass@erp.example.com/hooks", "user name or password"),
    ("https://user@erp.example.com/hooks", "user name or password"),
    ("https://erp.example.com@evil.example/", "user name or password"),
    ("https://erp.example.com/" + "a" * 500, "longer than 500"),
    ("https://erp.example.com/hooks#frag", "fragment"),
    ("https://erp.example.com/ho oks", "ASCII"),
    ("https://erp.example.com/\nX-Injected: 1", "ASCII"),
    ("https://érp.example.com/", "ASCII"),
    ("https://erp.example.com\\@evil.example/", "ASCII"),
    ("https://erp.example.com:99999/", "not a valid URL"),
    ("https://erp.example.com:0/", "port 0"),
    ("https:///hooks", "no host"),
    ("https://erp_example.com/", "not a valid name"),
    ("https://-erp.example.com/", "not a valid name"),
    ("https://127.1/", "looks like a number"),
    ("https://2130706433/", "looks like a number"),
    ("https://0x7f000001/", "looks like a number"),
    # Private, loopback, link-local (cloud metadata) and other non-public addresses.
    ("https://127.0.0.1/hooks", "private, loopback or link-local"),
    ("https://10.1.2.3/hooks", "private, loopback or link-local"),
    ("https://172.16.0.9/hooks", "private, loopback or link-local"),
    ("https://192.168.1.20/hooks", "private, loopback or link-local"),
    ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
    ("https://100.64.0.1/", "private, loopback or link-local"),
    ("https://0.0.0.0/", "private, loopback or link-local"),
    ("https://[::1]/hooks", "private, loopback or link-local"),
    ("https://[fe80::1]/hooks", "private, loopback or link-local"),
    ("https://[fd00::1]/hooks", "private, loopback or link-local"),
    ("https://[::ffff:127.0.0.1]/hooks", "private, loopback or link-local"),
    ("https://224.0.0.1/", "private, loopback or link-local"),
    ("https://localhost/hooks", "local network name"),
    ("https://erp.localhost/hooks", "local network name"),
    ("https://erp.internal/hooks", "local network name"),
    ("https://erp/hooks", "local network name"),
])
def test_production_refuses_bad_urls_with_a_reason(url, why):
    with pytest.raises(EndpointUrlRefused) as refused:
        check_endpoint_url(url, mode="production")
    assert why in refused.value.message


def test_a_public_https_url_is_accepted_and_split():
    checked = check_endpoint_url(f"  {GOOD} ", mode="production")
    assert (checked.url, checked.scheme, checked.host, checked.port, checked.target) == (
        GOOD, "https", "erp.example.com", 443, "/hooks/portal?source=northwind")
    assert check_endpoint_url("https://8.8.8.8:8443/", mode="production").port == 8443
    assert check_endpoint_url("https://[2001:4860:4860::8888]/x", mode="production").host == "2001:4860:4860::8888"
    assert check_endpoint_url("https://xn--rp-bja.example.com/", mode="production").host == "xn--rp-bja.example.com"


def test_private_addresses_need_the_setting_in_production():
    for url in ("https://10.1.2.3/hooks", "https://erp.internal/hooks", "https://192.168.1.20/"):
        assert check_endpoint_url(url, mode="production", allow_private=True).url == url
    # The setting never allows http, credentials or multicast.
    for url in ("http://10.1.2.3/hooks", "https://u:p@10.1.2.3/", "https://224.0.0.1/"):
        with pytest.raises(EndpointUrlRefused):
            check_endpoint_url(url, mode="production", allow_private=True)


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_outside_production_http_reaches_only_this_machine(mode):
    assert check_endpoint_url("http://127.0.0.1:8123/hooks", mode=mode).port == 8123
    assert check_endpoint_url("http://localhost/hooks", mode=mode).host == "localhost"
    assert check_endpoint_url("https://10.1.2.3/hooks", mode=mode).host == "10.1.2.3"
    for url in ("http://10.1.2.3/hooks", "http://erp.example.com/hooks", "http://user:pw@127.0.0.1/"):
        with pytest.raises(EndpointUrlRefused):
            check_endpoint_url(url, mode=mode)


@pytest.mark.parametrize(("address", "public_only", "with_private"), [
    ("8.8.8.8", True, True),
    ("2001:4860:4860::8888", True, True),
    ("127.0.0.1", False, True),
    ("10.0.0.5", False, True),
    ("169.254.169.254", False, True),
    ("fe80::1%eth0", False, True),
    ("::ffff:10.0.0.5", False, True),
    ("0.0.0.0", False, False),
    ("ff02::1", False, False),
    ("not-an-address", False, False),
])
def test_which_resolved_addresses_the_sender_may_connect_to(address, public_only, with_private):
    assert address_allowed(address, allow_private=False) is public_only
    assert address_allowed(address, allow_private=True) is with_private


def verify_as_documented(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check from docs/erp-webhooks.md, written out independently."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - timestamp) <= tolerance


def test_the_signature_verifies_with_the_documented_algorithm():
    secret = new_signing_secret()
    body = b'{"id":"LE0000000042.payment","type":"cash.payment"}'
    now = int(time.time())
    header = signature_header(secret, now, body)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_as_documented(secret, header, body)
    assert not verify_as_documented(secret, header, body.replace(b"42", b"43"))
    assert not verify_as_documented(new_signing_secret(), header, body)
    assert not verify_as_documented(secret, signature_header(secret, now - 301, body), body)


def test_secrets_are_random_and_long():
    secrets = {new_signing_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(secret.startswith("whsec_") and len(secret) >= 6 + 43 for secret in secrets)


def test_retries_back_off_exponentially_up_to_a_cap():
    policy = DeliveryPolicy()
    assert [policy.retry_delay(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert policy.retry_delay(30) == timedelta(hours=6)
