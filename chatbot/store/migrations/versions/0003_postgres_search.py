"""Search index on PostgreSQL: pg_trgm GIN indexes on message contents and titles.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

PostgreSQL only (SQLite has its FTS5 tables from 0002; nothing here runs there).

``chatbot.search.postgres`` matches every term as a case-insensitive substring (``ILIKE``),
exactly what SQLite's trigram FTS5 index does, so Chinese and Japanese text (no spaces between
words) is found, and a trigram GIN index answers those ``ILIKE`` filters:

- ``ix_messages_content_trgm``: ``messages USING gin (content gin_trgm_ops)``;
- ``ix_conversations_title_trgm``: ``conversations USING gin (title gin_trgm_ops)``.

PostgreSQL keeps GIN indexes in sync by itself: no triggers, nothing to rebuild after a table
rewrite. No ``tsvector`` column: its parsers do not split CJK text into words, and a stored
vector would be rewritten on every flush of a streaming reply; ranking is computed from the
matched substrings instead (see ``chatbot.search.postgres``).

``pg_trgm`` ships with PostgreSQL (Debian: in the ``postgresql`` package) and is a *trusted*
extension since PostgreSQL 13: the database's owner may create it, no superuser needed. The
downgrade drops the indexes but leaves the extension, which other objects may use.

The index names are listed in ``chatbot.search.SEARCH_INDEX_NAMES`` so schema comparisons
(the ORM does not declare them) leave them alone.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies (a migration must not change when the app's code does).
_INDEXES = (
    ("ix_messages_content_trgm", "messages", "content"),
    ("ix_conversations_title_trgm", "conversations", "title"),
)


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _is_postgresql():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in _INDEXES:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if not _is_postgresql():
        return
    for name, _table, _column in _INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
