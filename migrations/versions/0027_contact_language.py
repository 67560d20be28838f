"""contacts' language

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02

- `contacts.language`: the language a contact reads the portal, its emails and PDFs in ("en",
  "fr", "de"; `portal.domain.core.locales`), set by the ERP import or the contact's own choice;
  null until chosen (then the browser's language decides, else English).

A nullable column: nothing existing is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa


revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('language')
