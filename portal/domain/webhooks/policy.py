"""Pure decisions about outgoing webhooks: which URLs and addresses an endpoint may have, how
a body is signed, and when a failed delivery is tried again. No database, no network.

Server-side request forgery: an endpoint URL makes the portal send requests from inside the
supplier's network. In production a URL must be https, name no credentials, and reach only
public addresses: a literal private, loopback or link-local address is refused when the
endpoint is added, and the sender checks every address a host name resolves to before it
connects (and connects to the address it checked, so a second DNS answer cannot differ).
`WEBHOOK_ALLOW_PRIVATE_ADDRESSES` lifts the address rule for an ERP on the supplier's own
network. Demo and test modes also accept http to the loopback interface (127.0.0.1).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from portal.domain.core.errors import DomainError
from portal.domain.notifications.jobs import DeliveryPolicy as OutboxDeliveryPolicy
from portal.domain.webhooks.models import MAX_URL_LENGTH

SIGNATURE_HEADER = "Portal-Signature"
EVENT_ID_HEADER = "Portal-Event-Id"
EVENT_TYPE_HEADER = "Portal-Event-Type"
SECRET_PREFIX = "whsec_"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# A DNS name: labels of letters, digits and inner hyphens, at most 253 characters in all.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
# Names that only ever mean this machine or the local network.
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class EndpointUrlRefused(DomainError):
    """The URL is not one the portal will send webhooks to; nothing was saved."""


@dataclass(frozen=True)
class EndpointUrl:
    """A checked endpoint URL, split for the sender."""

    url: str
    scheme: str
    host: str  # lower case; an IPv6 literal without its brackets
    port: int
    target: str  # path and query, as sent on the request line

    @property
    def host_is_address(self) -> bool:
        return _address(self.host) is not None


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Whether the sender may connect to `address` (an IP address as text). Only global
    unicast addresses, unless private ones are allowed; never multicast, unspecified or an
    IPv4-mapped form of a refused one."""
    ip = _address(address.split("%", 1)[0])
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return False
    return allow_private or ip.is_global


def _refuse(reason: str) -> EndpointUrlRefused:
    return EndpointUrlRefused(f"That URL cannot receive webhooks: {reason}.")


def check_endpoint_url(text: str, *, mode: str, allow_private: bool = False) -> EndpointUrl:
    """The URL an admin typed, checked strictly, or `EndpointUrlRefused` saying why.

    `mode` is the portal's PORTAL_MODE: "production" sends only over https to public
    addresses (private ones with `allow_private`); "demo" and "test" also allow
    http://127.0.0.1 (and localhost) for a receiver on this machine.
    """
    if not isinstance(text, str) or not text.strip():
        raise _refuse("enter the endpoint's address, starting with https://")
    url = text.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"it is longer than {MAX_URL_LENGTH} characters")
    if not url.isascii() or any(c <= " " or c in '\\"<>^`{|}\x7f' for c in url):
        raise _refuse("it may only hold plain ASCII characters, without spaces (punycode for other names)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("it is not a valid URL (check the host and port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise _refuse("it must start with https://")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise _refuse("it may not hold a user name or password; the signature authenticates the portal")
    if parts.fragment or url.endswith("#"):
        raise _refuse("it may not have a #fragment")
    host = (parts.hostname or "").lower()
    if not host:
        raise _refuse("it names no host")
    if port == 0:
        raise _refuse("port 0 is not a port")
    address = _address(host)
    if address is None:
        if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
            raise _refuse("the host is not a valid name")
        last = host.rsplit(".", 1)[-1]
        if last.isdigit() or re.fullmatch(r"0x[0-9a-f]*", last):
            # 127.1, 2130706433 or 0x7f000001 are loopback to many resolvers.
            raise _refuse("the host looks like a number, not a name or an address")
    elif "[" not in parts.netloc and isinstance(address, ipaddress.IPv6Address):
        raise _refuse("an IPv6 address is written in [brackets]")
    loopback = host in LOOPBACK_NAMES
    production = mode == "production"
    if scheme == "http" and (production or not loopback):
        raise _refuse("it must start with https:// (http only reaches this machine outside production)"
                      if not production else "it must start with https://")
    if production:
        local_name = host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host
        if address is None and local_name and not allow_private:
            raise _refuse("the host is a local network name")
        if address is not None and not address_allowed(host, allow_private=allow_private):
            raise _refuse("the address is private, loopback or link-local (set WEBHOOK_ALLOW_PRIVATE_ADDRESSES "
                          "for an ERP on the supplier's own network)")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return EndpointUrl(url=url, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80),
                       target=target)


def new_signing_secret() -> str:
    """256 random bits, url-safe, with a prefix that says what it is."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed by the secret's UTF-8 bytes."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The `Portal-Signature` value: `t=<unix seconds>,v1=<hex>` (Stripe's shape)."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


@dataclass(frozen=True)
class DeliveryPolicy(OutboxDeliveryPolicy):
    """The outbox's batches, lease and backoff (1, 2, 4 ... minutes, at most 6 h apart), with
    fewer attempts: an ERP that refused eight times needs a person, not a ninth try. The lease
    must outlast a whole batch (batch_size x the timeout), or a slow sender's deliveries could
    be claimed by a second one and sent twice."""

    max_attempts: int = 8
