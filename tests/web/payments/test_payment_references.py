"""Every attempt gets its reference when it is created, through the pay request itself; a
refused request takes none; concurrent payments of different companies never share one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from portal.domain.payments.models import Payment
from portal.domain.payments.policy import parse_payment_reference
from tests.support.factories import sign_in
from tests.support.paying import make_company, open_pay_page, pay, pay_form, payment_by_public_id, post_payment


@pytest.fixture
def gateway(fake_gateway):
    return fake_gateway


def _reference_of(db, response) -> str:
    return payment_by_public_id(db, response.get_json()["payment_url"].rsplit("/", 1)[1]).reference


def test_each_attempt_gets_the_next_reference_of_the_year_and_a_refused_one_none(app, db, clock, fake_gateway):
    year = clock.now().year
    first, second = make_company(db, clock, 12_500), make_company(db, clock, 8_000, 4_000)
    first_client, second_client = app.test_client(), app.test_client()
    sign_in(first_client, first.clerk, clock)
    sign_in(second_client, second.clerk, clock)

    declined = pay(first_client, {first.invoices[0]: "125.00"}, "tok_chargeDeclined")
    assert declined.status_code == 402
    refused = pay(second_client, {second.invoices[0]: "80.01"}, "tok_visa")  # more than is owed
    assert refused.status_code == 400
    paid = pay(second_client, {second.invoices[0]: "80.00"}, "tok_visa")
    retried = pay(first_client, {first.invoices[0]: "125.00"}, "tok_visa")
    assert paid.status_code == retried.status_code == 200

    references = [_reference_of(db, r) for r in (declined, paid, retried)]
    assert references == [f"PAY-{year}-000001", f"PAY-{year}-000002", f"PAY-{year}-000003"]
    assert len(db.scalars(select(Payment)).all()) == 3  # the refused request made no attempt
    # The reference travels to Stripe for staff reading the dashboard; URLs keep the random id.
    assert {i.metadata["payment_reference"] for i in fake_gateway.intents.values()} == set(references)
    assert all(r not in paid.get_json()["payment_url"] for r in references)


def test_the_same_form_posted_twice_keeps_one_reference(app, db, clock, fake_gateway):
    company = make_company(db, clock, 12_500)
    client = app.test_client()
    sign_in(client, company.clerk, clock)
    form = pay_form(open_pay_page(client, company.invoices), {company.invoices[0]: "125.00"}, "tok_visa")
    first, again = post_payment(client, form), post_payment(client, form)
    assert first.get_json()["payment_url"] == again.get_json()["payment_url"]
    assert [p.reference for p in db.scalars(select(Payment)).all()] == [_reference_of(db, first)]


@pytest.mark.postgres_only
def test_ten_companies_paying_at_once_get_ten_different_references(app, db, clock, fake_gateway):
    """No lock is shared across companies: only the counter row keeps the numbers apart."""
    fake_gateway.create_delay = 0.2  # each attempt is committed, then waits on Stripe
    companies = [make_company(db, clock, 10_000) for _ in range(10)]
    posts = []
    for company in companies:
        client = app.test_client()
        sign_in(client, company.clerk, clock)
        posts.append((client, pay_form(open_pay_page(client, company.invoices), {company.invoices[0]: "100.00"},
                                       "tok_visa")))

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda post: post_payment(*post), posts))

    assert [r.status_code for r in responses] == [200] * 10, [r.get_json() for r in responses]
    references = [_reference_of(db, r) for r in responses]
    assert len(set(references)) == 10
    assert sorted(parse_payment_reference(r)[1] for r in references) == list(range(1, 11))
