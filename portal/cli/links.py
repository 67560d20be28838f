"""CLI commands (filled in by its feature)."""

from flask import Flask


def register(app: Flask) -> None:
    return None
