"""Several senders at once on PostgreSQL: `FOR UPDATE SKIP LOCKED` hands each message to
exactly one of them."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from portal.domain.notifications.rendering import RenderedEmail
from portal.domain.notifications.jobs import DeliveryPolicy, deliver_due
from portal.domain.notifications.service import enqueue

MESSAGES = 60
SENDERS = 4


class RecordingTransport:
    """Records which message each send carried; a little slow so the senders overlap."""

    def __init__(self, sent: Counter, lock: threading.Lock) -> None:
        self.sent, self.lock = sent, lock

    def send(self, email) -> None:
        time.sleep(0.002)
        with self.lock:
            self.sent[email["Message-ID"]] += 1

    def close(self) -> None:
        pass


@pytest.mark.postgres_only
def test_concurrent_senders_deliver_each_message_exactly_once(session_factory, clock):
    with session_factory() as db:
        for n in range(MESSAGES):
            enqueue(db, clock, kind="reminder", to=f"clerk{n}@acme.example",
                    email=RenderedEmail(subject=f"Reminder {n}", text="Due\n", html=""))
        db.commit()

    sent: Counter = Counter()
    lock = threading.Lock()
    start = threading.Barrier(SENDERS)
    errors: list[BaseException] = []
    policy = DeliveryPolicy(batch_size=5)

    def sender() -> None:
        try:
            start.wait()
            with session_factory() as db:
                while deliver_due(db, clock, RecordingTransport(sent, lock),
                                  mail_from="billing@northwind.example", policy=policy).handled:
                    pass
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(sent) == MESSAGES
    assert set(sent.values()) == {1}
