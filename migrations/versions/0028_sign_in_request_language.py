"""sign-in link requests' language

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03

- `sign_in_link_requests.language`: the language the visitor read the portal in when asking
  for a sign-in link ("en", "fr", "de"; `portal.domain.core.locales`); the email goes out in
  it when the contact has no language of their own. Null for requests recorded before (they
  go out in the contact's language, else English, as before).

A nullable column: nothing existing is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa


revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sign_in_link_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sign_in_link_requests', schema=None) as batch_op:
        batch_op.drop_column('language')
