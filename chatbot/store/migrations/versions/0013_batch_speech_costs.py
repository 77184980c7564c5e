"""What batch rows and read-aloud clips cost: the counts their prices need.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

``batch_rows.cached_tokens`` (prompt tokens Groq served from its prompt cache, priced at the
cached-input price, as for a chat reply) and ``speech_clips.characters`` (the characters sent to
text-to-speech, which Groq prices per million). Nullable columns: SQLite adds them without a
table rebuild; rows from before count as no cached tokens and unknown characters.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batch_rows", sa.Column("cached_tokens", sa.Integer(), nullable=True))
    op.add_column("speech_clips", sa.Column("characters", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("speech_clips") as batch:
        batch.drop_column("characters")
    with op.batch_alter_table("batch_rows") as batch:
        batch.drop_column("cached_tokens")
