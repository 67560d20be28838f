"""U5: with a scanner configured, files wait `pending` until `scan-pending-files` has clamd judge
them; EICAR is found and never served; a scanner that cannot judge leaves them pending (not
served), and the next run with the scanner back clears them."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from portal.domain.attachments.models import StoredFile
from portal.domain.attachments.policy import FileNotServable
from portal.domain.attachments.service import Upload, open_stored_file, store_uploads
from portal.domain.attachments.storage import LocalDirectoryStorage
from portal.domain.core.audit import Actor
from portal.domain.core.context import Context
from tests.support import attachment_files as files
from tests.support.fake_clamd import FakeClamd


@pytest.fixture
def clamd():
    server = FakeClamd()
    yield server
    server.stop()


@pytest.fixture
def attachments_dir(tmp_path):
    return tmp_path / "attachments"


@pytest.fixture
def storage(attachments_dir):
    return LocalDirectoryStorage(attachments_dir)


@pytest.fixture
def uploaded(db, clock, storage):
    """A clean PDF, a CSV carrying the EICAR test string and a clean PNG, stored while a
    scanner is configured."""
    ctx = Context(db=db, clock=clock, actor=Actor("contact", "ct_public_1"))
    rows = store_uploads(ctx, [
        Upload("delivery note.pdf", io.BytesIO(files.tiny_pdf())),
        Upload("eicar.csv", io.BytesIO(b"sku,qty\n" + files.EICAR + b"\n")),
        Upload("pallet.png", io.BytesIO(files.png())),
    ], storage=storage, scanner_configured=True)
    db.commit()
    return [row.public_id for row in rows]


def statuses(db) -> dict[str, tuple[str, str, int]]:
    db.expire_all()
    return {row.display_name: (row.scan_status, row.scan_detail, row.scan_attempts)
            for row in db.scalars(select(StoredFile))}


def run_scan(app):
    return app.test_cli_runner().invoke(args=["scan-pending-files"])


def assert_not_served(db, storage, name, message):
    row = db.scalar(select(StoredFile).where(StoredFile.display_name == name))
    with pytest.raises(FileNotServable, match=message):
        open_stored_file(storage, row)


def test_eicar_is_found_infected_and_never_served_and_the_rest_is_clean(make_app, db, clamd, attachments_dir,
                                                                        storage, uploaded):
    app = make_app(attachments_dir=str(attachments_dir), clamav_address=clamd.address)
    for name in ("delivery note.pdf", "eicar.csv", "pallet.png"):
        assert_not_served(db, storage, name, "still being checked for viruses")

    result = run_scan(app)
    assert result.exit_code == 0, result.output
    assert "2 clean, 1 infected, 0 still pending" in result.output
    assert statuses(db) == {
        "delivery note.pdf": ("clean", "", 1),
        "eicar.csv": ("infected", "Eicar-Test-Signature", 1),
        "pallet.png": ("clean", "", 1),
    }
    assert len(clamd.received) == 3 and files.EICAR in clamd.received[1]
    assert_not_served(db, storage, "eicar.csv", "found to contain malware")
    clean = db.scalar(select(StoredFile).where(StoredFile.display_name == "delivery note.pdf"))
    with open_stored_file(storage, clean) as stream:
        assert stream.read() == files.tiny_pdf()

    # A second run finds nothing left to judge and asks the scanner nothing.
    again = run_scan(app)
    assert again.exit_code == 0 and "0 clean, 0 infected, 0 still pending" in again.output
    assert len(clamd.received) == 3


@pytest.mark.parametrize("failure", ["close", "error", "down"])
def test_a_scanner_that_cannot_judge_leaves_files_pending_until_it_is_back(make_app, db, clamd, attachments_dir,
                                                                           storage, uploaded, failure):
    if failure == "down":
        address = clamd.address
        clamd.stop()
        back = FakeClamd()  # the scanner once it is back
        app = make_app(attachments_dir=str(attachments_dir), clamav_address=address)
    else:
        clamd.mode = failure
        app = make_app(attachments_dir=str(attachments_dir), clamav_address=clamd.address)

    result = run_scan(app)
    assert result.exit_code == 1
    assert "0 clean, 0 infected, 3 still pending" in result.output
    after = statuses(db)
    assert {status for status, _, _ in after.values()} == {"pending"}
    # The first file's attempt is counted with its reason; the run stopped there.
    assert after["delivery note.pdf"][2] == 1 and after["delivery note.pdf"][1]
    assert after["eicar.csv"][2] == 0
    for name in after:
        assert_not_served(db, storage, name, "still being checked")

    if failure == "down":
        app = make_app(attachments_dir=str(attachments_dir), clamav_address=back.address)
    else:
        clamd.mode = "scan"
    try:
        result = run_scan(app)
    finally:
        if failure == "down":
            back.stop()
    assert result.exit_code == 0, result.output
    assert "2 clean, 1 infected, 0 still pending" in result.output
    assert {name: status for name, (status, _, _) in statuses(db).items()} == {
        "delivery note.pdf": "clean", "eicar.csv": "infected", "pallet.png": "clean"}


def test_without_a_scanner_the_command_refuses_and_changes_nothing(make_app, db, attachments_dir, uploaded):
    app = make_app(attachments_dir=str(attachments_dir))
    result = run_scan(app)
    assert result.exit_code != 0
    assert "CLAMAV_ADDRESS is not set" in result.output
    assert {status for status, _, _ in statuses(db).values()} == {"pending"}


def test_a_file_whose_bytes_are_missing_stays_pending_and_the_others_are_judged(make_app, db, clamd,
                                                                              attachments_dir, storage, uploaded):
    lost = db.scalar(select(StoredFile).where(StoredFile.display_name == "pallet.png"))
    storage.delete(lost.storage_key)
    app = make_app(attachments_dir=str(attachments_dir), clamav_address=clamd.address)
    result = run_scan(app)
    assert result.exit_code == 1
    assert "1 clean, 1 infected, 1 still pending" in result.output
    assert statuses(db)["pallet.png"][0] == "pending"


def test_no_transaction_is_open_while_the_scanner_reads_a_file(session_factory, clock, storage, uploaded, clamd):
    from portal.domain.attachments.jobs import scan_pending_files
    from portal.domain.attachments.scanner import ClamdScanner
    from portal.domain.core.database import writing_session

    db = writing_session(session_factory)
    seen = []

    class WatchedScanner(ClamdScanner):
        def scan(self, stream):
            seen.append(db.in_transaction())
            return super().scan(stream)

    try:
        report = scan_pending_files(db, clock, storage, WatchedScanner(clamd.address))
        db.commit()
    finally:
        db.close()
    assert (report.clean, report.infected) == (2, 1)
    assert seen == [False, False, False]
