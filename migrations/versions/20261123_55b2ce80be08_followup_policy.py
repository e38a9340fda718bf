"""followup policy

Revision ID: 55b2ce80be08
Revises: d98eb1390eed
Create Date: 2026-11-23 14:51:53.567156
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.db

revision: str = '55b2ce80be08'
down_revision: str | None = 'd98eb1390eed'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('followup_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('due_emergency_minutes', sa.Integer(), nullable=False),
    sa.Column('due_urgent_minutes', sa.Integer(), nullable=False),
    sa.Column('due_follow_up_days', sa.Integer(), nullable=False),
    sa.Column('due_routine_days', sa.Integer(), nullable=False),
    sa.Column('backoff_emergency_minutes', sa.Integer(), nullable=False),
    sa.Column('backoff_urgent_minutes', sa.Integer(), nullable=False),
    sa.Column('backoff_same_day_minutes', sa.Integer(), nullable=False),
    sa.Column('backoff_follow_up_hours', sa.Integer(), nullable=False),
    sa.Column('backoff_routine_hours', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('service_day_start', sa.Time(), nullable=False),
    sa.Column('service_day_end', sa.Time(), nullable=False),
    sa.Column('service_weekdays', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('on_call_staff_id', sa.Integer(), nullable=True),
    sa.Column('supervisor_staff_id', sa.Integer(), nullable=True),
    sa.Column('clinic_phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('escalation_sms', sa.Boolean(), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ),
    sa.ForeignKeyConstraint(['on_call_staff_id'], ['staff_user.id'], ),
    sa.ForeignKeyConstraint(['supervisor_staff_id'], ['staff_user.id'], ),
    sa.ForeignKeyConstraint(['updated_by'], ['staff_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('clinic_id')
    )
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.create_index('ix_callback_escalation_due', ['due_at'], unique=False,
                              sqlite_where=sa.text("status = 'open' AND escalated_at IS NULL"),
                              postgresql_where=sa.text("status = 'open' AND escalated_at IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_escalation_due')
    op.drop_table('followup_policy')
