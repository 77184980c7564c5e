"""Images attached to messages, deduplicated per person by content hash.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

``attachments`` holds each person's images once (unique owner + sha256 of the stored bytes,
re-encoded without EXIF by chatbot/images.py), with a thumbnail; ``message_attachments`` links
messages to them in order and goes with its message (ON DELETE CASCADE). New tables only, so
no rebuild of ``messages``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(40), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_attachments_owner_sha256", "attachments", ["owner", "sha256"], unique=True)
    op.create_table(
        "message_attachments",
        sa.Column("message_id", sa.String(32), sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column(
            "attachment_id",
            sa.String(32),
            sa.ForeignKey("attachments.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_message_attachments_attachment_id", "message_attachments", ["attachment_id"])


def downgrade() -> None:
    op.drop_index("ix_message_attachments_attachment_id", table_name="message_attachments")
    op.drop_table("message_attachments")
    op.drop_index("ix_attachments_owner_sha256", table_name="attachments")
    op.drop_table("attachments")
