"""The production sender over real TLS (H1): it connects to the address it checked, and the
certificate must be valid for the URL's host (sent as SNI), not for the address; an endpoint
whose certificate names another host, or that no trusted authority signed, gets nothing."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import pytest

from portal.domain.webhooks.transport import HttpWebhookTransport, SendFailed
from tests.support.fixtures.webhooks import TEST_CA, TLS_HOST

BODY = b'{"type": "cash.payment", "amount_minor": 12500}'


class Dns:
    """DNS as the test says: `answers` by name (a name it does not hold fails the lookup),
    and every name `asked` for, in order."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"no address for {host}")
        return self.answers[host]


def production_sender(dns: Dns, tls_context: ssl.SSLContext | None) -> HttpWebhookTransport:
    """The sender as production builds it, with `dns` as its resolver."""
    # allow_private: the receiver listens on 127.0.0.1, as an ERP on the supplier's network would.
    return HttpWebhookTransport(mode="production", allow_private=True, timeout=5, resolver=dns,
                                tls_context=tls_context)


def trusting_the_test_authority() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(TEST_CA))


def test_a_post_reaches_the_checked_address_over_tls_verified_for_the_urls_host(tls_webhook_receiver):
    dns = Dns({TLS_HOST: ["127.0.0.1"]})
    sender = production_sender(dns, trusting_the_test_authority())
    answer = sender.post(tls_webhook_receiver.url_for("/hooks/portal?source=portal"), {"Portal-Signature": "t=1,v1=ab"},
                         BODY)

    assert answer.ok and answer.status == 200 and answer.text == "ok"
    [received] = tls_webhook_receiver.requests
    port = urlsplit(tls_webhook_receiver.url).port
    assert received.path == "/hooks/portal?source=portal" and received.body == BODY
    assert received.headers["Host"] == f"{TLS_HOST}:{port}"
    assert received.headers["Portal-Signature"] == "t=1,v1=ab"
    assert tls_webhook_receiver.server_names == [TLS_HOST]  # SNI names the host, not 127.0.0.1
    assert dns.asked == [TLS_HOST]  # resolved once: the connection used that answer


def test_a_certificate_for_another_host_is_refused_before_anything_is_sent(tls_webhook_receiver):
    """The attacker's name resolves to the ERP's address: the ERP's certificate does not name it."""
    port = urlsplit(tls_webhook_receiver.url).port
    sender = production_sender(Dns({"erp.attacker.example": ["127.0.0.1"]}), trusting_the_test_authority())
    with pytest.raises(SendFailed) as failed:
        sender.post(f"https://erp.attacker.example:{port}/hooks/portal", {}, BODY)
    assert "erp.attacker.example" in str(failed.value) and "certificate" in str(failed.value).lower()
    assert tls_webhook_receiver.requests == []


def test_a_certificate_no_trusted_authority_signed_is_refused(tls_webhook_receiver):
    """The default context trusts the system's authorities only, as production's does."""
    sender = production_sender(Dns({TLS_HOST: ["127.0.0.1"]}), None)
    with pytest.raises(SendFailed) as failed:
        sender.post(tls_webhook_receiver.url_for(), {}, BODY)
    assert "certificate verify failed" in str(failed.value)
    assert tls_webhook_receiver.requests == []


def test_production_will_not_send_over_plain_http_to_the_same_receiver(tls_webhook_receiver):
    port = urlsplit(tls_webhook_receiver.url).port
    dns = Dns({TLS_HOST: ["127.0.0.1"]})
    sender = production_sender(dns, trusting_the_test_authority())
    with pytest.raises(SendFailed, match="https://"):
        sender.post(f"http://{TLS_HOST}:{port}/hooks/portal", {}, BODY)
    assert dns.asked == [] and tls_webhook_receiver.requests == []
