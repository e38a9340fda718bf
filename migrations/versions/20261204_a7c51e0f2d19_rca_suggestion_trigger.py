"""rca suggestion trigger: a cluster of items or a signal on the category's monthly rate

Revision ID: a7c51e0f2d19
Revises: e422d15e5410
Create Date: 2026-12-04 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a7c51e0f2d19'
down_revision: str | None = 'e422d15e5410'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('rca_suggestion', sa.Column('trigger', sa.String(length=14), nullable=False,
                                              server_default='count'))


def downgrade() -> None:
    op.drop_column('rca_suggestion', 'trigger')
