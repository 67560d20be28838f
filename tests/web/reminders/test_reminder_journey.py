"""End to end: `send-reminders` queues the email, the outbox delivers it to a real SMTP server
on 127.0.0.1, and its one link, followed like a person would, opens the reminder page with
exactly those invoices selected and "Pay <total>", "Dispute" and "Promise to pay" side by side;
each leads to its form for the same invoices. The link is scoped to them (A2)."""

from __future__ import annotations

import re
from html import unescape as html_unescape
from datetime import date, timedelta

from sqlalchemy import select

from portal.domain.notifications.jobs import DeliveryPolicy, deliver_due
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.transport import SmtpTransport
from portal.domain.reminders.jobs import send_reminders
from portal.domain.reminders.notifications import ReminderMail
from tests.support.factories import make_contact, make_customer, make_invoice
from tests.support.fixtures.links import csrf_from, path_of

TODAY = date(2026, 6, 15)


def _invoice(db, clock, customer, number, days_late, total_minor):
    due = TODAY - timedelta(days=days_late)
    return make_invoice(db, clock, customer, number=number, total_minor=total_minor, due_date=due,
                        issue_date=due - timedelta(days=30))


def _text(response) -> str:
    return " ".join(response.get_data(as_text=True).split())


def test_from_the_email_to_the_selected_invoices_and_their_three_actions(app, db, clock, supplier, link_signer,
                                                                          smtp_sink):
    customer = make_customer(db, clock, name="Acme Corp")
    make_contact(db, clock, customer, email="clerk@acme.example")
    make_contact(db, clock, customer, email="ap@acme.example", is_ap_mailbox=True)
    first = _invoice(db, clock, customer, "INV-301", 8, 12_500)
    second = _invoice(db, clock, customer, "INV-302", 9, 7_500)
    other = _invoice(db, clock, customer, "INV-399", 2, 1_000)  # step 1: its own email
    send_reminders(db, clock, ReminderMail(supplier, link_signer))
    db.commit()
    deliver_due(db, clock, SmtpTransport(smtp_sink.host, smtp_sink.port), mail_from="billing@northwind.example",
                policy=DeliveryPolicy(batch_size=10, lease=timedelta(minutes=5), max_attempts=3))
    db.commit()
    mails = smtp_sink.wait_for(2)
    [mail] = [m for m in mails if "INV-301" in m.text]
    assert mail.to == "clerk@acme.example" and mail.cc == "ap@acme.example"
    assert "INV-302" in mail.text and "INV-399" not in mail.text and "$200.00" in mail.subject
    # The main link (the "There's a problem" ones beside it land on their own forms).
    [url] = {url for url in re.findall(r"https?://\S+", mail.text) if "reminders%2Fact" in url}

    client = app.test_client()
    confirm = client.get(path_of(url))
    assert confirm.status_code == 200
    # The confirm page's form, as the browser sends it (the landing page rides in `next`).
    [next_path] = re.findall(r'name="next" value="([^"]+)"', confirm.get_data(as_text=True))
    landed = client.post(path_of(url), data={"csrf_token": csrf_from(confirm), "next": html_unescape(next_path)})
    assert landed.status_code in (302, 303)
    page = client.get(landed.headers["Location"])
    assert page.status_code == 200
    html = _text(page)
    selected = re.findall(r'<tr data-invoice="([^"]+)"', html)
    assert sorted(selected) == sorted([first.public_id, second.public_id])
    assert "INV-399" not in html
    pay = re.search(r'id="pay-selected" href="([^"]+)">Pay \$200.00</a>', html)
    dispute = re.search(r'id="dispute-selected" href="([^"]+)">Dispute</a>', html)
    promise = re.search(r'id="promise-selected" href="([^"]+)">Promise to pay</a>', html)
    assert pay and dispute and promise
    for match, path in ((pay, "/pay?"), (dispute, "/disputes/new?"), (promise, "/promises/new?")):
        target = match.group(1).replace("&amp;", "&")
        assert target.startswith(path) and first.public_id in target and second.public_id in target
        answer = client.get(target)
        assert answer.status_code == 200, target
        assert "INV-301" in _text(answer) and "INV-302" in _text(answer)
    assert "Pay $200.00" in _text(client.get(pay.group(1).replace("&amp;", "&")))
    # The forwarded link opens its own invoices only (A2).
    assert client.get(f"/reminders/act?invoice={other.public_id}").status_code == 404
    assert "INV-399" not in _text(client.get("/invoices"))


def test_the_reminder_page_refuses_bad_and_foreign_ids(app, db, clock, acme):
    from tests.support.factories import sign_in
    foreign = make_customer(db, clock, name="Globex")
    theirs = _invoice(db, clock, foreign, "INV-G1", 8, 1_000)
    client = app.test_client()
    sign_in(client, acme.contact, clock)
    assert client.get(f"/reminders/act?invoice={theirs.public_id}").status_code == 404
    assert client.get("/reminders/act?invoice=%00bad").status_code in (400, 404)
    assert client.get("/reminders/act?" + "&".join(["invoice=x"] * 60)).status_code == 400
    empty = client.get("/reminders/act")
    assert empty.status_code == 200 and "Choose at least one invoice" in _text(empty)
    mine = client.get(f"/reminders/act?invoice={acme.invoices[0].public_id}")
    assert mine.status_code == 200 and acme.invoices[0].number in _text(mine)
    db.rollback()
    assert db.scalars(select(OutboxMessage)).all() == []
