"""Cached prompt tokens per reply, the last rate limits seen per key and model, answers kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

``messages.cached_tokens``: the prompt tokens Groq served from its prompt cache
(``usage.prompt_tokens_details.cached_tokens``), priced at the cache discount.
``model_limits``: per key (a SHA-256 of the base URL and key, never the key) and model, the last
``x-ratelimit-*`` headers and the last 429 seen, so the Models page and the fallback know what is
left. ``answer_cache``: one person's answers to identical temperature-0 requests, until they expire.

Plain ADD and DROP COLUMN (no table rebuild): on SQLite a rebuild would drop the FTS triggers of 0002
and 0004.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("cached_tokens", sa.Integer(), nullable=True))
    op.create_table(
        "model_limits",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("limit_requests", sa.Integer(), nullable=True),
        sa.Column("remaining_requests", sa.Integer(), nullable=True),
        sa.Column("requests_reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("limit_tokens", sa.Integer(), nullable=True),
        sa.Column("remaining_tokens", sa.Integer(), nullable=True),
        sa.Column("tokens_reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("limited_window", sa.String(10), nullable=True),
        sa.Column("limited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("limited_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "answer_cache",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_answer_cache_key", "answer_cache", ["owner", "request_hash"], unique=True)
    op.create_index("ix_answer_cache_owner_expires", "answer_cache", ["owner", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_answer_cache_owner_expires", table_name="answer_cache")
    op.drop_index("ix_answer_cache_key", table_name="answer_cache")
    op.drop_table("answer_cache")
    op.drop_table("model_limits")
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL): a batch rebuild would drop the triggers.
    op.execute("ALTER TABLE messages DROP COLUMN cached_tokens")
