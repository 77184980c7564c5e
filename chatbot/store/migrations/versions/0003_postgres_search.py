"""Search index on PostgreSQL: pg_trgm GIN indexes over message contents and titles.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

PostgreSQL only (SQLite has its FTS5 tables from 0002; nothing here runs there).

``chatbot.search.postgres`` matches every term as a case-insensitive substring, exactly what
SQLite's trigram FTS5 index does, so Chinese and Japanese text (no spaces between words) is
found. This migration adds:

- ``messages.content_folded``: ``lower(content)``, a column PostgreSQL computes and stores
  itself on every insert and update (``GENERATED ALWAYS ... STORED``; the app never writes it,
  the ORM does not declare it). Matching and counting terms in already-folded text is a plain
  ``LIKE`` and byte arithmetic; folding case at query time (``ILIKE``, ``lower()``) over every
  candidate message cost ten times more for a common word in a large history. The price is a
  second, compressed copy of the message text.
- ``ix_messages_content_trgm``: ``messages USING gin (content_folded gin_trgm_ops)``;
- ``ix_conversations_title_trgm``: ``conversations USING gin (title gin_trgm_ops)`` (titles are
  short: matched with ``ILIKE``).

PostgreSQL keeps GIN indexes and generated columns in sync by itself: no triggers, nothing to
rebuild after a table rewrite. No ``tsvector``: its parsers do not split CJK text into words,
and ranking is computed from the matched substrings instead (see ``chatbot.search.postgres``).

``pg_trgm`` ships with PostgreSQL (Debian: in the ``postgresql`` package) and is a *trusted*
extension since PostgreSQL 13: the database's owner may create it, no superuser needed. The
downgrade drops the indexes and the column but leaves the extension, which other objects may use.

The names are listed in ``chatbot.search`` (``SEARCH_INDEX_NAMES``, ``SEARCH_COLUMN_NAMES``)
so that schema comparisons leave them alone.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _is_postgresql():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("ALTER TABLE messages ADD COLUMN content_folded text GENERATED ALWAYS AS (lower(content)) STORED")
    op.execute("CREATE INDEX ix_messages_content_trgm ON messages USING gin (content_folded gin_trgm_ops)")
    op.execute("CREATE INDEX ix_conversations_title_trgm ON conversations USING gin (title gin_trgm_ops)")


def downgrade() -> None:
    if not _is_postgresql():
        return
    op.execute("DROP INDEX IF EXISTS ix_conversations_title_trgm")
    op.execute("DROP INDEX IF EXISTS ix_messages_content_trgm")
    op.execute("ALTER TABLE messages DROP COLUMN IF EXISTS content_folded")
