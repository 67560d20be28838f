"""`flask --app wsgi <command>`: one module per concern, each with `register(app)`."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from . import database, demo, ledger, links, outbox, stripe_sync

    for module in (database, demo, ledger, links, outbox, stripe_sync):
        module.register(app)
