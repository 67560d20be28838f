"""Sign-in forms: "email me a sign-in link" and the `next` path every auth form carries."""

from __future__ import annotations

from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict
from wtforms import StringField
from wtforms.validators import ValidationError

from portal.domain.access.policy import safe_next_path
from portal.domain.customers.queries import normalize_email
from portal.forms.fields import PortalForm, first_value, line_field

MAX_EMAIL_LENGTH = 254
MAX_NEXT_LENGTH = 2000
EMAIL_MESSAGE = _("Enter the email address our invoices are sent to.")


def _plausible_email(form, field) -> None:
    local, at, domain = (field.data or "").partition("@")
    if not (at and local and "." in domain and not any(c.isspace() for c in field.data)):
        raise ValidationError(EMAIL_MESSAGE)


class SignInRequestForm(PortalForm):
    email = line_field(_("The email address"), MAX_EMAIL_LENGTH)
    next = StringField()

    def __init__(self, formdata: MultiDict) -> None:
        super().__init__(MultiDict({
            "email": first_value(formdata, "email", MAX_EMAIL_LENGTH),
            "next": first_value(formdata, "next", MAX_NEXT_LENGTH),
        }))
        self.email.validators = [*self.email.validators, _plausible_email]

    @property
    def address(self) -> str:
        return normalize_email(self.email.data)

    @property
    def next_path(self) -> str | None:
        return safe_next_path(self.next.data)

    @property
    def first_error(self) -> str:
        return str(next((errors[0] for errors in self.errors.values() if errors), EMAIL_MESSAGE))


def next_path_from(data: MultiDict) -> str | None:
    """The same-site path a form or query asks to land on, or None (SECURITY.md A6)."""
    return safe_next_path(first_value(data, "next", MAX_NEXT_LENGTH))
