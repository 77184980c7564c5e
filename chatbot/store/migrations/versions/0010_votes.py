"""Votes from blind comparisons, per person, for the leaderboard.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26

One row per verdict on the replies of several models to one question (chatbot/votes.py),
deleted with its conversation (ON DELETE CASCADE). A new table only.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "votes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column(
            "conversation_id", sa.String(32), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("ranking", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_votes_conversation_id", "votes", ["conversation_id"])
    op.create_index("ix_votes_owner_created", "votes", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_votes_owner_created", table_name="votes")
    op.drop_index("ix_votes_conversation_id", table_name="votes")
    op.drop_table("votes")
