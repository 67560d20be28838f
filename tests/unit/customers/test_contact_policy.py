"""The pure decisions about contacts a clerk names: the name and address checked and bounded,
which domains let the portal add a colleague at once (not free mail), who receives email,
and which recipients of a delivery report failed for good."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from portal.domain.customers.policy import (
    ContactRefused, failed_recipients, known_company_domain, parse_email, parse_named_contact, reachable,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("robin@acme.example", "robin@acme.example"), ("  Robin.Right+ap@ACME.Example ", "robin.right+ap@acme.example"),
    ("r@sub.acme.co.uk", "r@sub.acme.co.uk"),
])
def test_a_plausible_address_is_lower_cased(text, expected):
    assert parse_email(text) == expected


@pytest.mark.parametrize("text", [
    "", "robin", "robin@", "@acme.example", "robin@acme", "robin@@acme.example", "ro bin@acme.example",
    "robin@acme..example", ".robin@acme.example", "robin@-acme.example", "robin@acme.example\r\nBcc: x@evil.example",
    "robin@acme.example\x00", "r" * 65 + "@acme.example", "r@" + "a" * 250 + ".example", "x" * 100_000,
    "robin@1.2.3.4",
])
def test_anything_else_is_refused(text):
    with pytest.raises(ContactRefused):
        parse_email(text)


def test_a_named_contact_needs_a_one_line_name_of_at_most_200_characters():
    assert parse_named_contact("  Robin Right ", "robin@acme.example").name == "Robin Right"
    for name, message in (("", "Enter"), ("R" * 201, "at most 200"), ("Robin\nRight", "one line")):
        with pytest.raises(ContactRefused, match=message):
            parse_named_contact(name, "robin@acme.example")


@pytest.mark.parametrize(("address", "company", "at_once"), [
    ("robin@acme.example", ["clerk@acme.example"], True),
    ("robin@ACME.example".lower(), ["clerk@acme.example", "ap@acme.example"], True),
    ("robin@acme-group.example", ["clerk@acme.example"], False),
    ("robin@sub.acme.example", ["clerk@acme.example"], False),
    ("robin@gmail.com", ["clerk@gmail.com"], False),       # free mail proves nothing
    ("robin@outlook.com", ["clerk@outlook.com"], False),
    ("robin@acme.example", [], False),
])
def test_a_colleague_is_added_at_once_only_at_a_company_domain_that_is_not_free_mail(address, company, at_once):
    assert known_company_domain(address, company) is at_once


def test_contacts_who_left_or_bounce_receive_nothing():
    now = datetime(2026, 6, 15, tzinfo=UTC)
    fine = SimpleNamespace(left_at=None, email_failing_at=None)
    left = SimpleNamespace(left_at=now, email_failing_at=None)
    bouncing = SimpleNamespace(left_at=None, email_failing_at=now)
    assert reachable([left, fine, bouncing]) == [fine]


DSN = b"""From: MAILER-DAEMON@mx.northwind.example
To: bounces@northwind.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.northwind.example

Final-Recipient: rfc822; gone@acme.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@acme.example>: Recipient address rejected

Final-Recipient: rfc822; slow@acme.example
Action: delayed
Status: 4.4.1

Final-Recipient: rfc822; full@acme.example
Action: failed
Status: 4.2.2

--B--
"""


def test_only_permanent_failures_of_a_delivery_report_count():
    [(address, reason)] = failed_recipients(DSN)
    assert address == "gone@acme.example" and reason.startswith("5.1.1 smtp; 550 5.1.1")


def test_a_message_that_is_not_a_delivery_report_names_nobody_and_a_huge_one_is_refused():
    assert failed_recipients(b"Subject: hello\r\n\r\nJust a reply.\r\n") == []
    with pytest.raises(ContactRefused, match="too large"):
        failed_recipients(b"x" * (1024 * 1024 + 1))
