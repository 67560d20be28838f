"""Staff credentials: argon2 password hashes and TOTP codes (RFC 6238).

`PasswordHasher` is a collaborator built once by `create_app`: production uses argon2-cffi's
recommended parameters (RFC 9106, low-memory profile); the test suite builds one with the
cheapest parameters so hashing costs microseconds, not tens of milliseconds. A hash made
with older parameters is upgraded at the next successful sign-in (`needs_rehash`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import argon2
import pyotp
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOTP_DIGITS = 6
TOTP_PERIOD_SECONDS = 30
# Codes from one step before and after the current one are accepted (clock drift).
TOTP_DRIFT_STEPS = 1


@dataclass(frozen=True)
class PasswordHasher:
    time_cost: int = argon2.DEFAULT_TIME_COST
    memory_cost: int = argon2.DEFAULT_MEMORY_COST
    parallelism: int = argon2.DEFAULT_PARALLELISM

    @classmethod
    def for_mode(cls, mode: str) -> PasswordHasher:
        """The production parameters, except in the test suite's mode."""
        return cls.cheapest() if mode == "test" else cls()

    @classmethod
    def cheapest(cls) -> PasswordHasher:
        return cls(time_cost=1, memory_cost=8, parallelism=1)

    @property
    def _argon2(self) -> argon2.PasswordHasher:
        return argon2.PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_cost,
                                     parallelism=self.parallelism)

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon2.check_needs_rehash(password_hash)

    def waste_time(self, password: str) -> None:
        """Do the work of one verification for an address that has no account, so a sign-in
        attempt takes as long whether or not the address is staff (SECURITY.md A15)."""
        self.verify(self._dummy_hash, password)

    @property
    def _dummy_hash(self) -> str:
        cached = _DUMMY_HASHES.get(self)
        if cached is None:
            cached = _DUMMY_HASHES[self] = self.hash("no account has this password")
        return cached


_DUMMY_HASHES: dict[PasswordHasher, str] = {}


def new_totp_secret() -> str:
    """160 random bits, base32 (what authenticator apps expect)."""
    return pyotp.random_base32(32)


def is_totp_secret(text: str) -> bool:
    """What `new_totp_secret` makes: 32 characters of the base32 alphabet."""
    return isinstance(text, str) and len(text) == 32 and all(c in _BASE32 for c in text)


_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def totp_step(at: datetime) -> int:
    return int(at.timestamp()) // TOTP_PERIOD_SECONDS


def matching_totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step `code` belongs to (within the allowed drift), or None. Codes are compared
    in constant time; anything but six ASCII digits never matches."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS)
    current = totp_step(at)
    found = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def totp_code(secret: str, at: datetime) -> str:
    """The code an authenticator shows at `at` (the demo and the tests use it)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS).generate_otp(totp_step(at))


def totp_uri(secret: str, *, email: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (from a QR code or pasted)."""
    label = quote(f"{issuer}:{email}", safe="@:")
    return (f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}"
            f"&digits={TOTP_DIGITS}&period={TOTP_PERIOD_SECONDS}")
