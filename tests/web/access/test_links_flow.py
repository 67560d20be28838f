"""Following links, asking for sign-in links, signing out (SECURITY.md A1, A3, A5, A6)."""

from __future__ import annotations

import re
import uuid
from html import unescape
from datetime import timedelta

import pytest

import redis
from sqlalchemy import select

from portal.app import create_app
from tests.support.fixtures.app import commits_arranged_data
from portal.domain.access.service import issue_invoice_link, issue_sign_in_link
from portal.domain.access.models import AccessLink
from portal.domain.core.models import AuditEntry
from portal.domain.notifications.models import OutboxMessage
from portal.domain.access.rate_limits import RedisRateLimiter
from portal.domain.access.jobs import resolve_sign_in_link_requests
from portal.domain.access.tokens import LinkSigner
from portal.domain.notifications.rendering import SupplierDetails
from portal.web.customer_session import SESSION_KEY
from tests.support.factories import make_contact, make_customer, sign_in
from tests.support.fixtures.links import csrf_for, csrf_from, path_of, without_csrf_tokens
from tests.unit.access.test_links import REDIRECT_CORPUS

CONTINUE = "Continue as ap@acme.example for Acme Corp"


def _sign_in_link(db, clock, signer, contact, **kwargs):
    issued = issue_sign_in_link(db, clock, signer, contact=contact, **kwargs)
    db.commit()
    return issued


def _invoice_link(db, clock, signer, contact, invoices):
    issued = issue_invoice_link(db, clock, signer, contact=contact, invoices=invoices)
    db.commit()
    return issued


def _session(client) -> dict | None:
    with client.session_transaction() as session:
        return session.get(SESSION_KEY)


def _reload(db, model, id_):
    db.commit()  # a fresh snapshot: the app committed through its own connection
    return db.get(model, id_, populate_existing=True)


_RESOLVER = {}


@pytest.fixture(autouse=True)
def _sign_in_requests_resolver(settings, clock):
    """What the outbox sender does before delivering: turn recorded sign-in link requests into
    emails (the web request only records them)."""
    _RESOLVER["resolve"] = lambda db: resolve_sign_in_link_requests(
        db, clock, LinkSigner.from_settings(settings), SupplierDetails.from_settings(settings))
    yield
    _RESOLVER.clear()


def _outbox(db) -> list[OutboxMessage]:
    db.commit()  # keep what the test arranged, and see what the app committed
    _RESOLVER["resolve"](db)
    db.commit()
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _audit(db, action: str) -> list[AuditEntry]:
    db.commit()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _follow(client, url: str, **form):
    """Open a link like a person: GET the confirm page, press Continue."""
    page = client.get(path_of(url))
    assert page.status_code == 200, page.status_code
    return client.post(path_of(url), data={"csrf_token": csrf_from(page), **form})


# ---------------------------------------------------------------------------------------------
# A1: scanners and previews change nothing


@pytest.mark.parametrize("purpose", ["sign_in", "invoice"])
def test_head_and_gets_only_show_the_confirm_page_and_post_signs_in(client, db, clock, link_signer, acme, purpose):
    if purpose == "sign_in":
        issued = _sign_in_link(db, clock, link_signer, acme.contact)
    else:
        issued = _invoice_link(db, clock, link_signer, acme.contact, acme.invoices[:1])
    path = path_of(issued.url)

    head = client.head(path)
    assert head.status_code == 200
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200
        assert CONTINUE in page.get_data(as_text=True)
    assert _session(client) is None
    assert _reload(db, AccessLink, issued.link.id).used_at is None
    assert _audit(db, "contact.signed_in") == []
    assert client.get("/").headers["Location"] == "/sign-in"

    response = client.post(path, data={"csrf_token": csrf_from(page)})

    assert response.status_code == 302
    session = _session(client)
    assert session["contact"] == acme.contact.public_id
    assert session["scope"] == ("account" if purpose == "sign_in" else "invoices")
    assert _reload(db, AccessLink, issued.link.id).used_at == clock.now()
    [entry] = _audit(db, "contact.signed_in")
    assert entry.object_id == acme.contact.public_id and entry.ip == "127.0.0.1"


def test_sign_in_link_lands_on_the_start_and_then_the_account(client, db, clock, link_signer, acme):
    response = _follow(client, _sign_in_link(db, clock, link_signer, acme.contact).url)
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/account"


def test_invoice_link_lands_on_the_pay_page_with_exactly_its_invoices(client, db, clock, link_signer, acme):
    first, second = acme.invoices
    one = _invoice_link(db, clock, link_signer, acme.contact, [first])
    assert _follow(client, one.url).headers["Location"] == f"/pay?invoice={first.public_id}"
    both = _invoice_link(db, clock, link_signer, acme.contact, acme.invoices)
    assert _follow(client, both.url).headers["Location"] == f"/pay?invoice={first.public_id}&invoice={second.public_id}"
    assert client.get("/").headers["Location"] == "/invoices"


def test_invoice_link_with_nothing_left_to_pay_lands_on_its_invoice_or_its_list(client, db, clock, link_signer, acme):
    from tests.support.factories import add_invoice_entry

    for invoice in acme.invoices:
        add_invoice_entry(db, clock, invoice, "credit_note", -invoice.total_minor)
    one = _invoice_link(db, clock, link_signer, acme.contact, acme.invoices[:1])
    assert _follow(client, one.url).headers["Location"] == f"/invoices/{acme.invoices[0].public_id}"
    both = _invoice_link(db, clock, link_signer, acme.contact, acme.invoices)
    assert _follow(client, both.url).headers["Location"] == "/invoices"


def test_confirm_page_says_which_invoices_the_link_opens(client, db, clock, link_signer, acme):
    issued = _invoice_link(db, clock, link_signer, acme.contact, acme.invoices)
    body = client.get(path_of(issued.url)).get_data(as_text=True)
    assert all(invoice.number in body for invoice in acme.invoices)
    assert 'name="robots" content="noindex' in body


def test_an_invoice_link_does_not_narrow_a_whole_account_session(client, db, clock, link_signer, acme):
    sign_in(client, acme.contact, clock)
    _follow(client, _invoice_link(db, clock, link_signer, acme.contact, acme.invoices[:1]).url)
    assert _session(client)["scope"] == "account"
    assert client.get("/account").status_code == 200


def test_a_sign_in_link_works_once(app, client, db, clock, link_signer, acme):
    issued = _sign_in_link(db, clock, link_signer, acme.contact)
    _follow(client, issued.url)
    # The same person clicking again is simply taken in.
    assert client.get(path_of(issued.url)).headers["Location"] == "/"
    # Anyone else (another browser) is told it was used, and offered a fresh one.
    other = app.test_client()
    page = other.get(path_of(issued.url))
    assert page.status_code == 410
    assert "already been used" in page.get_data(as_text=True)
    response = other.post(path_of(issued.url), data={"csrf_token": csrf_from(page)})
    assert response.status_code == 410 and _session(other) is None


# ---------------------------------------------------------------------------------------------
# A3: expired, used, revoked


@pytest.mark.parametrize("purpose", ["sign_in", "invoice"])
def test_expired_link_gets_a_clear_page_that_emails_a_fresh_link_to_its_contact(client, db, clock, link_signer, acme, purpose):
    if purpose == "sign_in":
        issued = _sign_in_link(db, clock, link_signer, acme.contact, next_path="/invoices")
        clock.advance(minutes=16)
    else:
        issued = _invoice_link(db, clock, link_signer, acme.contact, acme.invoices)
        clock.advance(days=121)

    page = client.get(path_of(issued.url))
    body = page.get_data(as_text=True)
    assert page.status_code == 410
    assert "This link has expired" in body
    assert "a•••@acme.example" in body and "Email me a new link" in body
    assert _session(client) is None

    assert f'action="{path_of(issued.url).split("?")[0]}/renew"' in body
    sent = client.post(path_of(issued.url).split("?")[0] + "/renew", data={"csrf_token": csrf_from(page), "next": "/invoices"})
    assert sent.status_code == 200
    assert "We emailed a sign-in link to" in sent.get_data(as_text=True)
    [message] = _outbox(db)
    assert message.to_address == "ap@acme.example" and message.cc_addresses == ""
    fresh_url = re.search(r"http://localhost/link/sign-in/\S+", message.body_text).group(0)
    assert fresh_url.endswith("?next=%2Finvoices")
    assert _follow(client, fresh_url, next="/invoices").headers["Location"] == "/invoices"
    assert _session(client)["scope"] == "account"


def test_revoked_link_is_refused_without_a_fresh_link(client, db, clock, link_signer, acme, app):
    issued = _invoice_link(db, clock, link_signer, acme.contact, acme.invoices)
    page = client.get(path_of(issued.url))
    result = app.test_cli_runner().invoke(args=["revoke-links", "ap@acme.example"])
    assert result.exit_code == 0, result.output

    refused = client.get(path_of(issued.url))
    assert refused.status_code == 410
    assert "withdrawn" in refused.get_data(as_text=True)
    assert "/renew" not in refused.get_data(as_text=True)  # no one-click link to the contact
    assert 'href="/sign-in"' in refused.get_data(as_text=True)  # only the ordinary request form
    post = client.post(path_of(issued.url), data={"csrf_token": csrf_from(page)})
    assert post.status_code == 410 and _session(client) is None
    renew = client.post(path_of(issued.url) + "/renew", data={"csrf_token": csrf_from(page)})
    assert renew.status_code == 410 and _outbox(db) == []


def test_revoking_ends_a_live_session(app, client, db, clock, link_signer, acme):
    _follow(client, _sign_in_link(db, clock, link_signer, acme.contact).url)
    assert client.get("/invoices").status_code == 200

    result = app.test_cli_runner().invoke(args=["revoke-links", "ap@acme.example"])
    assert "Acme Corp: 1 link(s) revoked, sessions ended." in result.output

    response = client.get("/invoices")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signed-out?reason=revoked")
    assert "Your access was withdrawn" in client.get(response.headers["Location"]).get_data(as_text=True)
    [entry] = _audit(db, "contact.access_revoked")
    assert entry.actor_type == "staff" and entry.actor_id.startswith("cli:")


def test_an_invalid_link_says_so_and_points_to_the_sign_in_page(client):
    response = client.get("/link/sign-in/not-a-real-token")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "This link is not valid" in body and 'href="/sign-in"' in body
    assert client.post("/link/sign-in/not-a-real-token/renew", data={"csrf_token": csrf_for(client)}).status_code == 404


# ---------------------------------------------------------------------------------------------
# A5: "send me a sign-in link"


@pytest.fixture(params=["database", "redis"])
def limited_app(request, settings, clock, engine, gateway, db):
    """The app with the database limiter (default) or with Redis (a unique key prefix)."""
    if request.param == "database":
        yield commits_arranged_data(create_app(settings, clock=clock, gateway=gateway, engine=engine), db)
        return
    redis_url = request.getfixturevalue("redis_url")  # tests/support/fixtures/redis.py
    client = redis.Redis.from_url(redis_url)
    prefix = f"portal-test:{uuid.uuid4().hex}:"
    limiter = RedisRateLimiter(client, clock, key_prefix=prefix)
    yield commits_arranged_data(create_app(settings.with_changes(redis_url=redis_url), clock=clock,
                                           gateway=gateway, engine=engine, rate_limiter=limiter), db)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def _ask(client, email: str, token: str, **environ):
    return client.post("/sign-in", data={"csrf_token": token, "email": email}, environ_base=environ)


def test_known_and_unknown_addresses_get_the_same_answer(limited_app, db, acme):
    client = limited_app.test_client()
    token = csrf_for(client)
    known = _ask(client, "ap@acme.example", token)
    unknown = _ask(client, "zz@acme.example", token)

    assert known.status_code == unknown.status_code == 200
    # Byte for byte, but for the forms' CSRF tokens, which carry the second they were signed in.
    assert without_csrf_tokens(known.get_data()) == without_csrf_tokens(unknown.get_data())
    assert known.headers.get("Set-Cookie") == unknown.headers.get("Set-Cookie")
    assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())
    assert [m.to_address for m in _outbox(db)] == ["ap@acme.example"]


def test_the_fourth_request_in_15_minutes_is_refused_and_sends_nothing(limited_app, db, clock, acme):
    client = limited_app.test_client()
    token = csrf_for(client)
    assert [_ask(client, "AP@acme.example", token).status_code for _ in range(3)] == [200] * 3
    assert len(_outbox(db)) == 3

    refused = _ask(client, "ap@acme.example", token)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "900"
    assert "wait 15 minutes" in refused.get_data(as_text=True)
    assert len(_outbox(db)) == 3
    # In the visitor's language, like the page that asked.
    french = _ask(client, "ap@acme.example", token, HTTP_ACCEPT_LANGUAGE="fr")
    assert french.status_code == 429 and french.headers["Retry-After"] == "900"
    assert "Veuillez patienter 15 minutes" in french.get_data(as_text=True)
    assert "Too many" not in french.get_data(as_text=True)
    # Unknown addresses are limited the same way (or the limit would reveal who is known).
    assert [_ask(client, "zz@acme.example", token).status_code for _ in range(4)] == [200, 200, 200, 429]

    clock.advance(minutes=15)
    assert _ask(client, "ap@acme.example", token).status_code == 200
    assert len(_outbox(db)) == 4


def test_one_ip_cannot_walk_through_many_addresses(limited_app, db, acme):
    client = limited_app.test_client()
    token = csrf_for(client)
    statuses = [_ask(client, f"person{n}@acme.example", token, REMOTE_ADDR="198.51.100.4").status_code
                for n in range(21)]
    assert statuses == [200] * 20 + [429]
    # Refused by the IP limit even for a known address; another IP is unaffected.
    assert _ask(client, "ap@acme.example", token, REMOTE_ADDR="198.51.100.4").status_code == 429
    assert _outbox(db) == []
    assert _ask(client, "ap@acme.example", token, REMOTE_ADDR="198.51.100.5").status_code == 200


def test_a_malformed_address_is_asked_again(client):
    response = client.post("/sign-in", data={"csrf_token": csrf_for(client), "email": "not an email"})
    assert response.status_code == 400
    assert "Enter the email address" in response.get_data(as_text=True)


@pytest.mark.parametrize(("language", "words"), [
    ("en", "An address that is a contact at several companies gets one email for each"),
    ("fr", "Une adresse qui est un contact de plusieurs sociétés reçoit un e-mail pour chacune\u00a0:"),
    ("de", "erhält für jede eine E-Mail: Jeder Link öffnet das Konto dieser Firma."),
])
def test_an_address_known_at_two_companies_gets_a_link_for_each(client, db, clock, acme, language, words):
    make_contact(db, clock, make_customer(db, clock, name="Beta LLC"), email="ap@acme.example")
    # The answer says two emails may come, to any address alike (A5: it tells no address apart).
    answer = _ask(client, "ap@acme.example", csrf_for(client), HTTP_ACCEPT_LANGUAGE=language)
    assert words in unescape(answer.get_data(as_text=True))
    [acme_mail, beta_mail] = sorted(_outbox(db), key=lambda message: message.subject)
    assert acme_mail.subject.endswith("Acme Corp") and beta_mail.subject.endswith("Beta LLC")
    if language == "en":
        assert [acme_mail.subject, beta_mail.subject] == ["Your sign-in link for Acme Corp",
                                                          "Your sign-in link for Beta LLC"]


def test_the_emailed_link_signs_in_and_goes_where_the_visitor_was_going(client, db, acme):
    start = client.get("/signed-out?reason=idle&next=/invoices%3Fstatus%3Dopen")
    assert "30 minutes without activity" in start.get_data(as_text=True)
    assert 'name="next" value="/invoices?status=open"' in start.get_data(as_text=True)
    client.post("/sign-in", data={"csrf_token": csrf_from(start), "email": "ap@acme.example",
                                  "next": "/invoices?status=open"})
    [message] = _outbox(db)
    assert "Acme Corp" in message.body_html and "15 minutes" in message.body_html
    url = re.search(r"http://localhost/link/sign-in/\S+", message.body_text).group(0)
    confirm = client.get(path_of(url))
    assert 'name="next" value="/invoices?status=open"' in confirm.get_data(as_text=True)
    response = client.post(path_of(url), data={"csrf_token": csrf_from(confirm), "next": "/invoices?status=open"})
    assert response.headers["Location"] == "/invoices?status=open"


def test_a_forwarded_link_holder_can_only_send_the_sign_in_link_to_the_contact(client, db, clock, link_signer, acme):
    _follow(client, _invoice_link(db, clock, link_signer, acme.contact, acme.invoices[:1]).url)
    page = client.get("/account")
    assert page.status_code == 403
    body = page.get_data(as_text=True)
    assert "Email a sign-in link to ap@acme.example" in body and 'action="/sign-in/email-me"' in body

    response = client.post("/sign-in/email-me", data={
        "csrf_token": csrf_from(page), "email": "colleague@elsewhere.example", "next": "/account",
    })
    assert response.status_code == 200
    assert [m.to_address for m in _outbox(db)] == ["ap@acme.example"]
    assert "colleague@elsewhere.example" not in _outbox(db)[0].body_text
    assert "next=%2Faccount" in _outbox(db)[0].body_text


def test_email_me_needs_a_session(client):
    response = client.post("/sign-in/email-me", data={"csrf_token": csrf_for(client)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/signed-out")


# ---------------------------------------------------------------------------------------------
# A6: `next` never leaves the site


@pytest.mark.parametrize("bad_next", [value for value in REDIRECT_CORPUS if value])
def test_sign_in_with_a_next_to_another_site_lands_on_the_start(client, db, clock, link_signer, acme, bad_next):
    issued = _sign_in_link(db, clock, link_signer, acme.contact)
    confirm = client.get(path_of(issued.url), query_string={"next": bad_next})
    if any(ord(c) < 32 for c in bad_next):  # a control character in a query is refused (A14)
        assert confirm.status_code == 400
        confirm = client.get(path_of(issued.url))
    assert 'name="next"' not in confirm.get_data(as_text=True)
    response = client.post(path_of(issued.url), data={"csrf_token": csrf_from(confirm), "next": bad_next})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("bad_next", ["//evil.example", "/\\evil.example", "/%09/evil.example", "javascript:alert(1)"])
def test_pages_never_carry_a_bad_next_forward(client, bad_next):
    for path in ("/sign-in", "/signed-out"):
        body = client.get(path, query_string={"next": bad_next}).get_data(as_text=True)
        assert 'name="next"' not in body and "evil" not in body


# ---------------------------------------------------------------------------------------------
# Index and sign-out


def test_the_start_page_sends_each_visitor_to_the_right_place(client, clock, acme):
    assert client.get("/").headers["Location"] == "/sign-in"
    sign_in(client, acme.contact, clock)
    assert client.get("/").headers["Location"] == "/account"


def test_signing_out_ends_the_session(client, clock, acme):
    sign_in(client, acme.contact, clock)
    page = client.get("/invoices")
    response = client.post("/sign-out", data={"csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/signed-out?reason=signed_out"
    assert _session(client) is None
    assert client.get("/invoices").status_code == 302


# ---------------------------------------------------------------------------------------------
# Staff commands


def test_cli_prints_sign_in_and_invoice_links_that_work(app, client, db, acme):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sign-in-link", "ap@acme.example"])
    assert result.exit_code == 0, result.output
    url = re.search(r"http://localhost/link/sign-in/\S+", result.output).group(0)
    assert _follow(client, url).status_code == 302 and _session(client)["scope"] == "account"

    number = acme.invoices[1].number
    result = runner.invoke(args=["invoice-link", "ap@acme.example", "--invoice", number])
    assert result.exit_code == 0, result.output
    url = re.search(r"http://localhost/link/invoices/\S+", result.output).group(0)
    other = app.test_client()
    assert _follow(other, url).headers["Location"] == f"/pay?invoice={acme.invoices[1].public_id}"

    result = runner.invoke(args=["invoice-link", "ap@acme.example"])
    assert result.exit_code == 0 and all(i.number in result.output for i in acme.invoices)


def test_cli_refuses_unknown_addresses_and_foreign_invoices(app, db, clock, acme):
    runner = app.test_cli_runner()
    for args in (["sign-in-link", "nobody@x.example"], ["revoke-links", "nobody@x.example"],
                 ["invoice-link", "ap@acme.example", "--invoice", "NO-SUCH"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0
    from tests.support.factories import make_invoice

    foreign = make_invoice(db, clock, make_customer(db, clock))
    result = runner.invoke(args=["invoice-link", "ap@acme.example", "--invoice", foreign.number])
    assert result.exit_code != 0 and "do not all belong" in result.output


def test_sign_in_link_expiry_is_15_minutes_and_invoice_links_follow_due_dates(db, clock, link_signer, acme):
    issued = _sign_in_link(db, clock, link_signer, acme.contact)
    assert issued.link.expires_at - clock.now() == timedelta(minutes=15)
