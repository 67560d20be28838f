"""Getting in and out of the customer portal (SECURITY.md A1-A6).

* `/link/<purpose>/<token>`: GET and HEAD only show a confirm page ("Continue as ... for ..."),
  because email security scanners fetch every link in a message; the POST signs in.
* `/sign-in`: "send me a sign-in link". The request only records the address, known or not,
  so answer, code path and time are the same either way (the outbox sender resolves it);
  requests are rate-limited per address and per IP.
* Expired or used links get a page offering a fresh sign-in link, emailed to the link's own
  contact (never to an address the visitor types).

Each view: parse → authorize (rate limit, current session) → one domain call → respond (the
web glue commits).
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext

from portal.domain.access.models import AccessLink
from portal.domain.access.policy import (
    ACCOUNT, INVOICE, INVOICES, PURPOSE_BY_SEGMENT, SIGN_IN, SIGN_IN_LINK_LIFETIME, URL_SEGMENTS, Access,
)
from portal.domain.account.queries import open_totals
from portal.domain.core.clock import today_in
from portal.domain.core.locales import N_
from portal.domain.access.rate_limits import allow_all, sign_in_link_limits
from portal.domain.access.service import (
    ExpiredLink, UsedLink, find_link, find_renewable_link, record_sign_in_link_request, redeem_link as redeem,
    send_sign_in_link,
)
from portal.domain.access.tokens import InvalidLink, LinkError, LinkSigner
from portal.domain.customers.contact_followups import proven_by_sign_in
from portal.domain.customers.models import Contact
from portal.forms.auth import SignInRequestForm, next_path_from
from portal.web import customer_session
from portal.web.context import actor_for_contact, client_ip, db, end_read_only_transaction, request_context, services
from portal.web.errors import error_response
from portal.web.customer_session import current_access
from portal.web.i18n import current_language, refusal_message

bp = Blueprint("auth", __name__)

# `/link/invoices/<token>` and `/link/sign-in/<token>`, from the table the link builder uses.
LINK_RULE = "/link/<any({}):kind>/<token>".format(", ".join(f'"{s}"' for s in URL_SEGMENTS.values()))

# Why a session ended (from `require_customer`), as shown on the signed-out page, in the
# visitor's language (`translated`).
SIGNED_OUT_NOTICES = {
    "idle": N_("You were signed out after 30 minutes without activity."),
    "expired": N_("Your session has ended. Sessions last at most 12 hours."),
    "revoked": N_("Your access was withdrawn. Ask for a new sign-in link if you still need it."),
    "invalid": N_("Your session could not be read. Please sign in again."),
    "signed_out": N_("You are signed out."),
    "replaced": N_("You signed in again in this browser, which ended this session."),
}
SIGN_IN_MINUTES = int(SIGN_IN_LINK_LIFETIME.total_seconds() // 60)


def _signer() -> LinkSigner:
    return services().link_signer


def mask_email(email: str) -> str:
    """`a•••@acme.example`: enough for the owner to recognise, little for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def _within_link_limits(email: str):
    """None when a sign-in link may be sent to `email` now, else the 429 response."""
    settings = services().settings
    # The limiter counts through its own connection and commits at once: end this request's
    # read-only transaction first, so on SQLite it does not hold the lock the limiter needs.
    end_read_only_transaction()
    if allow_all(services().rate_limiter, sign_in_link_limits(settings, email=email, ip=client_ip())):
        return None
    minutes = max(1, settings.link_request_window_seconds // 60)
    return error_response(
        429, gettext("Too many sign-in links were asked for. Please wait %(minutes)s minutes and try again.",
                     minutes=minutes),
        headers={"Retry-After": str(settings.link_request_window_seconds)})


def _link_sent_page(email: str):
    return render_template("auth/link_sent.html", masked_email=mask_email(email), minutes=SIGN_IN_MINUTES)


# ---------------------------------------------------------------------------------------------
# Entry points


@bp.get("/")
def index():
    """Signed-in customers go to their account; everyone else to "send me a sign-in link"."""
    access = current_access()
    if access is None:
        return redirect(url_for(".sign_in_request"))
    return redirect(url_for("account.overview" if access.whole_account else "account.invoices"))


def _sign_in_page(*, next_path: str | None, notice: str | None = None, email: str = "", error: str | None = None):
    """The "email me a sign-in link" page, plain, after a sign-out, or with a form error."""
    return render_template("auth/sign_in_request.html", next_path=next_path, notice=notice, email=email,
                           error=error, minutes=SIGN_IN_MINUTES)


@bp.get("/sign-in")
def sign_in_request():
    return _sign_in_page(next_path=next_path_from(request.args))


@bp.get("/signed-out")
def signed_out():
    """Where `require_customer` sends a visitor without a valid session (with `reason`)."""
    reason = request.args.get("reason", "")
    return _sign_in_page(next_path=next_path_from(request.args), notice=SIGNED_OUT_NOTICES.get(reason))


@bp.post("/sign-in")
def send_sign_in_link_request():
    """Email a sign-in link to every contact with this address; say the same thing either way."""
    form = SignInRequestForm(request.form)
    if not form.validate():
        return _sign_in_page(next_path=form.next_path, email=form.email.data or "", error=form.first_error), 400
    email = form.address
    refused = _within_link_limits(email)
    if refused:
        return refused
    record_sign_in_link_request(db(), services().clock, email=email, next_path=form.next_path,
                                language=current_language())
    return render_template("auth/sign_in_sent.html", minutes=SIGN_IN_MINUTES)


@bp.post("/sign-in/email-me")
def email_me_sign_in_link():
    """From a forwarded-invoice-link session: send a whole-account link to the link's contact.

    The address is the contact's own, taken from the session, never from the form: whoever
    holds a forwarded link cannot redirect the sign-in link to themselves (A2).
    """
    access = current_access()
    if access is None:
        return redirect(url_for(".signed_out", reason=g.get("session_end_reason")))
    contact = db().get(Contact, g.contact.id)
    refused = _within_link_limits(contact.email)
    if refused:
        return refused
    send_sign_in_link(db(), services().clock, _signer(), services().supplier, contact=contact,
                      next_path=next_path_from(request.form), language=current_language())
    return _link_sent_page(contact.email)


@bp.post("/sign-out")
def sign_out():
    customer_session.sign_out()
    return redirect(url_for(".signed_out", reason="signed_out"))


# ---------------------------------------------------------------------------------------------
# Links


def _link_problem(error: LinkError, kind: str, token: str):
    """The clear page for an invalid, expired, used or revoked link."""
    link: AccessLink | None = error.link
    if isinstance(error, UsedLink):
        access = current_access()
        if access is not None and access.contact_id == link.contact_id and access.whole_account:
            return redirect(url_for(".index"))  # the link did its job already: this is them
    renewable = isinstance(error, (ExpiredLink, UsedLink))
    return render_template(
        "auth/link_problem.html", reason=error.reason, message=refusal_message(error),
        renew_action=url_for(".renew_link", kind=kind, token=token) if renewable else None,
        masked_email=mask_email(link.contact.email) if renewable else None,
        next_path=next_path_from(request.values),
    ), 404 if isinstance(error, InvalidLink) else 410


def _link_access(link: AccessLink) -> Access:
    """What the link will open once redeemed: the whole account, or its invoices."""
    whole = link.purpose == SIGN_IN
    return Access(customer_id=link.customer_id, contact_id=link.contact_id, scope=ACCOUNT if whole else INVOICES,
                  invoice_ids=frozenset() if whole else frozenset(invoice.id for invoice in link.invoices))


@bp.get(LINK_RULE)
def confirm_link(kind: str, token: str):
    """Show who the link signs in as, and what it asks for ("7 overdue invoices, $5,402.95").
    Changes nothing: scanners and previews stop here (A1)."""
    try:
        link = find_link(db(), services().clock, _signer(), PURPOSE_BY_SEGMENT[kind], token)
    except LinkError as error:
        return _link_problem(error, kind, token)
    customer = link.contact.customer
    totals = open_totals(db(), _link_access(link), today_in(services().clock, customer.timezone))
    g.addressee = link.contact  # the page is in the language of the contact the link was sent to
    return render_template(
        "auth/confirm.html", link=link, contact=link.contact, customer=customer, totals=totals,
        whole_account=link.purpose == SIGN_IN, next_path=next_path_from(request.args),
        action=url_for(".redeem_link", kind=kind, token=token),
    )


def _landing(link: AccessLink, next_path: str | None) -> str:
    """Where a redeemed link goes: a safe `next`; else for an invoice link the pay page with
    exactly the link's invoices that can be paid now (one currency), or the invoice(s) when
    nothing is left to pay; else the start (the overview, with its "Pay all overdue")."""
    if next_path:
        return next_path
    if link.purpose == INVOICE:
        payable = [invoice for invoice in link.invoices if invoice.balance_minor > invoice.in_flight_minor]
        if payable and len({invoice.currency for invoice in payable}) == 1:
            return url_for("payments.pay", invoice=[invoice.public_id for invoice in payable])
        if len(link.invoices) == 1:
            return url_for("account.invoice", public_id=link.invoices[0].public_id)
        return url_for("account.invoices")
    return url_for(".index")


@bp.post(LINK_RULE)
def redeem_link(kind: str, token: str):
    """Sign in with the link (the confirm page's button)."""
    next_path = next_path_from(request.form)
    current = current_access()
    try:
        link = redeem(db(), services().clock, _signer(), PURPOSE_BY_SEGMENT[kind], token, ip=client_ip())
    except LinkError as error:
        return _link_problem(error, kind, token)
    proven_by_sign_in(request_context(actor_for_contact(link.contact.public_id)), link)
    keeps_wider_session = (
        link.purpose == INVOICE and current is not None and current.whole_account
        and current.customer_id == link.customer_id
    )
    if not keeps_wider_session:  # an invoice link must not narrow a whole-account session
        customer_session.sign_in(link.contact, ACCOUNT if link.purpose == SIGN_IN else INVOICES, link)
    return redirect(_landing(link, next_path))


@bp.post(LINK_RULE + "/renew")
def renew_link(kind: str, token: str):
    """The "email me a new link" button of an expired or used link: a fresh sign-in link,
    sent to that link's own contact and nobody else."""
    try:
        link = find_renewable_link(db(), services().clock, _signer(), PURPOSE_BY_SEGMENT[kind], token)
    except LinkError as error:
        return _link_problem(error, kind, token)
    refused = _within_link_limits(link.contact.email)
    if refused:
        return refused
    send_sign_in_link(db(), services().clock, _signer(), services().supplier, contact=link.contact,
                      next_path=next_path_from(request.form), language=current_language())
    return _link_sent_page(link.contact.email)

