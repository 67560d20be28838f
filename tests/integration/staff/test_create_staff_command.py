"""`flask --app wsgi create-staff`: the first admin, passwords from a prompt or stdin."""

from __future__ import annotations

from sqlalchemy import select

from portal.domain.core.models import AuditEntry
from portal.domain.staff.models import StaffMember
from tests.support.factories import TEST_PASSWORD_HASHER

PASSWORD = "a long enough passphrase"


def test_create_the_first_admin_from_stdin(app, db):
    result = app.test_cli_runner().invoke(args=["create-staff", "Boss@Northwind.example", "--role", "admin",
                                                "--name", "Bea Boss", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Created admin Bea Boss <boss@northwind.example>" in result.output
    assert "authenticator app (TOTP)" in result.output
    db.commit()
    member = db.scalar(select(StaffMember))
    assert (member.email, member.role, member.totp_secret) == ("boss@northwind.example", "admin", None)
    assert TEST_PASSWORD_HASHER.verify(member.password_hash, PASSWORD) and PASSWORD not in member.password_hash
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "staff.created"))
    assert entry.actor_type == "staff" and entry.actor_id.startswith("cli:")


def test_the_prompt_asks_twice_and_the_name_defaults_to_the_address(app, db):
    result = app.test_cli_runner().invoke(args=["create-staff", "cole@northwind.example", "--role", "collector"],
                                          input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "TOTP" not in result.output
    db.commit()
    assert db.scalar(select(StaffMember.name)) == "cole"


def test_refusals_change_nothing(app, db):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["create-staff", "a@northwind.example", "--role", "analyst", "--password-stdin"],
                         input="short\n")
    assert weak.exit_code == 1 and "at least 12" in weak.output
    bad_role = runner.invoke(args=["create-staff", "a@northwind.example", "--role", "root", "--password-stdin"],
                             input=PASSWORD + "\n")
    assert bad_role.exit_code == 2
    assert runner.invoke(args=["create-staff", "a@northwind.example", "--role", "analyst", "--password-stdin"],
                         input=PASSWORD + "\n").exit_code == 0
    again = runner.invoke(args=["create-staff", "A@NORTHWIND.example", "--role", "analyst", "--password-stdin"],
                          input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already has a staff account" in again.output
    db.commit()
    assert len(db.scalars(select(StaffMember)).all()) == 1
