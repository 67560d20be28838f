"""The staff side. Deny by default: every admin route is refused until staff sign-in exists.

Staff sign-in (Flask-Login, argon2, roles) arrives with the disputes work; until then staff act
through CLI commands (`flask --app wsgi revoke-links EMAIL`).
"""

from flask import Blueprint, abort

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


@bp.before_request
def deny_by_default():
    abort(404)
