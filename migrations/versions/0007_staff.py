"""staff: members, their sessions, teams, routing rules and customer tags

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

The admin side gets its people: staff members (argon2 password hashes, optional TOTP, a role,
an away flag), server-side staff sessions (the cookie names a row by a random id; only its
SHA-256 is kept), teams with the business calendar their SLA counts in (at most one is the
fallback, a partial unique index), team memberships, the ordered routing rules admins edit,
and tags on customers for those rules to match.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('away', sa.Boolean(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'supervisor', 'analyst', 'collector')", name=op.f('ck_staff_members_role_known')),
    sa.CheckConstraint("status IN ('active', 'deactivated')", name=op.f('ck_staff_members_status_known')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_staff_members_email_lowercase')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_members')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_members_email')),
    sa.UniqueConstraint('public_id', name=op.f('uq_staff_members_public_id'))
    )
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('business_days', sa.String(length=7), nullable=False),
    sa.Column('opens_minute', sa.Integer(), nullable=False),
    sa.Column('closes_minute', sa.Integer(), nullable=False),
    sa.Column('is_fallback', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint('0 <= opens_minute AND opens_minute < closes_minute AND closes_minute <= 1440', name=op.f('ck_teams_business_hours_valid')),
    sa.CheckConstraint('length(business_days) BETWEEN 1 AND 7', name=op.f('ck_teams_business_days_present')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name')),
    sa.UniqueConstraint('public_id', name=op.f('uq_teams_public_id'))
    )
    op.create_index('uq_teams_one_fallback', 'teams', ['is_fallback'], unique=True, sqlite_where=sa.text('is_fallback'), postgresql_where=sa.text('is_fallback'))
    op.create_table('customer_tags',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.CheckConstraint('tag = lower(tag) AND length(tag) > 0', name=op.f('ck_customer_tags_tag_lowercase')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_tags_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', 'tag', name=op.f('pk_customer_tags'))
    )
    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('min_amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('max_amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('customer_tags', sa.JSON(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('strategy', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('first_response_hours', sa.Integer(), nullable=False),
    sa.Column('resolution_days', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_routing_rules_priority_known')),
    sa.CheckConstraint("strategy IN ('round_robin', 'least_open_load')", name=op.f('ck_routing_rules_strategy_known')),
    sa.CheckConstraint('(min_amount_minor IS NULL AND max_amount_minor IS NULL) OR currency IS NOT NULL', name=op.f('ck_routing_rules_amounts_need_currency')),
    sa.CheckConstraint('first_response_hours > 0 AND resolution_days > 0', name=op.f('ck_routing_rules_sla_positive')),
    sa.CheckConstraint('min_amount_minor IS NULL OR max_amount_minor IS NULL OR min_amount_minor <= max_amount_minor', name=op.f('ck_routing_rules_amount_range_ordered')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_routing_rules_customer_id_customers')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_routing_rules_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules')),
    sa.UniqueConstraint('public_id', name=op.f('uq_routing_rules_public_id'))
    )
    op.create_index('ix_routing_rules_position', 'routing_rules', ['position', 'id'], unique=False)
    op.create_table('staff_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('authenticated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_staff_sessions_staff_id_staff_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_sessions_token_hash'))
    )
    op.create_index('ix_staff_sessions_staff', 'staff_sessions', ['staff_id'], unique=False)
    op.create_table('team_memberships',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_team_memberships_staff_id_staff_members')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_memberships_team_id_teams')),
    sa.PrimaryKeyConstraint('team_id', 'staff_id', name=op.f('pk_team_memberships'))
    )
    op.create_index('ix_team_memberships_staff', 'team_memberships', ['staff_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_team_memberships_staff', table_name='team_memberships')
    op.drop_table('team_memberships')
    op.drop_index('ix_staff_sessions_staff', table_name='staff_sessions')
    op.drop_table('staff_sessions')
    op.drop_index('ix_routing_rules_position', table_name='routing_rules')
    op.drop_table('routing_rules')
    op.drop_table('customer_tags')
    op.drop_index('uq_teams_one_fallback', table_name='teams', sqlite_where=sa.text('is_fallback'), postgresql_where=sa.text('is_fallback'))
    op.drop_table('teams')
    op.drop_table('staff_members')
