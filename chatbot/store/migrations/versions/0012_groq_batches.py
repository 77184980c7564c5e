"""A batch run sent through Groq's Batch API: the Groq batch's id and its last status.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

Two nullable columns on ``batch_runs`` (None: the run is sent request by request). SQLite adds
them without a table rebuild.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batch_runs", sa.Column("groq_batch_id", sa.String(64), nullable=True))
    op.add_column("batch_runs", sa.Column("groq_status", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_runs") as batch:
        batch.drop_column("groq_status")
        batch.drop_column("groq_batch_id")
