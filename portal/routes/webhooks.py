"""Blueprint webhooks."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)
