"""A word index beside the trigram index (SQLite), for fast searches of common words.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

``messages_words(content)``: external content over ``messages`` (no second copy of the text),
``unicode61`` tokenizer (words, case and diacritics folded), kept in sync by triggers like
``messages_fts``. Why a second index: the trigram index answers a word as a phrase of its
trigrams, so a common word ("python" in a third of a million messages) intersects several huge
posting lists and checks positions for every candidate; one word is one posting list here.
``chatbot.search.sqlite_fts`` asks this index first for queries made of Latin-script words
(as word prefixes) and keeps the trigram index for the rest (Chinese, infixes, symbols).

The same caution as 0002 holds: a table rebuild of ``messages`` or a ``VACUUM`` needs these
triggers re-created and ``INSERT INTO messages_words(messages_words) VALUES('rebuild')``.
PostgreSQL: nothing (its trigram GIN index serves every query).
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen copies (a migration must not change when the app's code does).
_TABLE = (
    "CREATE VIRTUAL TABLE messages_words USING fts5("
    "content, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')"
)
_TRIGGERS = (
    """CREATE TRIGGER messages_words_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_words(rowid, content) VALUES (new.rowid, new.content);
    END""",
    """CREATE TRIGGER messages_words_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_words(messages_words, rowid, content) VALUES ('delete', old.rowid, old.content);
    END""",
    """CREATE TRIGGER messages_words_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_words(messages_words, rowid, content) VALUES ('delete', old.rowid, old.content);
        INSERT INTO messages_words(rowid, content) VALUES (new.rowid, new.content);
    END""",
)
_TRIGGER_NAMES = ("messages_words_insert", "messages_words_delete", "messages_words_update")


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _is_sqlite():
        op.execute(_TABLE)
        for statement in _TRIGGERS:
            op.execute(statement)
        op.execute("INSERT INTO messages_words(messages_words) VALUES ('rebuild')")  # what is there already


def downgrade() -> None:
    if _is_sqlite():
        for name in _TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS messages_words")
