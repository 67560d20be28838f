"""Staff sign-in (SECURITY.md A8, A9, A13, L1): password and TOTP, refusals that say nothing,
throttling per account and per address, server-side sessions with idle and absolute
timeouts, revocation, the recent-sign-in gate, and the audit trail."""

from __future__ import annotations

from sqlalchemy import select

from admin.session import STAFF_COOKIE
from portal.domain.core.models import AuditEntry
from portal.domain.staff.credentials import totp_code
from portal.domain.staff.models import StaffSession
from portal.domain.staff.policy import SIGN_IN_ATTEMPTS_PER_ACCOUNT, SIGN_IN_ATTEMPTS_PER_ADDRESS
from tests.support.factories import STAFF_PASSWORD, make_staff, staff_sign_in
from tests.support.fixtures.links import csrf_from

REFUSAL = "That email, password or code is not right."


def _sign_in(client, email: str, password: str = STAFF_PASSWORD, code: str = "", **extra):
    page = client.get("/admin/sign-in")
    return client.post("/admin/sign-in", data={"csrf_token": csrf_from(page), "email": email, "password": password,
                                               "code": code, **extra})


def _audit(db, action: str) -> list[AuditEntry]:
    db.commit()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _signed_in(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200


def test_right_password_signs_in_and_lands_on_the_dashboard(app, db, clock):
    analyst = make_staff(db, clock, role="analyst", email="Ana@Northwind.example")
    client = app.test_client()
    response = _sign_in(client, "ANA@northwind.example")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and analyst.name in page.get_data(as_text=True)
    [entry] = _audit(db, "staff.signed_in")
    assert (entry.actor_type, entry.actor_id, entry.object_id) == ("staff", analyst.public_id, analyst.public_id)


def test_wrong_password_unknown_email_and_deactivated_get_the_same_answer(app, db, clock):
    make_staff(db, clock, email="ana@northwind.example")
    make_staff(db, clock, email="gone@northwind.example", status="deactivated")
    client = app.test_client()
    answers = [_sign_in(client, "ana@northwind.example", "wrong password!!"),
               _sign_in(client, "nobody@northwind.example"),
               _sign_in(client, "gone@northwind.example")]
    assert {response.status_code for response in answers} == {401}
    assert all(REFUSAL in response.get_data(as_text=True) for response in answers)
    assert STAFF_COOKIE not in str([r.headers.getlist("Set-Cookie") for r in answers])
    assert not _signed_in(client)
    reasons = [entry.after["reason"] for entry in _audit(db, "staff.sign_in_failed")]
    assert reasons == ["password", "unknown_email", "deactivated"]
    # An unknown address is not written down (people type passwords into the email field).
    assert "nobody@northwind.example" not in str([(e.object_id, e.after) for e in _audit(db, "staff.sign_in_failed")])


def test_an_enrolled_member_needs_the_current_code_and_a_code_works_once(app, db, clock):
    member = make_staff(db, clock, role="supervisor", totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    client = app.test_client()
    assert _sign_in(client, member.email).status_code == 401  # no code
    assert _sign_in(client, member.email, code="000000" if totp_code(member.totp_secret, clock.now()) != "000000"
                    else "111111").status_code == 401
    code = totp_code(member.totp_secret, clock.now())
    assert _sign_in(client, member.email, code=code).status_code == 302
    # The same code again (a replay, from another browser) is refused.
    assert _sign_in(app.test_client(), member.email, code=code).status_code == 401
    clock.advance(seconds=30)
    assert _sign_in(app.test_client(), member.email, code=totp_code(member.totp_secret, clock.now())).status_code == 302
    assert [entry.after["reason"] for entry in _audit(db, "staff.sign_in_failed")] == ["code", "code", "code"]


def test_attempts_are_throttled_per_account(app, db, clock):
    member = make_staff(db, clock)
    client = app.test_client()
    for _ in range(SIGN_IN_ATTEMPTS_PER_ACCOUNT):
        assert _sign_in(client, member.email, "wrong password!!").status_code == 401
    # Now even the right password waits: the guesser must not learn it is right.
    refused = _sign_in(client, member.email)
    assert refused.status_code == 429 and "Too many sign-in attempts" in refused.get_data(as_text=True)
    assert not _signed_in(client)
    clock.advance(minutes=15, seconds=1)
    assert _sign_in(client, member.email).status_code == 302


def test_attempts_are_throttled_per_address_across_accounts(app, db, clock):
    client = app.test_client()
    statuses = [_sign_in(client, f"guess{n}@northwind.example").status_code
                for n in range(SIGN_IN_ATTEMPTS_PER_ADDRESS + 1)]
    assert statuses[:-1] == [401] * SIGN_IN_ATTEMPTS_PER_ADDRESS and statuses[-1] == 429
    # Another address is not affected.
    member = make_staff(db, clock)
    other = app.test_client()
    page = other.get("/admin/sign-in", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    response = other.post("/admin/sign-in", data={"csrf_token": csrf_from(page), "email": member.email,
                                                  "password": STAFF_PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 302


def test_idle_for_more_than_15_minutes_signs_out(app, db, clock):
    member = make_staff(db, clock)
    client = app.test_client()
    staff_sign_in(client, member, clock)
    clock.advance(minutes=14, seconds=59)
    assert _signed_in(client)
    clock.advance(minutes=14, seconds=59)  # seen again just now: still inside the idle limit
    assert _signed_in(client)
    clock.advance(minutes=15, seconds=1)
    response = client.get("/admin/")
    assert response.status_code == 302 and "reason=idle" in response.headers["Location"]
    assert "15 minutes without activity" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_sessions_end_after_8_hours_however_active(app, db, clock):
    member = make_staff(db, clock)
    client = app.test_client()
    staff_sign_in(client, member, clock)
    for _ in range(8 * 6):
        clock.advance(minutes=10)
        assert _signed_in(client)
    clock.advance(seconds=1)
    response = client.get("/admin/")
    assert response.status_code == 302 and "reason=expired" in response.headers["Location"]


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(app, db, clock):
    member = make_staff(db, clock)
    client = app.test_client()
    token = staff_sign_in(client, member, clock)
    copy = app.test_client()
    copy.set_cookie(STAFF_COOKIE, token, path="/admin")
    assert _signed_in(copy)
    page = client.get("/admin/")
    response = client.post("/admin/sign-out", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert not _signed_in(client) and not _signed_in(copy)
    assert len(_audit(db, "staff.signed_out")) == 1


def test_an_admin_ending_a_members_sessions_and_deactivation_sign_them_out(app, db, clock):
    member = make_staff(db, clock)
    admin = make_staff(db, clock, role="admin")
    member_client, admin_client = app.test_client(), app.test_client()
    staff_sign_in(member_client, member, clock)
    staff_sign_in(admin_client, admin, clock)
    page = admin_client.get(f"/admin/staff/{member.public_id}")
    assert page.status_code == 200
    response = admin_client.post(f"/admin/staff/{member.public_id}/end-sessions", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert member_client.get("/admin/").headers["Location"].startswith("/admin/sign-in?reason=revoked")

    staff_sign_in(member_client, member, clock)
    assert _signed_in(member_client)
    form = {"csrf_token": csrf_from(page), "name": member.name, "role": "analyst", "timezone": "UTC",
            "status": "deactivated"}
    assert admin_client.post(f"/admin/staff/{member.public_id}", data=form).status_code == 302
    assert "reason=deactivated" in member_client.get("/admin/").headers["Location"]
    assert _sign_in(app.test_client(), member.email).status_code == 401


def test_an_admin_without_totp_must_enrol_before_anything_else(app, db, clock):
    admin = make_staff(db, clock, role="admin", totp_secret="")
    client = app.test_client()
    response = _sign_in(client, admin.email)
    assert response.status_code == 302
    for path in ("/admin/", "/admin/staff", "/admin/routing", "/admin/account"):
        assert client.get(path).headers.get("Location") == "/admin/account/totp", path
    page = client.get("/admin/account/totp")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "otpauth://totp/" in body
    secret = body.split('name="secret" value="')[1].split('"')[0]
    wrong = client.post("/admin/account/totp", data={"csrf_token": csrf_from(page), "secret": secret, "code": "12345x"})
    assert wrong.status_code == 400 and client.get("/admin/").status_code == 302
    ok = client.post("/admin/account/totp", data={"csrf_token": csrf_from(page), "secret": secret,
                                                  "code": totp_code(secret, clock.now())})
    assert ok.status_code == 302
    assert client.get("/admin/").status_code == 200
    db.refresh(admin)
    assert admin.totp_secret == secret
    assert len(_audit(db, "staff.totp_enrolled")) == 1
    # From now on signing in needs the code.
    clock.advance(seconds=30)
    assert _sign_in(app.test_client(), admin.email).status_code == 401
    assert _sign_in(app.test_client(), admin.email, code=totp_code(secret, clock.now())).status_code == 302


def test_sensitive_pages_need_a_sign_in_within_10_minutes(app, db, clock):
    admin = make_staff(db, clock, role="admin")
    client = app.test_client()
    staff_sign_in(client, admin, clock)
    assert client.get("/admin/staff/new").status_code == 200
    clock.advance(minutes=9)
    assert client.get("/admin/staff/new").status_code == 200
    clock.advance(minutes=1, seconds=1)
    gate = client.get("/admin/staff/new")
    assert gate.status_code == 302 and gate.headers["Location"] == "/admin/confirm-identity?next=/admin/staff/new"
    page = client.get(gate.headers["Location"])
    assert "Confirm it is you" in page.get_data(as_text=True)
    wrong = client.post("/admin/confirm-identity", data={"csrf_token": csrf_from(page), "password": STAFF_PASSWORD,
                                                         "code": "", "next": "/admin/staff/new"})
    assert wrong.status_code == 401  # an enrolled admin gives the code too
    assert len(_audit(db, "staff.reauthentication_failed")) == 1
    right = client.post("/admin/confirm-identity", data={
        "csrf_token": csrf_from(page), "password": STAFF_PASSWORD, "next": "/admin/staff/new",
        "code": totp_code(admin.totp_secret, clock.now())})
    assert right.status_code == 302 and right.headers["Location"] == "/admin/staff/new"
    assert client.get("/admin/staff/new").status_code == 200
    db.commit()
    [row] = db.scalars(select(StaffSession).where(StaffSession.staff_id == admin.id))
    assert row.authenticated_at == clock.now()


def test_a_foreign_next_is_ignored(app, db, clock):
    member = make_staff(db, clock)
    for bad in ("//evil.example/admin", "https://evil.example/", "/invoices", "/admin\\..\\x", "/administrator"):
        response = _sign_in(app.test_client(), member.email, next=bad)
        assert response.headers["Location"] == "/admin/", bad
    assert _sign_in(app.test_client(), member.email, next="/admin/account").headers["Location"] == "/admin/account"


def test_a_failed_sign_in_while_signed_in_elsewhere_still_answers(app, db, clock):
    """The sign-in form posted by a browser that has a staff session seen more than a minute
    ago: the refusal's audit row and the "last seen" write must not collide."""
    member = make_staff(db, clock)
    client = app.test_client()
    staff_sign_in(client, member, clock)
    page = client.get("/admin/account")
    clock.advance(minutes=2)
    response = client.post("/admin/sign-in", data={"csrf_token": csrf_from(page), "email": member.email,
                                                   "password": "wrong password!!"})
    assert response.status_code == 401 and REFUSAL in response.get_data(as_text=True)
    assert [entry.after["reason"] for entry in _audit(db, "staff.sign_in_failed")] == ["password"]
    assert _signed_in(client)
