"""A5 and A15: "email me a sign-in link" answers known and unknown addresses alike, by the same
code path, and never with a 500 under concurrency; a concurrent Continue on one sign-in link
never answers 500 either (SQLite and PostgreSQL).

Before the fix a known address issued the link and rendered the email inside the request
(some 1.3 ms more, and different SQL), and on SQLite 3-6 of 40 concurrent requests answered
500 "database is locked".
"""

from __future__ import annotations

import re
import threading

from sqlalchemy import event, func, select

from portal.domain.access.jobs import resolve_sign_in_link_requests
from portal.domain.access.models import AccessLink, SignInLinkRequest
from portal.domain.access.service import issue_sign_in_link
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.rendering import SupplierDetails
from tests.support.factories import make_contact, make_customer
from tests.support.fixtures.links import csrf_for, without_csrf_tokens, csrf_from, path_of

_LITERALS = re.compile(r"'[^']*'|\b\d+\b")


def _statements(engine, action):
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(_LITERALS.sub("?", statement))

    event.listen(engine, "before_cursor_execute", record)
    try:
        result = action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return result, seen


def _count(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def test_known_and_unknown_addresses_take_the_same_code_path(app, engine, db, acme):
    client = app.test_client()
    token = csrf_for(client)
    links_before, outbox_before = _count(db, AccessLink), _count(db, OutboxMessage)

    known, known_sql = _statements(engine, lambda: client.post("/sign-in", data={"csrf_token": token, "email": "ap@acme.example"}))
    unknown, unknown_sql = _statements(engine, lambda: client.post("/sign-in", data={"csrf_token": token, "email": "zz@acme.example"}))

    assert known.status_code == unknown.status_code == 200
    # The same page byte for byte, but for the forms' CSRF tokens, which carry the second they
    # were signed in.
    assert without_csrf_tokens(known.get_data()) == without_csrf_tokens(unknown.get_data())
    assert known_sql == unknown_sql and known_sql
    # Nothing about the contact happened in the request: no link, no email, one request row each.
    assert (_count(db, AccessLink), _count(db, OutboxMessage)) == (links_before, outbox_before)
    assert sorted(db.scalars(select(SignInLinkRequest.email))) == ["ap@acme.example", "zz@acme.example"]


def test_the_outbox_sender_resolves_requests_into_emails_once(app, db, clock, settings, link_signer, acme):
    client = app.test_client()
    token = csrf_for(client)
    for email in ("ap@acme.example", "zz@acme.example"):
        client.post("/sign-in", data={"csrf_token": token, "email": email, "next": "/invoices"})
    supplier = SupplierDetails.from_settings(settings)
    db.rollback()

    assert resolve_sign_in_link_requests(db, clock, link_signer, supplier) == 1
    db.commit()
    assert resolve_sign_in_link_requests(db, clock, link_signer, supplier) == 0
    db.commit()

    [message] = db.scalars(select(OutboxMessage)).all()
    assert message.to_address == "ap@acme.example" and "next=%2Finvoices" in message.body_text
    assert all(r.resolved_at == clock.now() for r in db.scalars(select(SignInLinkRequest)))


def _in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(n):
        barrier.wait()
        try:
            results[n] = work(n)
        except Exception as error:  # a crash must show up as a failed assertion, not vanish
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_forty_concurrent_requests_never_answer_500(app, db, clock, acme):
    customer = make_customer(db, clock, name="Beta LLC")
    for n in range(20):
        make_contact(db, clock, customer, email=f"known{n}@beta.example")
    clients = []
    for _ in range(40):
        client = app.test_client()
        clients.append((client, csrf_for(client)))

    def ask(n):
        client, token = clients[n]
        email = f"known{n}@beta.example" if n < 20 else f"unknown{n}@beta.example"
        return client.post("/sign-in", data={"csrf_token": token, "email": email},
                           environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"}).status_code

    assert _in_threads(40, ask) == [200] * 40
    assert _count(db, SignInLinkRequest) == 40


def test_a_concurrent_continue_on_one_sign_in_link_never_answers_500(app, db, clock, link_signer, acme):
    issued = issue_sign_in_link(db, clock, link_signer, contact=acme.contact)
    db.commit()
    clients = []
    for _ in range(8):
        client = app.test_client()
        clients.append((client, csrf_from(client.get(path_of(issued.url)))))

    def press_continue(n):
        client, token = clients[n]
        return client.post(path_of(issued.url), data={"csrf_token": token}).status_code

    statuses = _in_threads(8, press_continue)
    assert sorted(statuses) == [302] + [410] * 7, statuses
