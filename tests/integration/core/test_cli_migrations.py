"""`flask --app wsgi db check` (models and migrations agree) and `db revision` (autogenerate)."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import Column, Integer, String, Table

from portal import migrate
from portal.domain.core.types import Base

PROBE = "drift_probe"


@pytest.fixture
def drifted_models():
    """A table the models have and no migration creates; gone again after the test."""
    table = Table(PROBE, Base.metadata, Column("id", Integer, primary_key=True), Column("label", String(40)))
    yield table
    Base.metadata.remove(table)


@pytest.fixture
def migrations_copy(tmp_path, monkeypatch):
    """The project's migrations in a scratch folder, so a new revision lands there."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", folder)
    return folder


def test_db_check_passes_on_a_migrated_database(make_app, database_url):
    result = make_app(database_url=database_url).test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    assert "models and migrations agree" in result.output


def test_db_check_fails_and_names_the_difference_when_the_models_drift(make_app, database_url, drifted_models):
    result = make_app(database_url=database_url).test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 1
    assert f"add_table {PROBE}" in result.output
    assert "the models and the migrations disagree" in result.output
    assert "db revision -m" in result.output


def test_db_check_on_a_database_behind_the_migrations_says_to_upgrade(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = make_app(database_url=url).test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 1
    assert "not up to date" in result.output and "db upgrade" in result.output


def test_db_revision_writes_the_next_numbered_migration_and_then_check_agrees(
        make_app, tmp_path, migrations_copy, drifted_models):
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    runner = make_app(database_url=url).test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0

    result = runner.invoke(args=["db", "revision", "-m", "Add drift probe"])

    assert result.exit_code == 0, result.output
    head = max(int(path.name[:4]) for path in (migrations_copy / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
               if "drift_probe" not in path.name)
    new, previous = f"{head + 1:04d}", f"{head:04d}"
    written = migrations_copy / "versions" / f"{new}_add_drift_probe.py"
    assert f"wrote {written}" in result.output
    source = written.read_text()
    assert f"revision = '{new}'" in source and f"down_revision = '{previous}'" in source
    assert f"op.create_table('{PROBE}'" in source
    # The new migration applies, and afterwards nothing is missing.
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    assert runner.invoke(args=["db", "downgrade", previous]).exit_code == 0


def test_db_revision_needs_a_database_at_head(make_app, tmp_path, migrations_copy):
    before = sorted(p.name for p in (migrations_copy / "versions").glob("*.py"))
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    result = make_app(database_url=url).test_cli_runner().invoke(args=["db", "revision", "-m", "anything"])
    assert result.exit_code == 1
    assert "not up to date" in result.output
    assert sorted(p.name for p in (migrations_copy / "versions").glob("*.py")) == before  # nothing written


def test_describe_difference_names_tables_and_columns():
    column = Column("balance_minor", Integer)
    Table("invoices_probe", Base.metadata.__class__(), column)
    assert migrate.describe_difference(("add_column", None, "invoices_probe", column)) == \
        "add_column invoices_probe.balance_minor"
    assert migrate.describe_difference([("modify_nullable", None, "invoices", "notes", {}, True, False)]) == \
        "modify_nullable invoices notes"
