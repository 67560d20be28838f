"""The malware scanner hook (SECURITY.md U5): a protocol, and ClamAV's daemon behind it.

`ClamdScanner` speaks clamd's INSTREAM command over TCP or a unix socket: `zINSTREAM\\0`, then
the file as chunks each prefixed by its length (4 bytes, network order), then a zero length;
clamd answers `stream: OK`, `stream: <signature> FOUND` or `... ERROR`, ended by NUL. Anything
else (refused connection, timeout, a closed connection, an error answer) is "could not judge":
`ScannerUnavailable`, and the file stays pending (fail closed).

The scanner is called only by `jobs.scan_pending_files`, with no database transaction open.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

CHUNK = 64 * 1024
MAX_REPLY = 4096
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ScanVerdict:
    infected: bool
    signature: str = ""  # what the scanner found, when infected


class ScannerUnavailable(Exception):
    """The scanner could not judge the file (down, timed out, refused it): try again later."""


class Scanner(Protocol):
    def scan(self, stream: BinaryIO) -> ScanVerdict: ...


@dataclass(frozen=True)
class ClamdAddress:
    family: int
    target: str | tuple[str, int]

    @classmethod
    def parse(cls, address: str) -> ClamdAddress:
        """`tcp://host:port`, `unix:///path/to/clamd.ctl` or an absolute socket path."""
        address = (address or "").strip()
        if address.startswith("/"):
            return cls(socket.AF_UNIX, address)
        parts = urlsplit(address)
        if parts.scheme == "unix" and parts.path.startswith("/") and not parts.netloc:
            return cls(socket.AF_UNIX, parts.path)
        if parts.scheme == "tcp" and parts.hostname and not parts.path.strip("/"):
            try:
                port = parts.port
            except ValueError:
                port = None
            if port:
                return cls(socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET, (parts.hostname, port))
        raise ValueError(
            f"CLAMAV_ADDRESS {address!r} is not tcp://host:port, unix:///path or an absolute socket path"
        )


class ClamdScanner:
    def __init__(self, address: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.address = ClamdAddress.parse(address)
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings) -> ClamdScanner | None:
        """The configured scanner, or None without CLAMAV_ADDRESS (duck-typed settings)."""
        if not settings.clamav_address:
            return None
        return cls(settings.clamav_address, timeout=settings.clamav_timeout_seconds)

    def scan(self, stream: BinaryIO) -> ScanVerdict:
        try:
            with socket.socket(self.address.family, socket.SOCK_STREAM) as connection:
                connection.settimeout(self.timeout)
                connection.connect(self.address.target)
                connection.sendall(b"zINSTREAM\0")
                while chunk := stream.read(CHUNK):
                    connection.sendall(struct.pack("!L", len(chunk)) + chunk)
                connection.sendall(struct.pack("!L", 0))
                reply = _read_reply(connection)
        except OSError as error:  # refused, reset, timed out, broken pipe (clamd's size limit)
            raise ScannerUnavailable(f"clamd: {type(error).__name__}: {error}") from None
        return _verdict(reply)


def _read_reply(connection: socket.socket) -> str:
    reply = b""
    while b"\0" not in reply and len(reply) < MAX_REPLY:
        data = connection.recv(MAX_REPLY)
        if not data:
            break
        reply += data
    return reply.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _verdict(reply: str) -> ScanVerdict:
    _, _, result = reply.partition(": ")
    if result == "OK":
        return ScanVerdict(infected=False)
    if result.endswith(" FOUND"):
        return ScanVerdict(infected=True, signature=result.removesuffix(" FOUND").strip()[:200])
    raise ScannerUnavailable(f"clamd answered {reply[:200]!r}" if reply else "clamd closed the connection")
