"""Email on the wire: composing a MIME message from an outbox row, and sending it over SMTP.

The outbox (`portal.domain.outbox`) decides *when* to send and what to do on failure; this
module only knows SMTP. Its errors say which failures are worth retrying:

* `DeliveryError`: try again later (server down, timeout, 4xx, bad credentials: none of these
  are the message's fault, and a fixed configuration should let the message through);
* `PermanentDeliveryError`: the server refused this very message for good (5xx to its
  recipients or its content); retrying would only repeat the refusal.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol

SMTP_TIMEOUT_SECONDS = 20


class DeliveryError(Exception):
    """Sending failed this time; the same message may go through later."""


class PermanentDeliveryError(DeliveryError):
    """The mail server refused this message for good (a 5xx answer about the message)."""


class MailTransport(Protocol):
    """What the outbox needs from a way of sending mail."""

    def send(self, email: EmailMessage) -> None:
        """Hand one message over; raise `DeliveryError` (or a subclass) when that fails."""

    def close(self) -> None:
        """Release any connection kept open between messages."""


def split_addresses(addresses: str) -> list[str]:
    """The outbox stores CC as one comma-separated string."""
    return [address.strip() for address in (addresses or "").split(",") if address.strip()]


def compose_email(
    *,
    message_id: int,
    created_at: datetime,
    to: str,
    cc: str,
    subject: str,
    text: str,
    html: str,
    mail_from: str,
    date: datetime,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML second when there is one), with
    any attachments after it (multipart/mixed).

    The Message-ID is derived from the outbox row, so a message delivered twice (the outbox
    promises at least once) carries the same id and mail clients can fold the copies together.
    """
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = to
    cc_list = split_addresses(cc)
    if cc_list:
        email["Cc"] = ", ".join(cc_list)
    email["Subject"] = subject
    email["Date"] = format_datetime(date)
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    email["Message-ID"] = f"<outbox.{message_id}.{int(created_at.timestamp())}@{domain}>"
    # Tells auto-responders (out-of-office replies) not to answer a machine-sent message.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(text)
    if html:
        email.add_alternative(html, subtype="html")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        email.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return email


class SmtpTransport:
    """Sends through one SMTP server with smtplib, keeping the connection open across a batch.

    STARTTLS (verified against the system's CA store) and LOGIN are used when configured.
    Any failure closes the connection, so the next message starts from a clean one.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None

    @classmethod
    def from_settings(cls, settings) -> SmtpTransport:
        """Build from `portal.config.Settings` (SMTP_HOST, SMTP_PORT, SMTP_STARTTLS, ...)."""
        return cls(
            settings.smtp_host, settings.smtp_port, username=settings.smtp_username,
            password=settings.smtp_password, starttls=settings.smtp_starttls,
        )

    def _connect(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if self.starttls:
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if self.username:
                connection.login(self.username, self.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, email: EmailMessage) -> None:
        try:
            if self._connection is None:
                self._connection = self._connect()
            # Recipients come from To and Cc; a partial refusal still delivered to the rest.
            self._connection.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            codes = [code for code, _ in error.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentDeliveryError(f"recipients refused: {error.recipients}") from error
            raise DeliveryError(f"recipients refused for now: {error.recipients}") from error
        except smtplib.SMTPDataError as error:
            self.close()
            if 500 <= error.smtp_code < 600:
                raise PermanentDeliveryError(f"message refused: {error.smtp_code} {error.smtp_error!r}") from error
            raise DeliveryError(f"message deferred: {error.smtp_code} {error.smtp_error!r}") from error
        except (OSError, smtplib.SMTPException) as error:
            # Connection refused or lost, timeouts, TLS and login failures, sender refused:
            # problems of the server or of our configuration, not of this message.
            self.close()
            raise DeliveryError(f"{type(error).__name__}: {error}") from error

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
