"""Migration 0011 on a database with disputes in it: down to 0010 and up again keeps every row,
every trigger and every CHECK, an id that names nothing is cleared on the way up, and the new
foreign keys then refuse made-up ids (SQLite rebuilds the three tables in batch mode)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from portal import migrate
from portal.domain.attachments.service import Upload, store_uploads
from portal.domain.attachments.storage import LocalDirectoryStorage
from portal.domain.disputes import service
from portal.domain.disputes.models import Dispute, DisputeAttachment, DisputeMessage
from tests.support import attachment_files as files
from tests.support.disputes import contact_context, raise_test_dispute, staff_context
from tests.support.factories import make_contact, make_customer, make_invoice, make_staff

LINKS = {
    "disputes": {("team_id", "teams"), ("assignee_id", "staff_members")},
    "dispute_messages": {("staff_id", "staff_members")},
    "dispute_attachments": {("file_id", "stored_files")},
}


def _foreign_keys(engine, table: str) -> set[tuple[str, str]]:
    return {(fk["constrained_columns"][0], fk["referred_table"]) for fk in inspect(engine).get_foreign_keys(table)}


def _triggers(engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        return set(connection.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))


def _checks(engine) -> set[str]:
    found = inspect(engine)
    return {check["name"] for table in LINKS for check in found.get_check_constraints(table)}


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table: connection.scalar(select(func.count()).select_from(text(table))) for table in LINKS}


@pytest.fixture
def disputes_with_links(db, clock, tmp_path):
    ana = make_staff(db, clock, name="Ana Pereira")
    customer = make_customer(db, clock)
    clerk = make_contact(db, clock, customer)
    dispute = raise_test_dispute(db, clock, clerk, [make_invoice(db, clock, customer)])
    service.reply(staff_context(db, clock, ana), None, dispute.public_id, "We are checking.")
    [stored] = store_uploads(contact_context(db, clock, clerk), [Upload("note.pdf", io.BytesIO(files.tiny_pdf()))],
                             storage=LocalDirectoryStorage(tmp_path / "files"), scanner_configured=False)
    db.add(DisputeAttachment(dispute_id=dispute.id, message_id=None, file_id=stored.id, created_at=clock.now()))
    dispute.assignee_id = ana.id
    db.commit()
    return dispute, ana


def test_down_and_up_again_keeps_the_rows_triggers_and_checks(database_url, engine, db, disputes_with_links):
    dispute, ana = disputes_with_links
    db.close()
    counts, triggers, checks = _counts(engine), _triggers(engine), _checks(engine)
    assert counts == {"disputes": 1, "dispute_messages": 1, "dispute_attachments": 1}
    assert triggers and checks  # the ledger's triggers; the disputes' CHECKs

    engine.dispose()
    migrate.downgrade(database_url, "0010")
    engine.dispose()
    for table, links in LINKS.items():
        assert not links & _foreign_keys(engine, table)
    assert (_counts(engine), _triggers(engine), _checks(engine)) == (counts, triggers, checks)

    migrate.upgrade(database_url)
    engine.dispose()
    for table, links in LINKS.items():
        assert links <= _foreign_keys(engine, table)
    assert (_counts(engine), _triggers(engine), _checks(engine)) == (counts, triggers, checks)
    with engine.connect() as connection:
        assert connection.scalar(select(Dispute.assignee_id).where(Dispute.id == dispute.id)) == ana.id
        assert connection.scalar(select(DisputeMessage.staff_id)) == ana.id


def test_ids_that_name_nothing_are_cleared_on_the_way_up(database_url, engine, db, disputes_with_links):
    dispute, ana = disputes_with_links
    db.close()
    engine.dispose()
    migrate.downgrade(database_url, "0010")
    with engine.begin() as connection:
        connection.execute(text("UPDATE disputes SET team_id = 7001, assignee_id = 7002"))
        connection.execute(text("UPDATE dispute_messages SET staff_id = 7003"))
        connection.execute(text("UPDATE dispute_attachments SET file_id = 7004"))
    engine.dispose()
    migrate.upgrade(database_url)
    with engine.connect() as connection:
        assert connection.execute(select(Dispute.team_id, Dispute.assignee_id)).one() == (None, None)
        assert connection.scalar(select(DisputeMessage.staff_id)) is None
        assert connection.scalar(select(func.count()).select_from(DisputeAttachment)) == 0
        assert connection.scalar(select(func.count()).select_from(Dispute)) == 1


@pytest.mark.parametrize(("statement", "value"), [
    ("UPDATE disputes SET team_id = :value", 7001),
    ("UPDATE disputes SET assignee_id = :value", 7002),
    ("UPDATE dispute_messages SET staff_id = :value", 7003),
    ("UPDATE dispute_attachments SET file_id = :value", 7004),
])
def test_the_links_refuse_made_up_ids(engine, db, disputes_with_links, statement, value):
    db.close()
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text(statement), {"value": value})
