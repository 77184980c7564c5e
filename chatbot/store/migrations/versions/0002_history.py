"""History: tags, trash (undo delete), title source, list index, full-text search (SQLite FTS5).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Search on SQLite uses two external-content FTS5 tables with the trigram tokenizer (it finds
substrings, so Chinese and Japanese text, which has no spaces, is searchable):

- ``messages_fts(content)`` over ``messages``, keyed by the implicit ``messages.rowid``;
- ``conversations_fts(title)`` over ``conversations``, keyed by ``conversations.rowid``.

Triggers keep them in sync. External content stores no second copy of the text.

A LATER MIGRATION MUST KNOW: SQLite's batch mode (``op.batch_alter_table`` with a table
rebuild) on ``messages`` or ``conversations`` drops these triggers with the old table and
renumbers rowids, which silently breaks search. After such a rebuild, re-create the triggers
below and run ``INSERT INTO <fts>(<fts>) VALUES('rebuild')``; the same rebuild is needed after
a ``VACUUM``. ``tests/test_search.py::test_search_index_is_intact_at_head`` catches it.

PostgreSQL gets its own search implementation later (``chatbot.search``); nothing here runs
there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies (a migration must not change when the app's code does).
_FTS_TABLES = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "content, content='messages', content_rowid='rowid', tokenize='trigram')",
    "CREATE VIRTUAL TABLE conversations_fts USING fts5("
    "title, content='conversations', content_rowid='rowid', tokenize='trigram')",
)

# Only the searched column's changes touch the index: a reply's status or usage update does
# not re-index it. A streaming reply's periodic content flush does (delete + insert).
_TRIGGERS = (
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
    END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
    END""",
    """CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, new.title);
    END""",
    """CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
    END""",
    """CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
        INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title);
        INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, new.title);
    END""",
)

_TRIGGER_NAMES = (
    "messages_fts_insert",
    "messages_fts_delete",
    "messages_fts_update",
    "conversations_fts_insert",
    "conversations_fts_delete",
    "conversations_fts_update",
)


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild): keeps rowids, which the search index relies on.
    op.add_column(
        "conversations",
        sa.Column("title_source", sa.String(10), nullable=False, server_default="words"),
    )
    op.add_column("conversations", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_conversations_list", "conversations", ["owner", "archived", "pinned", "updated_at", "id"])

    op.create_table(
        "conversation_tags",
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(50), primary_key=True),
    )
    op.create_index("ix_conversation_tags_tag", "conversation_tags", ["tag"])

    if _is_sqlite():
        for statement in (*_FTS_TABLES, *_TRIGGERS):
            op.execute(statement)
        # Index what an older database already holds.
        op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
        op.execute("INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if _is_sqlite():
        for name in _TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
        op.execute("DROP TABLE IF EXISTS conversations_fts")
    op.drop_index("ix_conversation_tags_tag", table_name="conversation_tags")
    op.drop_table("conversation_tags")
    op.drop_index("ix_conversations_list", table_name="conversations")
    # SQLite 3.35+ drops columns in place (ALTER TABLE DROP COLUMN) without a rebuild.
    op.drop_column("conversations", "deleted_at")
    op.drop_column("conversations", "title_source")
