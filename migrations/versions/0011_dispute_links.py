"""dispute links: the dispute tables' ids of teams, staff members and stored files become foreign keys

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

- `disputes.team_id` → `teams.id`, `disputes.assignee_id` → `staff_members.id`,
  `dispute_messages.staff_id` → `staff_members.id`: written as plain integers by 0010, before
  the dispute and staff areas were joined.
- `dispute_attachments.file_id` → `stored_files.id`, and one link per file and dispute
  (`uq_dispute_attachments_dispute_id_file_id`, which also serves the lookups by dispute: the
  plain index on `dispute_id` it replaces is dropped).

An id that names no row (written while nothing checked them) is cleared first (an attachment
link without its file is removed), so the constraints can be added to a table with rows.

SQLite cannot add a constraint to a table: batch mode copies each of the three tables into a
new one with the constraints and renames it into place (`migrations/env.py` turns foreign key
enforcement off around the migration and checks every key before committing, as SQLite's
documented procedure asks). None of the three has a trigger; `invoices` and its triggers are
not touched. PostgreSQL adds the constraints in place.
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (table, column, referred table): every link this revision adds.
LINKS = (
    ("disputes", "team_id", "teams"),
    ("disputes", "assignee_id", "staff_members"),
    ("dispute_messages", "staff_id", "staff_members"),
    ("dispute_attachments", "file_id", "stored_files"),
)


def _fk_name(table: str, column: str, referred: str) -> str:
    return op.f(f"fk_{table}_{column}_{referred}")


def _clear_dangling_ids() -> None:
    for table, column, referred in LINKS:
        dangling = f"{column} IS NOT NULL AND {column} NOT IN (SELECT id FROM {referred})"
        if table == "dispute_attachments":
            op.execute(f"DELETE FROM {table} WHERE {dangling}")
        else:
            op.execute(f"UPDATE {table} SET {column} = NULL WHERE {dangling}")


def upgrade() -> None:
    _clear_dangling_ids()
    with op.batch_alter_table("disputes") as batch:
        batch.create_foreign_key(_fk_name("disputes", "team_id", "teams"), "teams", ["team_id"], ["id"])
        batch.create_foreign_key(_fk_name("disputes", "assignee_id", "staff_members"), "staff_members",
                                 ["assignee_id"], ["id"])
    with op.batch_alter_table("dispute_messages") as batch:
        batch.create_foreign_key(_fk_name("dispute_messages", "staff_id", "staff_members"), "staff_members",
                                 ["staff_id"], ["id"])
    with op.batch_alter_table("dispute_attachments") as batch:
        batch.create_foreign_key(_fk_name("dispute_attachments", "file_id", "stored_files"), "stored_files",
                                 ["file_id"], ["id"])
        batch.create_unique_constraint(op.f("uq_dispute_attachments_dispute_id_file_id"), ["dispute_id", "file_id"])
        batch.drop_index("ix_dispute_attachments_dispute")


def downgrade() -> None:
    with op.batch_alter_table("dispute_attachments") as batch:
        batch.create_index("ix_dispute_attachments_dispute", ["dispute_id"], unique=False)
        batch.drop_constraint(op.f("uq_dispute_attachments_dispute_id_file_id"), type_="unique")
        batch.drop_constraint(_fk_name("dispute_attachments", "file_id", "stored_files"), type_="foreignkey")
    with op.batch_alter_table("dispute_messages") as batch:
        batch.drop_constraint(_fk_name("dispute_messages", "staff_id", "staff_members"), type_="foreignkey")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_constraint(_fk_name("disputes", "assignee_id", "staff_members"), type_="foreignkey")
        batch.drop_constraint(_fk_name("disputes", "team_id", "teams"), type_="foreignkey")
