"""Per-message feedback, token counts marked as estimated, and how long a model thought.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

``feedback``: the user's thumbs up (1) or down (-1) on a reply, NULL for none.
``tokens_estimated``: the token counts were estimated by the app (a reply stopped or cut
before the provider sent usage), not reported by the provider; kept apart so reports can
say "≈" and sum reported and estimated figures separately.
``thinking_time``: seconds from the first reasoning token to the first answer token.

Plain ADD and DROP COLUMN (no table rebuild): on SQLite a rebuild would drop the FTS triggers of 0002
and 0004.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("feedback", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("tokens_estimated", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("messages", sa.Column("thinking_time", sa.Float(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL): a batch rebuild would drop the triggers.
    for name in ("thinking_time", "tokens_estimated", "feedback"):
        op.execute(f"ALTER TABLE messages DROP COLUMN {name}")
