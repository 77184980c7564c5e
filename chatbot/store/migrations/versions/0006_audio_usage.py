"""Seconds of audio each person had transcribed (voice input).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Groq meters Whisper in audio seconds (ASH/ASD), not tokens: one row per transcription, with
its owner, model, task (transcribe | translate) and the seconds Groq reported. A new table, so
no rebuild of ``messages`` (whose FTS triggers a rebuild would drop).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audio_usage",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column("model", sa.String(200), nullable=False, server_default=""),
        sa.Column("task", sa.String(20), nullable=False, server_default="transcribe"),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audio_usage_owner_created", "audio_usage", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_audio_usage_owner_created", table_name="audio_usage")
    op.drop_table("audio_usage")
