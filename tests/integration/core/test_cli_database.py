"""`flask --app wsgi db upgrade|downgrade` build and empty the schema through Alembic."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from portal.domain.core.types import Base


def test_db_upgrade_then_downgrade_on_an_empty_database(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    runner = make_app(database_url=url).test_cli_runner()

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at head" in result.output
    engine = create_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())

    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
