"""The outbox: nothing is sent for a rolled-back change, what is committed arrives through a
real SMTP server, failures are retried with backoff and end `dead`, and a crashed sender's
messages are picked up again once its lease lapses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.domain.notifications.rendering import RenderedEmail
from portal.domain.notifications.transport import DeliveryError, SmtpTransport
from portal.domain.notifications.models import OutboxMessage
from portal.domain.notifications.jobs import DeliveryPolicy, deliver_due
from portal.domain.notifications.service import enqueue
from devserver.ports import free_port
from tests.support.fixtures.mail import REFUSED_ADDRESS

MAIL_FROM = "Northwind Supplies <billing@northwind.example>"
POLICY = DeliveryPolicy(batch_size=10, lease=timedelta(minutes=5), max_attempts=3)

RECEIPT = RenderedEmail(
    subject="Receipt for your payment of $1,250.00",
    text="Thank you. We received $1,250.00 for invoice INV-1001.\n",
    html="<p>Thank you. We received <strong>$1,250.00</strong> for invoice INV-1001.</p>\n",
)


def queue(db, clock, to="pat@acme.example", cc=(), email=RECEIPT, dedupe_key=None) -> OutboxMessage:
    message = enqueue(db, clock, kind="receipt", to=to, cc=cc, email=email, dedupe_key=dedupe_key)
    db.commit()
    return message


def reload(db, message: OutboxMessage) -> OutboxMessage:
    db.expire_all()
    return db.get(OutboxMessage, message.id)


def smtp_transport(sink) -> SmtpTransport:
    return SmtpTransport(sink.host, sink.port)  # the production timeout: a loaded machine can stall seconds


def closed_port_transport() -> SmtpTransport:
    """SMTP 'down': nothing listens on the port, so connecting is refused at once."""
    return SmtpTransport("127.0.0.1", free_port(), timeout=2)


class CrashingTransport:
    """Stands for a sender process killed in the middle of a batch."""

    class Crash(BaseException):
        pass

    def send(self, email):
        raise self.Crash()

    def close(self):
        pass


def test_a_rolled_back_change_queues_nothing(db, clock, smtp_sink):
    enqueue(db, clock, kind="receipt", to="pat@acme.example", email=RECEIPT)
    db.rollback()

    report = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)

    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert report.handled == 0
    assert smtp_sink.messages == []


def test_committed_message_arrives_with_to_cc_subject_and_both_bodies(db, clock, smtp_sink):
    message = queue(db, clock, to="pat@acme.example", cc=("ap@acme.example", "pat@acme.example"))

    report = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)

    assert (report.sent, report.retrying, report.dead) == (1, 0, 0)
    [mail] = smtp_sink.wait_for(1)
    assert mail.to == "pat@acme.example"
    assert mail.cc == "ap@acme.example"  # the To address is not copied to itself
    assert sorted(mail.envelope_to) == ["ap@acme.example", "pat@acme.example"]
    assert mail.envelope_from == "billing@northwind.example"
    assert mail.subject == RECEIPT.subject
    assert mail.text.strip() == RECEIPT.text.strip()
    assert "<strong>$1,250.00</strong>" in mail.html
    assert mail.message["Message-ID"] == f"<outbox.{message.id}.{int(message.created_at.timestamp())}@northwind.example>"

    sent = reload(db, message)
    assert (sent.status, sent.attempts, sent.sent_at, sent.lease_until) == ("sent", 1, clock.now(), None)


def test_text_only_message_is_not_multipart(db, clock, smtp_sink):
    queue(db, clock, email=RenderedEmail(subject="Plain", text="Just text\n", html=""))

    deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)

    [mail] = smtp_sink.wait_for(1)
    assert mail.message.get_content_type() == "text/plain"
    assert mail.html == ""


def test_sent_messages_are_not_sent_again(db, clock, smtp_sink):
    queue(db, clock)
    transport = smtp_transport(smtp_sink)
    deliver_due(db, clock, transport, mail_from=MAIL_FROM, policy=POLICY)
    clock.advance(hours=1)

    report = deliver_due(db, clock, transport, mail_from=MAIL_FROM, policy=POLICY)

    assert report.handled == 0
    assert len(smtp_sink.messages) == 1


def test_one_connection_carries_a_batch_in_queue_order(db, clock, smtp_sink):
    for n in range(3):
        queue(db, clock, email=RenderedEmail(subject=f"Reminder {n}", text="Due soon\n", html=""))

    report = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)

    assert report.sent == 3
    assert [mail.subject for mail in smtp_sink.wait_for(3)] == ["Reminder 0", "Reminder 1", "Reminder 2"]


def test_smtp_down_keeps_the_message_pending_and_retries_later(db, clock):
    message = queue(db, clock)

    report = deliver_due(db, clock, closed_port_transport(), mail_from=MAIL_FROM, policy=POLICY)

    assert (report.sent, report.retrying, report.dead) == (0, 1, 0)
    failed = reload(db, message)
    assert failed.status == "pending"
    assert failed.attempts == 1
    assert failed.next_attempt_at == clock.now() + POLICY.first_retry
    assert failed.lease_until is None
    assert "ConnectionRefusedError" in failed.last_error

    # Not due again before its time.
    clock.advance(seconds=30)
    assert deliver_due(db, clock, closed_port_transport(), mail_from=MAIL_FROM, policy=POLICY).handled == 0


def test_a_retried_message_goes_through_once_smtp_is_back(db, clock, smtp_sink):
    message = queue(db, clock)
    deliver_due(db, clock, closed_port_transport(), mail_from=MAIL_FROM, policy=POLICY)
    clock.advance(minutes=1)

    report = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)

    assert report.sent == 1
    assert len(smtp_sink.wait_for(1)) == 1
    delivered = reload(db, message)
    assert (delivered.status, delivered.attempts, delivered.last_error) == ("sent", 2, "")


def test_backoff_doubles_and_the_message_is_dead_after_max_attempts(db, clock):
    message = queue(db, clock)
    waits = []
    for attempt in range(1, POLICY.max_attempts + 1):
        report = deliver_due(db, clock, closed_port_transport(), mail_from=MAIL_FROM, policy=POLICY)
        current = reload(db, message)
        assert current.attempts == attempt
        if attempt < POLICY.max_attempts:
            assert report.retrying == 1
            waits.append(current.next_attempt_at - clock.now())
            clock.set(current.next_attempt_at)
        else:
            assert report.dead == 1

    assert waits == [timedelta(minutes=1), timedelta(minutes=2)]
    dead = reload(db, message)
    assert dead.status == "dead"
    assert dead.last_error
    assert dead.dead_at == clock.now()
    clock.advance(days=1)
    assert deliver_due(db, clock, closed_port_transport(), mail_from=MAIL_FROM, policy=POLICY).handled == 0


def test_a_permanent_refusal_is_dead_at_once(db, clock, smtp_sink):
    refused = queue(db, clock, to=REFUSED_ADDRESS)
    fine = queue(db, clock, to="pat@acme.example")

    report = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)

    assert (report.sent, report.dead) == (1, 1)
    assert reload(db, refused).status == "dead"
    assert "refused" in reload(db, refused).last_error
    assert reload(db, fine).status == "sent"
    assert [mail.to for mail in smtp_sink.wait_for(1)] == ["pat@acme.example"]


def test_a_crashed_senders_lease_lapses_and_the_next_run_sends_once(db, clock, smtp_sink):
    message = queue(db, clock)
    with pytest.raises(CrashingTransport.Crash):
        deliver_due(db, clock, CrashingTransport(), mail_from=MAIL_FROM, policy=POLICY)
    db.rollback()  # what dying does to the crashed sender's session
    held = reload(db, message)
    assert (held.status, held.attempts, held.lease_until) == ("pending", 1, clock.now() + POLICY.lease)

    # While the lease holds, no other sender touches it.
    clock.advance(minutes=4)
    assert deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY).handled == 0
    assert smtp_sink.messages == []

    clock.advance(minutes=1)
    report = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)
    clock.advance(hours=1)
    again = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=POLICY)

    assert (report.sent, again.handled) == (1, 0)
    assert len(smtp_sink.wait_for(1)) == 1
    assert reload(db, message).status == "sent"


def test_a_message_that_crashes_every_sender_ends_dead(db, clock):
    message = queue(db, clock)
    for _ in range(POLICY.max_attempts):
        with pytest.raises(CrashingTransport.Crash):
            deliver_due(db, clock, CrashingTransport(), mail_from=MAIL_FROM, policy=POLICY)
        db.rollback()
        clock.advance(minutes=6)

    report = deliver_due(db, clock, CrashingTransport(), mail_from=MAIL_FROM, policy=POLICY)

    assert report.dead == 1
    dead = reload(db, message)
    assert (dead.status, dead.attempts) == ("dead", POLICY.max_attempts)
    assert "no outcome" in dead.last_error


def test_dedupe_key_queues_once(db, clock):
    first = queue(db, clock, dedupe_key="receipt:pay_1")
    second = queue(db, clock, dedupe_key="receipt:pay_1")

    assert first.id == second.id
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_only_a_batch_is_claimed_per_run(db, clock, smtp_sink):
    for _ in range(3):
        queue(db, clock)
    small = DeliveryPolicy(batch_size=2, max_attempts=3)

    first = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=small)
    second = deliver_due(db, clock, smtp_transport(smtp_sink), mail_from=MAIL_FROM, policy=small)

    assert (first.sent, second.sent) == (2, 1)


def test_retry_delay_doubles_up_to_the_cap():
    policy = DeliveryPolicy(first_retry=timedelta(minutes=1), longest_retry=timedelta(hours=6))

    assert [policy.retry_delay(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert policy.retry_delay(30) == timedelta(hours=6)


def test_smtp_transport_wraps_connection_failures():
    transport = closed_port_transport()
    from email.message import EmailMessage

    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = MAIL_FROM, "pat@acme.example", "x"
    email.set_content("x")
    with pytest.raises(DeliveryError):
        transport.send(email)
    transport.close()


def test_send_outbox_command_delivers_what_is_due(make_app, db, clock, smtp_sink):
    queue(db, clock, to="pat@acme.example")
    app = make_app(smtp_host=smtp_sink.host, smtp_port=smtp_sink.port)

    result = app.test_cli_runner().invoke(args=["send-outbox"])

    assert result.exit_code == 0, result.output
    assert "1 sent, 0 to retry, 0 dead" in result.output
    [mail] = smtp_sink.wait_for(1)
    assert mail.message["From"] == app.extensions["portal"].settings.mail_from
