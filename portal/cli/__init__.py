"""`flask --app wsgi <command>`: one module per concern, each with `register(app)`.

The command runner: every command that touches the database does its work inside
`command_session`, which commits once when the command's work returns and rolls back when it
raises. Commands never commit themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy.orm import Session

from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from portal.domain.core.database import writing_session
from portal.web.context import Services


def services_of(app: Flask) -> Services:
    return app.extensions["portal"]


@contextmanager
def command_session(app: Flask) -> Iterator[Session]:
    """The command's one session and its single commit."""
    session = writing_session(services_of(app).session_factory)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def command_context(app: Flask, actor: Actor) -> Iterator[Context]:
    with command_session(app) as session:
        yield Context(db=session, clock=services_of(app).clock, actor=actor)


def register_commands(app: Flask) -> None:
    from . import attachments, bounces, database, demo, disputes, erp, ledger, links, outbox, plans, promises, refunds
    from . import reminders, staff, stripe_sync, webhooks

    for module in (attachments, bounces, database, demo, disputes, erp, ledger, links, outbox, plans, promises, refunds,
                   reminders, staff, stripe_sync, webhooks):
        module.register(app)
