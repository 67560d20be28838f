"""A webhook on the wire: one HTTPS (or, outside production, loopback HTTP) POST.

`webhooks.jobs` decides when to send and what a failure means; this module only knows HTTP:

* the URL is checked again (`policy.check_endpoint_url`) and, in production, every address
  its host resolves to must be allowed (`policy.address_allowed`); the connection goes to the
  address that was checked, never to a second DNS answer;
* redirects are not followed (a 3xx is a failed attempt, like any answer outside 2xx);
* the whole exchange has one deadline (`timeout` seconds, connect to last byte), and at most
  `MAX_ANSWER_BYTES` of the answer are read;
* `SendRefused` means the address is not one the portal sends to (no retry helps);
  `SendFailed` anything else that kept a 2xx from arriving.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from portal.domain.webhooks.policy import EndpointUrl, EndpointUrlRefused, address_allowed, check_endpoint_url

MAX_ANSWER_BYTES = 4096
DEFAULT_TIMEOUT_SECONDS = 10.0
USER_AGENT = "collections-portal-webhooks/1"

Resolver = Callable[[str, int], list[str]]


class SendFailed(Exception):
    """No 2xx this time (network, timeout, TLS); the same delivery may go through later."""


class SendRefused(SendFailed):
    """The endpoint's address is not one the portal sends webhooks to."""


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # the start of the answer's body, for the delivery's last error

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class WebhookTransport(Protocol):
    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """POST `body`; the endpoint's answer, or `SendFailed` / `SendRefused`."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked; the Host header still names the host."""

    def __init__(self, endpoint: EndpointUrl, address: str, timeout: float) -> None:
        super().__init__(endpoint.host, endpoint.port, timeout=timeout)
        self.pinned_address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def __init__(self, endpoint: EndpointUrl, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(endpoint, address, timeout)
        self.tls_context = context

    def connect(self) -> None:
        super().connect()
        # Certificate and host name checked against the URL's host (SNI too), not the address.
        self.sock = self.tls_context.wrap_socket(self.sock, server_hostname=self.host)


class HttpWebhookTransport:
    """The real sender. `mode` and `allow_private` are the portal's settings (PORTAL_MODE,
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES); `resolver` is DNS (tests name their own)."""

    def __init__(self, *, mode: str, allow_private: bool = False, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 resolver: Resolver = resolve, tls_context: ssl.SSLContext | None = None) -> None:
        if not 0 < timeout <= 60:
            raise ValueError("a webhook timeout is between 0 and 60 seconds")
        self.mode, self.allow_private, self.timeout = mode, allow_private, timeout
        self.resolver = resolver
        self.tls_context = tls_context or ssl.create_default_context()

    def _addresses(self, endpoint: EndpointUrl) -> list[str]:
        if endpoint.host_is_address:
            addresses = [endpoint.host]
        else:
            try:
                addresses = self.resolver(endpoint.host, endpoint.port)
            except (OSError, UnicodeError) as error:
                raise SendFailed(f"cannot resolve {endpoint.host}: {error}") from None
            if not addresses:
                raise SendFailed(f"cannot resolve {endpoint.host}")
        if self.mode == "production":
            refused = [address for address in addresses if not address_allowed(address, allow_private=self.allow_private)]
            if refused:
                raise SendRefused(f"{endpoint.host} resolves to {refused[0]}, a private, loopback or link-local "
                                  "address (WEBHOOK_ALLOW_PRIVATE_ADDRESSES allows those)")
        return addresses

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        try:
            endpoint = check_endpoint_url(url, mode=self.mode, allow_private=self.allow_private)
        except EndpointUrlRefused as refused:
            raise SendRefused(refused.message) from None
        addresses = self._addresses(endpoint)
        errors = []
        for address in addresses:
            connection = (_PinnedHTTPSConnection(endpoint, address, self.timeout, self.tls_context)
                          if endpoint.scheme == "https" else _PinnedHTTPConnection(endpoint, address, self.timeout))
            try:
                return self._exchange(connection, endpoint, headers, body)
            except _NotConnected as error:
                errors.append(str(error))
            finally:
                connection.close()
        raise SendFailed("; ".join(errors) or "no address to connect to")

    def _exchange(self, connection: _PinnedHTTPConnection, endpoint: EndpointUrl, headers: Mapping[str, str],
                  body: bytes) -> Answer:
        try:
            connection.connect()
        except (OSError, ssl.SSLError) as error:
            raise _NotConnected(f"cannot connect to {connection.pinned_address}: {error}") from None
        # One deadline for the whole exchange: a receiver that answers a byte at a time cannot
        # hold the sender longer than `timeout` (the socket's own timeout is per read).
        timed_out = threading.Event()

        def cut() -> None:
            timed_out.set()
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass

        watchdog = threading.Timer(self.timeout, cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.putrequest("POST", endpoint.target, skip_accept_encoding=True)
            for name, value in {"User-Agent": USER_AGENT, "Content-Type": "application/json",
                                "Content-Length": str(len(body)), **headers}.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            text = response.read(MAX_ANSWER_BYTES)
            return Answer(response.status, text.decode("utf-8", "replace"))
        except (OSError, http.client.HTTPException, ssl.SSLError) as error:
            if timed_out.is_set() or isinstance(error, TimeoutError):
                raise SendFailed(f"no answer within {self.timeout:g} s") from None
            raise SendFailed(f"{type(error).__name__}: {error}") from None
        finally:
            watchdog.cancel()


class _NotConnected(SendFailed):
    """Connecting to one address failed: the next one may work."""
