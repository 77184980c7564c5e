"""Replies read aloud: the WAV of each, kept so replaying costs no request.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

One row per person, message, voice and text spoken (``text_hash``), holding the joined WAV
Groq's text-to-speech made; deleted with its message (ON DELETE CASCADE), the oldest first
beyond a size per person (chatbot/speech.py). A new table, so no rebuild of ``messages``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "speech_clips",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column("message_id", sa.String(32), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("voice", sa.String(40), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_speech_clips_message_id", "speech_clips", ["message_id"])
    op.create_index("ix_speech_clips_key", "speech_clips", ["owner", "message_id", "voice", "text_hash"], unique=True)
    op.create_index("ix_speech_clips_owner_used", "speech_clips", ["owner", "used_at"])


def downgrade() -> None:
    op.drop_index("ix_speech_clips_owner_used", table_name="speech_clips")
    op.drop_index("ix_speech_clips_key", table_name="speech_clips")
    op.drop_index("ix_speech_clips_message_id", table_name="speech_clips")
    op.drop_table("speech_clips")
