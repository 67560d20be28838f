"""A staff refund through the real adapter against localstripe (the stand-in's dialect sends no
`reason`, which it refuses): a card payment made and settled like the clerk's, then refunded in
part from the staff page."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.domain.ledger.jobs import check_ledger
from portal.domain.refunds.models import Refund
from portal.domain.staff.states import StaffRole
from tests.support.factories import make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from
from tests.support.fixtures.stripe import CARD_OK, intent_object, stripe_event
from tests.support.paying import balance, pay, payment_by_public_id, post_event

_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def test_a_settled_card_payment_is_refunded_at_localstripe(app, signed_in, db, clock, company, localstripe):
    first, second = company.invoices
    body = pay(signed_in, {first: "125.00", second: "80.00"}, localstripe.card_token(CARD_OK)).get_json()
    payment = payment_by_public_id(db, body["payment_url"].rsplit("/", 1)[1])
    now = int(clock.now().timestamp())
    settled = stripe_event("payment_intent.succeeded", intent_object(
        payment.stripe_payment_intent_id, "succeeded", 20_500, "USD"), created=now)
    assert post_event(app.test_client(), settled, now).status_code == 200
    assert [balance(db, first), balance(db, second)] == [0, 0]

    staff = app.test_client()
    staff_sign_in(staff, make_staff(db, clock, role=StaffRole.SUPERVISOR), clock)
    page = staff.get(f"/admin/payments/{payment.public_id}")
    form = {"csrf_token": csrf_from(page), "form_token": _TOKEN.search(page.get_data(as_text=True)).group(1),
            "amount": "130.00", "reason": "Damaged goods returned"}
    assert staff.post(f"/admin/payments/{payment.public_id}/refund", data=form).status_code == 303

    db.commit()
    db.expire_all()
    [refund] = db.scalars(select(Refund)).all()
    assert refund.status == "succeeded" and refund.stripe_refund_id.startswith("re_")
    at_stripe = localstripe.client.v1.refunds.retrieve(refund.stripe_refund_id).to_dict()
    assert at_stripe["amount"] == 13_000 and at_stripe["metadata"]["portal_refund"] == refund.public_id
    assert [balance(db, first), balance(db, second)] == [12_500, 500]
    assert check_ledger(db).is_consistent
