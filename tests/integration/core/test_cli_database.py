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


def test_db_analyze_gives_the_planner_statistics(app, db, clock, db_kind):
    from sqlalchemy import text

    from tests.support.factories import make_customer, make_invoice

    customer = make_customer(db, clock)
    for _ in range(3):
        make_invoice(db, clock, customer)
    result = app.test_cli_runner().invoke(args=["db", "analyze"])
    assert result.exit_code == 0, result.output
    assert "statistics refreshed" in result.output
    db.commit()
    if db_kind == "sqlite":
        assert db.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'invoices'")) > 0
    else:
        assert db.scalar(text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'invoices'"))
