"""A mail catcher: an SMTP server on 127.0.0.1 that keeps what it receives, and web pages
that show it.

The demo sends the portal's emails here instead of to real people; the tests use the same
SMTP part as their sink, to prove that what the outbox sends arrives as it should.
"""

from __future__ import annotations

import html
import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, UTC
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from devserver.ports import LOOPBACK


@dataclass(frozen=True)
class CaughtMail:
    """One received message: the SMTP envelope and the parsed MIME message."""

    number: int
    received_at: datetime
    envelope_from: str
    envelope_to: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))

    @property
    def cc(self) -> str:
        return str(self.message.get("Cc", ""))

    def _part(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""

    @property
    def text(self) -> str:
        return self._part("plain")

    @property
    def html(self) -> str:
        return self._part("html")

    @property
    def attachments(self) -> list[tuple[str, str, bytes]]:
        """(filename, MIME type, bytes) of each attached file (a re-issued invoice's PDF)."""
        return [(part.get_filename() or "", part.get_content_type(), part.get_content())
                for part in self.message.iter_attachments()]


class _Handler:
    """aiosmtpd calls these coroutines for each SMTP command."""

    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.catcher.refused_recipients:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.catcher._keep(envelope.mail_from, tuple(envelope.rcpt_tos), message)
        return "250 Message accepted for delivery"


class MailCatcher:
    """SMTP on 127.0.0.1:`port`, messages kept in memory (thread-safe).

    `refused_recipients` answers 550 for those addresses, to exercise permanent failures.
    """

    def __init__(self, port: int, refused_recipients: tuple[str, ...] = ()) -> None:
        self.host = LOOPBACK
        self.port = port
        self.refused_recipients = {address.lower() for address in refused_recipients}
        self._messages: list[CaughtMail] = []
        self._lock = threading.Condition()
        self._controller = Controller(_Handler(self), hostname=self.host, port=port)

    def start(self) -> MailCatcher:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _keep(self, envelope_from: str, envelope_to: tuple[str, ...], message: EmailMessage) -> None:
        with self._lock:
            self._messages.append(CaughtMail(
                number=len(self._messages) + 1, received_at=datetime.now(UTC),
                envelope_from=envelope_from, envelope_to=envelope_to, message=message,
            ))
            self._lock.notify_all()

    @property
    def messages(self) -> list[CaughtMail]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CaughtMail]:
        """The messages once at least `count` have arrived (or whatever came before timeout)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._messages) >= count, timeout=timeout)
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


# ---------------------------------------------------------------------------------------------
# The web pages: a list of caught mails, one page per mail, and JSON for scripts.

_URL = re.compile(r"https?://[^\s<>\"']+")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d2430; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #dde2ea; vertical-align: top; }}
th {{ font-size: .85rem; color: #5a6473; }}
pre {{ white-space: pre-wrap; background: #f5f7fa; padding: 1rem; border-radius: 6px; }}
iframe {{ width: 100%; height: 32rem; border: 1px solid #dde2ea; border-radius: 6px; }}
dl {{ display: grid; grid-template-columns: 6rem 1fr; gap: .25rem 1rem; }}
dt {{ color: #5a6473; }} .muted {{ color: #5a6473; }}
</style></head><body>{body}</body></html>"""


def _linkify(text: str) -> str:
    """Escape plain text and make its URLs clickable (the sign-in links are the point)."""
    pieces, last = [], 0
    for match in _URL.finditer(text):
        pieces.append(html.escape(text[last:match.start()]))
        url = html.escape(match.group(0))
        pieces.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    pieces.append(html.escape(text[last:]))
    return "".join(pieces)


def _list_page(mails: list[CaughtMail]) -> str:
    rows = "".join(
        f"<tr><td>{mail.number}</td><td>{mail.received_at:%H:%M:%S}</td>"
        f"<td>{html.escape(mail.to)}</td><td>{html.escape(mail.cc)}</td>"
        f'<td><a href="/mail/{mail.number}">{html.escape(mail.subject) or "(no subject)"}</a></td></tr>'
        for mail in reversed(mails)
    )
    body = (
        "<h1>Caught mail</h1><p class=muted>Everything the portal sent while the demo runs. "
        "Nothing leaves this machine. Reload to see new mail.</p>"
        + (f"<table><tr><th>#</th><th>Time (UTC)</th><th>To</th><th>Cc</th><th>Subject</th></tr>{rows}</table>"
           if mails else "<p>No mail yet.</p>")
    )
    return _PAGE.format(title="Caught mail", body=body)


def _mail_page(mail: CaughtMail) -> str:
    headers = "".join(
        f"<dt>{name}</dt><dd>{html.escape(str(mail.message.get(name, '')))}</dd>"
        for name in ("From", "To", "Cc", "Subject", "Date")
        if mail.message.get(name)
    )
    html_part = (
        f'<h2>HTML</h2><iframe src="/mail/{mail.number}/html" '
        'sandbox="allow-popups allow-popups-to-escape-sandbox"></iframe>'
        if mail.html else ""
    )
    body = (
        f'<p><a href="/">&larr; All mail</a></p><h1>{html.escape(mail.subject) or "(no subject)"}</h1>'
        f"<dl>{headers}</dl><h2>Text</h2><pre>{_linkify(mail.text)}</pre>{html_part}"
    )
    return _PAGE.format(title=html.escape(mail.subject), body=body)


def _summary(mail: CaughtMail) -> dict:
    return {
        "number": mail.number, "received_at": mail.received_at.isoformat(), "from": str(mail.message.get("From", "")),
        "to": mail.to, "cc": mail.cc, "subject": mail.subject, "text": mail.text, "html": mail.html,
    }


def serve_mail_pages(catcher: MailCatcher, port: int) -> ThreadingHTTPServer:
    """Start the web pages in a background thread; `server.shutdown()` stops them."""

    class MailPages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            mails = catcher.messages
            if path == "/":
                return self._send(_list_page(mails))
            if path == "/messages.json":
                return self._send(json.dumps([_summary(mail) for mail in mails]), "application/json")
            match = re.fullmatch(r"/mail/(\d+|latest)(/html)?", path)
            if match and mails:
                number = len(mails) if match.group(1) == "latest" else int(match.group(1))
                if 1 <= number <= len(mails):
                    mail = mails[number - 1]
                    if match.group(2):
                        # The email's own HTML, shown in a sandboxed frame: no scripts run.
                        return self._send(mail.html, extra={"Content-Security-Policy": "sandbox allow-popups allow-popups-to-escape-sandbox"})
                    return self._send(_mail_page(mail))
            self._send(_PAGE.format(title="Not found", body='<p>No such mail. <a href="/">All mail</a></p>'), status=HTTPStatus.NOT_FOUND)

        def _send(self, content: str, content_type: str = "text/html", status: HTTPStatus = HTTPStatus.OK, extra: dict | None = None) -> None:
            data = content.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
            return None

    server = ThreadingHTTPServer((LOOPBACK, port), MailPages)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="mail-pages", daemon=True).start()
    return server
