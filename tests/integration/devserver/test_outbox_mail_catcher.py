"""The demo's mail catcher shows what the outbox sent: a list, each mail with its links
clickable, the HTML part sandboxed, and JSON for scripts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from portal.config import Settings
from devserver.__main__ import Ports, demo_environment
from devserver.localstripe_server import LocalStripe
from devserver.mail_catcher import serve_mail_pages
from devserver.ports import free_port
from portal.domain.notifications.rendering import RenderedEmail
from portal.domain.notifications.transport import SmtpTransport
from portal.domain.notifications.jobs import deliver_due
from portal.domain.notifications.service import enqueue


@pytest.fixture
def mail_pages(smtp_sink):
    server = serve_mail_pages(smtp_sink, free_port())
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[str, dict]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode(), dict(response.headers)


def test_caught_mail_is_listed_and_shown_with_clickable_links(db, clock, smtp_sink, mail_pages):
    link = "http://127.0.0.1:5000/link/sign-in/abc.def"
    enqueue(db, clock, kind="sign_in_link", to="ap@acme.example", cc=("pat@acme.example",),
            email=RenderedEmail(subject="Your sign-in link <Acme>", text=f"Sign in: {link}\n",
                                html=f'<p><a href="{link}">Sign in</a></p><script>alert(1)</script>'))
    db.commit()
    deliver_due(db, clock, SmtpTransport(smtp_sink.host, smtp_sink.port), mail_from="billing@northwind.example")
    smtp_sink.wait_for(1)

    listing, _ = get(f"{mail_pages}/")
    page, _ = get(f"{mail_pages}/mail/1")
    latest, _ = get(f"{mail_pages}/mail/latest")
    html_part, headers = get(f"{mail_pages}/mail/1/html")
    [summary] = json.loads(get(f"{mail_pages}/messages.json")[0])

    assert "Your sign-in link &lt;Acme&gt;" in listing and 'href="/mail/1"' in listing
    assert f'<a href="{link}">{link}</a>' in page
    assert "pat@acme.example" in page
    assert latest == page
    assert "<script>" not in page  # the email's HTML is only ever shown in the sandboxed frame
    assert headers["Content-Security-Policy"].startswith("sandbox")
    assert "<script>" in html_part
    assert (summary["to"], summary["cc"], summary["subject"]) == ("ap@acme.example", "pat@acme.example",
                                                                 "Your sign-in link <Acme>")


def test_unknown_mail_is_a_404(mail_pages):
    with pytest.raises(urllib.error.HTTPError) as error:
        get(f"{mail_pages}/mail/7")
    error.value.close()
    assert error.value.code == 404


def test_demo_environment_is_valid_demo_configuration(tmp_path):
    ports = Ports(app=5001, stripe=8421, smtp=8025, mail_pages=8026)

    settings = Settings.from_env(demo_environment(ports, LocalStripe(8421), "whsec_demo", tmp_path / "demo.db"))

    assert settings.mode == "demo"
    assert settings.database_url == f"sqlite:///{tmp_path / 'demo.db'}"
    assert settings.public_url == "http://127.0.0.1:5001"
    assert settings.stripe_api_base == "http://127.0.0.1:8421"
    assert settings.stripe_js_url == "http://127.0.0.1:8421/js.stripe.com/v3/"
    assert (settings.smtp_host, settings.smtp_port) == ("127.0.0.1", 8025)
    assert settings.stripe_webhook_secrets == ("whsec_demo",)
    assert not settings.session_cookie_secure
