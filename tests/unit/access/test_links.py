"""The link service on its own: tokens, expiry, single use, revocation, safe `next` (A1-A6)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import date, datetime, timedelta, UTC
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from sqlalchemy import select, text

from portal.domain.core.audit import Actor
from portal.domain.core.errors import DomainError
from portal.domain.access.policy import INVOICE, SIGN_IN, safe_next_path
from portal.domain.access.service import (
    ExpiredLink, RevokedLink, UsedLink, find_link, find_renewable_link, invoice_link_expiry, issue_invoice_link, issue_sign_in_link, redeem_link, request_sign_in_links, revoke_contact_access, unpaid_invoices,
)
from portal.domain.access.tokens import InvalidLink, LinkSigner, token_hash
from portal.domain.access.models import AccessLink
from portal.domain.core.models import AuditEntry
from portal.domain.customers.models import Contact
from portal.domain.notifications.models import OutboxMessage
from tests.support.factories import add_invoice_entry, make_contact, make_customer, make_invoice

KEY = "unit-test-secret-key-0123456789-abcdefghijklmnop"
STAFF = Actor("staff", "cli:test")


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner(secret_keys=(KEY,), public_url="https://portal.example")


@pytest.fixture
def acme(db, clock):
    customer = make_customer(db, clock, name="Acme Corp", timezone="America/New_York")
    contact = make_contact(db, clock, customer, email="ap@acme.example")
    return customer, contact


def _nonce(token: str) -> str:
    payload = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# ---------------------------------------------------------------------------------------------
# Tokens (A4)


def test_tokens_carry_256_random_bits_and_only_a_hash_is_stored(db, clock, signer, acme):
    _, contact = acme
    issued = [issue_sign_in_link(db, clock, signer, contact=contact) for _ in range(20)]
    db.commit()

    nonces = [_nonce(item.token) for item in issued]
    assert all(len(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))) * 8 >= 128 for n in nonces)
    assert len(set(nonces)) == len(nonces) == len({item.token for item in issued})

    stored = db.execute(text("SELECT * FROM access_links")).mappings().all()
    for item in issued:
        row = next(r for r in stored if r["public_id"] == item.link.public_id)
        assert row["token_hash"] == hashlib.sha256(f"sign_in:{_nonce(item.token)}".encode()).hexdigest()
        values = " ".join(str(value) for value in row.values())
        assert item.token not in values and _nonce(item.token) not in values


def test_a_token_only_works_for_its_own_purpose(db, clock, signer, acme):
    customer, contact = acme
    invoice = make_invoice(db, clock, customer)
    invoice_link = issue_invoice_link(db, clock, signer, contact=contact, invoices=[invoice])
    sign_in_link = issue_sign_in_link(db, clock, signer, contact=contact)
    db.commit()

    assert find_link(db, clock, signer, INVOICE, invoice_link.token).id == invoice_link.link.id
    with pytest.raises(InvalidLink):  # different salt: the signature does not verify
        find_link(db, clock, signer, SIGN_IN, invoice_link.token)
    with pytest.raises(InvalidLink):
        find_link(db, clock, signer, INVOICE, sign_in_link.token)


def _other_signature(token: str) -> str:
    """The token with the first character of its signature changed. That character carries six
    signature bits; the last one carries only four, the rest being base64 padding that the
    decoder ignores ("A" and "B" there can decode to the same bytes)."""
    payload, signature = token.rsplit(".", 1)
    return f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


@pytest.mark.parametrize("mangle", [
    _other_signature,                                    # signature changed
    lambda t: ("J" if t[0] != "J" else "K") + t[1:],     # payload changed
    lambda t: t.split(".")[0],                           # signature dropped
    lambda t: "",
    lambda t: "x" * 600,
])
def test_tampered_tokens_are_invalid(db, clock, signer, acme, mangle):
    _, contact = acme
    issued = issue_sign_in_link(db, clock, signer, contact=contact)
    db.commit()
    with pytest.raises(InvalidLink):
        find_link(db, clock, signer, SIGN_IN, mangle(issued.token))


def test_a_validly_signed_token_without_a_row_is_invalid(db, clock, signer):
    token, _ = signer.new_token(SIGN_IN)
    with pytest.raises(InvalidLink):
        find_link(db, clock, signer, SIGN_IN, token)


def test_tokens_survive_key_rotation_while_the_old_key_is_a_fallback(db, clock, acme):
    _, contact = acme
    old = LinkSigner(secret_keys=("old-key-" + "o" * 40,), public_url="https://portal.example")
    issued = issue_sign_in_link(db, clock, old, contact=contact)
    db.commit()

    rotated = LinkSigner(secret_keys=(old.secret_keys[0], "new-key-" + "n" * 40), public_url=old.public_url)
    assert find_link(db, clock, rotated, SIGN_IN, issued.token).id == issued.link.id
    dropped = LinkSigner(secret_keys=("new-key-" + "n" * 40,), public_url=old.public_url)
    with pytest.raises(InvalidLink):
        find_link(db, clock, dropped, SIGN_IN, issued.token)


def test_links_are_built_on_the_public_url(db, clock, signer, acme):
    _, contact = acme
    issued = issue_sign_in_link(db, clock, signer, contact=contact, next_path="/invoices?status=open")
    assert issued.url.startswith("https://portal.example/link/sign-in/")
    assert issued.url.endswith("?next=%2Finvoices%3Fstatus%3Dopen")
    evil = issue_sign_in_link(db, clock, signer, contact=contact, next_path="//evil.example")
    assert "next" not in evil.url


# ---------------------------------------------------------------------------------------------
# Invoice links


def test_invoice_link_lives_until_latest_due_date_plus_30_days_in_the_customers_zone(clock):
    now = datetime(2026, 6, 15, 14, 30, tzinfo=UTC)
    invoices = [_due(date(2026, 7, 1)), _due(date(2026, 8, 10))]
    expires = invoice_link_expiry(invoices, "America/New_York", now)
    # End of 9 September in New York (UTC-4 in summer).
    assert expires == datetime(2026, 9, 10, 4, 0, tzinfo=UTC)


def test_invoice_link_lives_at_most_120_days(clock):
    now = datetime(2026, 6, 15, 14, 30, tzinfo=UTC)
    expires = invoice_link_expiry([_due(date(2027, 6, 1))], "UTC", now)
    assert expires == now + timedelta(days=120)


def test_invoice_link_for_overdue_invoices_still_lives_30_days(clock):
    now = datetime(2026, 6, 15, 14, 30, tzinfo=UTC)
    expires = invoice_link_expiry([_due(date(2026, 1, 31))], "UTC", now)
    assert expires == now + timedelta(days=30)


class _due:
    def __init__(self, due_date: date) -> None:
        self.due_date = due_date


def test_invoice_link_names_only_the_contacts_company_invoices(db, clock, signer, acme):
    customer, contact = acme
    other = make_customer(db, clock)
    mine, theirs = make_invoice(db, clock, customer), make_invoice(db, clock, other)
    with pytest.raises(DomainError):
        issue_invoice_link(db, clock, signer, contact=contact, invoices=[mine, theirs])
    with pytest.raises(DomainError):
        issue_invoice_link(db, clock, signer, contact=contact, invoices=[])
    issued = issue_invoice_link(db, clock, signer, contact=contact, invoices=[mine, mine])
    assert [invoice.id for invoice in issued.link.invoices] == [mine.id]


def test_invoice_link_is_reusable_and_records_its_first_use(db, clock, signer, acme):
    customer, contact = acme
    issued = issue_invoice_link(db, clock, signer, contact=contact, invoices=[make_invoice(db, clock, customer)])
    db.commit()
    first_use = clock.now()
    redeem_link(db, clock, signer, INVOICE, issued.token)
    db.commit()
    clock.advance(days=3)
    link = redeem_link(db, clock, signer, INVOICE, issued.token)
    db.commit()
    assert link.used_at == first_use


def test_unpaid_invoices_skip_paid_ones(db, clock, acme):
    customer, _ = acme
    unpaid = make_invoice(db, clock, customer, total_minor=5000)
    paid = make_invoice(db, clock, customer, total_minor=5000)
    add_invoice_entry(db, clock, paid, "credit_note", -5000)
    make_invoice(db, clock, make_customer(db, clock))
    assert [invoice.id for invoice in unpaid_invoices(db, customer.id)] == [unpaid.id]


# ---------------------------------------------------------------------------------------------
# Sign-in links: 15 minutes, single use


def test_looking_at_a_link_changes_nothing(db, clock, signer, acme):
    _, contact = acme
    issued = issue_sign_in_link(db, clock, signer, contact=contact)
    db.commit()
    for _ in range(3):
        find_link(db, clock, signer, SIGN_IN, issued.token)
    db.commit()
    db.expire_all()
    assert db.get(AccessLink, issued.link.id).used_at is None
    assert db.scalar(select(AuditEntry)) is None


def test_sign_in_link_works_once_and_is_audited(db, clock, signer, acme):
    _, contact = acme
    issued = issue_sign_in_link(db, clock, signer, contact=contact)
    db.commit()
    link = redeem_link(db, clock, signer, SIGN_IN, issued.token, ip="203.0.113.9")
    db.commit()
    assert link.used_at == clock.now()
    with pytest.raises(UsedLink):
        redeem_link(db, clock, signer, SIGN_IN, issued.token)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "contact.signed_in"))
    assert (entry.actor_type, entry.actor_id, entry.ip) == ("contact", contact.public_id, "203.0.113.9")
    assert entry.object_id == contact.public_id and entry.after["purpose"] == SIGN_IN


def test_sign_in_link_expires_after_15_minutes(db, clock, signer, acme):
    _, contact = acme
    issued = issue_sign_in_link(db, clock, signer, contact=contact)
    db.commit()
    clock.advance(minutes=14, seconds=59)
    find_link(db, clock, signer, SIGN_IN, issued.token)
    clock.advance(seconds=1)
    with pytest.raises(ExpiredLink) as raised:
        redeem_link(db, clock, signer, SIGN_IN, issued.token)
    assert raised.value.link.id == issued.link.id
    # A stale token may still ask for a fresh link for its own contact.
    assert find_renewable_link(db, clock, signer, SIGN_IN, issued.token).contact_id == contact.id


@pytest.mark.postgres_only
def test_two_concurrent_redemptions_of_one_sign_in_link_sign_in_once(session_factory, clock, signer, acme, db):
    _, contact = acme
    issued = issue_sign_in_link(db, clock, signer, contact=contact)
    db.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def redeem_in_thread():
        with session_factory() as session:
            barrier.wait()
            try:
                redeem_link(session, clock, signer, SIGN_IN, issued.token)
                session.commit()
                outcomes.append("signed in")
            except UsedLink:
                outcomes.append("used")

    threads = [threading.Thread(target=redeem_in_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["signed in", "used"]


# ---------------------------------------------------------------------------------------------
# Revocation (A3)


def test_revoking_withdraws_every_link_and_bumps_the_session_version(db, clock, signer, acme):
    customer, contact = acme
    colleague = make_contact(db, clock, customer)
    invoice = make_invoice(db, clock, customer)
    links = [
        issue_invoice_link(db, clock, signer, contact=contact, invoices=[invoice]),
        issue_sign_in_link(db, clock, signer, contact=contact),
    ]
    untouched = issue_sign_in_link(db, clock, signer, contact=colleague)
    db.commit()
    clock.advance(hours=1)  # the sign-in link is expired too: revoked wins

    assert revoke_contact_access(db, clock, contact=contact, actor=STAFF) == 2
    db.commit()

    assert db.get(Contact, contact.id).session_version == 2
    for issued, purpose in zip(links, (INVOICE, SIGN_IN), strict=True):
        with pytest.raises(RevokedLink):
            find_link(db, clock, signer, purpose, issued.token)
        with pytest.raises(RevokedLink):
            find_renewable_link(db, clock, signer, purpose, issued.token)
    assert db.get(AccessLink, untouched.link.id).revoked_at is None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "contact.access_revoked"))
    assert entry.actor_type == "staff" and entry.object_id == contact.public_id
    assert entry.before == {"session_version": 1}
    assert entry.after == {"session_version": 2, "links_revoked": 2, "sessions_ended": 0}


# ---------------------------------------------------------------------------------------------
# "Send me a sign-in link"


def test_sign_in_links_go_to_every_company_of_a_known_address_and_nowhere_else(db, clock, signer, supplier, acme):
    customer, contact = acme
    make_contact(db, clock, customer, email="shared-ap@acme.example", is_ap_mailbox=True)
    other_company = make_customer(db, clock, name="Beta LLC")
    make_contact(db, clock, other_company, email="ap@acme.example")

    assert request_sign_in_links(db, clock, signer, supplier, email="  AP@Acme.Example ") == 2
    assert request_sign_in_links(db, clock, signer, supplier, email="nobody@acme.example") == 0
    db.commit()

    messages = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.to_address for m in messages] == ["ap@acme.example", "ap@acme.example"]
    assert all(m.cc_addresses == "" and m.kind == "sign_in_link" for m in messages)
    assert {m.subject for m in messages} == {"Your sign-in link for Acme Corp", "Your sign-in link for Beta LLC"}
    assert all("https://portal.example/link/sign-in/" in m.body_text for m in messages)
    assert all("15 minutes" in m.body_text for m in messages)


# ---------------------------------------------------------------------------------------------
# Safe `next` (A6)

REDIRECT_CORPUS = [
    "//evil.example", "//evil.example/invoices", "/\\evil.example", "\\\\evil.example",
    "/%09/evil.example", "/%5Cevil.example", "/%2F/evil.example", "/\t/evil.example",
    "/\n/evil.example", " /invoices", "javascript:alert(1)", "JavaScript:alert(1)",
    "https://evil.example", "http:evil.example", "data:text/html,<script>", "evil.example",
    "invoices", "///evil.example", "/%2f%2fevil.example", "", None,
]


@pytest.mark.parametrize("value", REDIRECT_CORPUS)
def test_next_paths_to_other_sites_are_refused(value):
    assert safe_next_path(value) is None


@pytest.mark.parametrize("value", ["/", "/invoices", "/invoices/abc?status=open&page=2", "/account#top"])
def test_next_paths_on_this_site_are_kept(value):
    assert safe_next_path(value) == value


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("/\\:.%09aZ@?#\t\n -_2F5C"), max_size=14))
def test_whatever_next_path_is_accepted_stays_on_this_host(value):
    kept = safe_next_path(value)
    if kept is not None:
        resolved = urlsplit(urljoin("https://portal.example/start", kept))
        assert (resolved.scheme, resolved.netloc) == ("https", "portal.example")
        assert not any(ch in kept for ch in "\\\t\n ")


def test_token_hash_is_sha256_of_purpose_and_nonce():
    assert token_hash(INVOICE, "abc") == hashlib.sha256(b"invoice:abc").hexdigest()

