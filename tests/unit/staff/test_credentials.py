"""argon2 password hashes and TOTP codes (RFC 6238): what is accepted, and what never is."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest

from portal.domain.staff.credentials import (
    PasswordHasher, is_totp_secret, matching_totp_step, new_totp_secret, totp_code, totp_step, totp_uri,
)

AT = datetime(2026, 6, 15, 14, 30, 10, tzinfo=UTC)
# RFC 6238 appendix B's SHA-1 key ("12345678901234567890"), base32.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_a_hash_verifies_its_password_only():
    hasher = PasswordHasher.cheapest()
    hashed = hasher.hash("correct horse battery staple")
    assert hashed.startswith("$argon2id$") and "correct" not in hashed
    assert hasher.verify(hashed, "correct horse battery staple")
    assert not hasher.verify(hashed, "correct horse battery stapl")
    assert not hasher.verify("not a hash", "anything")


def test_test_mode_is_cheap_and_other_modes_use_the_library_defaults():
    assert PasswordHasher.for_mode("test") == PasswordHasher.cheapest()
    assert PasswordHasher.for_mode("production") == PasswordHasher() == PasswordHasher.for_mode("demo")
    assert PasswordHasher().memory_cost > PasswordHasher.cheapest().memory_cost


def test_a_hash_with_other_parameters_needs_rehashing():
    old = PasswordHasher.cheapest().hash("correct horse battery staple")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert stronger.needs_rehash(old)
    assert stronger.verify(old, "correct horse battery staple")  # still verifies meanwhile
    assert not PasswordHasher.cheapest().needs_rehash(old)


def test_rfc_6238_vector():
    # RFC 6238 appendix B: T = 59 s gives 94287082 with 8 digits; the 6-digit code is its tail.
    assert totp_code(RFC_SECRET, datetime.fromtimestamp(59, UTC)) == "287082"


@pytest.mark.parametrize(("offset_steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_codes_within_one_step_of_drift_are_accepted(offset_steps, accepted):
    secret = new_totp_secret()
    code = totp_code(secret, AT + timedelta(seconds=30 * offset_steps))
    step = matching_totp_step(secret, code, AT)
    if accepted:
        assert step == totp_step(AT) + offset_steps
    else:
        assert step is None or step != totp_step(AT) + offset_steps


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", "12 34 5", None])
def test_malformed_codes_never_match(code):
    assert matching_totp_step(new_totp_secret(), code, AT) is None


def test_spaces_inside_a_code_are_forgiven():
    secret = new_totp_secret()
    code = totp_code(secret, AT)
    assert matching_totp_step(secret, f"{code[:3]} {code[3:]}", AT) == totp_step(AT)


def test_secrets_and_the_enrolment_uri():
    secret = new_totp_secret()
    assert is_totp_secret(secret) and len(secret) == 32
    assert not is_totp_secret(secret.lower()) and not is_totp_secret(secret[:-1]) and not is_totp_secret("0" * 32)
    uri = totp_uri(secret, email="ana@northwind.example", issuer="Northwind Supplies admin")
    assert uri.startswith("otpauth://totp/Northwind%20Supplies%20admin:ana@northwind.example?secret=" + secret)
    assert "issuer=Northwind%20Supplies%20admin" in uri and "digits=6" in uri and "period=30" in uri
