"""audit entry index for the sign-in lockout (recent failures of one username)

Revision ID: 5e0d3b7a9c41
Revises: 8df2fda9bc18
Create Date: 2026-12-04 18:10:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '5e0d3b7a9c41'
down_revision: str | None = '8df2fda9bc18'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_audit_entry_action_actor_at', 'audit_entry', ['action', 'actor_name', 'at'])


def downgrade() -> None:
    op.drop_index('ix_audit_entry_action_actor_at', table_name='audit_entry')
