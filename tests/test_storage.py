"""The store on SQLite and PostgreSQL: Alembic migrations, schema vs. ORM, WAL (SQLite),
reopening, branches, paging."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from chatbot.branches import branch_path
from chatbot.search import include_in_schema_compare
from chatbot.store import repo
from chatbot.store.db import alembic_config, make_engine, open_database
from chatbot.store.models import Base, Conversation, Message


def head_revision(engine) -> str:  # type: ignore[no-untyped-def]
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def db_file(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite:///"))


def is_sqlite(db_url: str) -> bool:
    return db_url.startswith("sqlite")


def test_fresh_database_is_migrated_to_head(db_url: str) -> None:
    if is_sqlite(db_url):
        path = db_file(db_url)
        assert not path.exists()
    else:  # an empty PostgreSQL database
        empty = make_engine(db_url)
        assert inspect(empty).get_table_names() == []
        empty.dispose()
    engine, _ = open_database(db_url)
    if is_sqlite(db_url):
        assert path.is_file()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision(engine)
    assert {"conversations", "messages", "settings", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def outside_the_orm(conn) -> set[str]:  # type: ignore[no-untyped-def]
    """SQLite virtual tables (full-text search) and their shadow tables: raw SQL by design."""
    if conn.dialect.name != "sqlite":
        return set()  # PostgreSQL's search index is two indexes (compared below), no table
    virtual = {
        name
        for name, sql in conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")
    }
    tables = set(inspect(conn).get_table_names())
    return virtual | {t for t in tables for v in virtual if t.startswith(f"{v}_")}


def test_migrated_schema_matches_the_orm(db_url: str) -> None:
    engine, _ = open_database(db_url)
    with engine.connect() as conn:
        skip = outside_the_orm(conn)
        assert not skip & set(Base.metadata.tables)
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, parent: (
                    include_in_schema_compare(name, type_, parent)  # PostgreSQL's trigram indexes
                    and not (type_ == "table" and name in skip)
                ),
            },
        )
        diffs = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diffs == []


@pytest.mark.sqlite_only
def test_wal_mode_is_on(db_url: str) -> None:
    engine, _ = open_database(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
    # WAL is a property of the file: any other reader (another process, the sqlite3 CLI) sees it.
    with sqlite3.connect(db_file(db_url)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_data_and_changes_nothing(db_url: str) -> None:
    engine, sessions = open_database(db_url)
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-20b", title="Keep me")
        first = repo.add_message(s, conv.id, role="user", content="Hello")
        repo.add_message(s, conv.id, role="assistant", content="Hi!", parent_id=first.id)
        repo.put_settings(s, "", {"temperature": 0.3})
        conv_id = conv.id
    engine.dispose()
    schema_before = _schema(db_url)

    engine, sessions = open_database(db_url)  # the next app start
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision(engine)
    with sessions() as s:
        conv = repo.get_conversation(s, "", conv_id)
        assert conv is not None and conv.title == "Keep me"
        assert [(m.role, m.content) for m in repo.all_messages(s, conv_id)] == [("user", "Hello"), ("assistant", "Hi!")]
        assert repo.get_settings(s, "") == {"temperature": 0.3}
    engine.dispose()
    assert _schema(db_url) == schema_before


def _schema(db_url: str) -> list[tuple[str, ...]]:
    if is_sqlite(db_url):
        with sqlite3.connect(db_file(db_url)) as raw:
            return raw.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')"
                " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
            )
        )
        indexes = conn.execute(
            text(
                "SELECT tablename, indexname, indexdef, '', '' FROM pg_indexes"
                " WHERE schemaname = 'public' ORDER BY 1, 2"
            )
        )
        extensions = conn.execute(text("SELECT extname, extversion, '', '', '' FROM pg_extension ORDER BY 1"))
        schema = [tuple(row) for rows in (columns, indexes, extensions) for row in rows]
    engine.dispose()
    return schema


def test_branch_path_follows_parent_ids(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "m")
        u1 = repo.add_message(s, conv.id, role="user", content="q1")
        a1 = repo.add_message(s, conv.id, role="assistant", content="a1", parent_id=u1.id)
        u2 = repo.add_message(s, conv.id, role="user", content="q2", parent_id=a1.id)
        a2 = repo.add_message(s, conv.id, role="assistant", content="a2 first", parent_id=u2.id)
        a2b = repo.add_message(s, conv.id, role="assistant", content="a2 retry", parent_id=u2.id)
        u2x = repo.add_message(s, conv.id, role="user", content="q2 edited", parent_id=a1.id)
        conv_id, ids = conv.id, {m.content: m.id for m in (u1, a1, u2, a2, a2b, u2x)}

    with sessions() as s:
        msgs = repo.all_messages(s, conv_id)

        def path(leaf: str | None) -> list[str]:
            return [m.content for m in branch_path(msgs, leaf)]

        assert path(ids["a2 first"]) == ["q1", "a1", "q2", "a2 first"]
        assert path(ids["a2 retry"]) == ["q1", "a1", "q2", "a2 retry"]
        assert path(ids["q2 edited"]) == ["q1", "a1", "q2 edited"]
        assert path(ids["a1"]) == ["q1", "a1"]
        assert path(None) == ["q1", "a1", "q2 edited"]  # no leaf: the newest message's branch
        assert path("no-such-id") == ["q1", "a1", "q2 edited"]
        assert branch_path([], None) == []


def test_keyset_paging_returns_every_conversation_once_newest_first(sessions) -> None:  # type: ignore[no-untyped-def]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with sessions.begin() as s:
        for i in range(23):
            # Groups of three share one timestamp, so ties must be broken by id.
            conv = repo.create_conversation(s, "", "groq", "m", title=f"c{i}")
            conv.updated_at = base + timedelta(minutes=i // 3)
        hidden = repo.create_conversation(s, "", "groq", "m", title="archived", archived=True)
        hidden.updated_at = base + timedelta(days=1)
        other = repo.create_conversation(s, "someone-else", "groq", "m", title="not mine")
        other.updated_at = base + timedelta(days=1)

    with sessions() as s:
        expected = [
            c.id
            for c in sorted(
                (c for c in s.query(Conversation).all() if c.owner == "" and not c.archived),
                key=lambda c: (c.updated_at, c.id),
                reverse=True,
            )
        ]
        assert len(expected) == 23

        seen: list[str] = []
        pages = 0
        cursor: repo.PageCursor | None = None
        while True:
            page = repo.list_conversations(s, "", limit=5, after=cursor)
            if not page:
                break
            pages += 1
            assert len(page) <= 5
            seen.extend(c.id for c in page)
            cursor = repo.PageCursor(page[-1].updated_at, page[-1].id)
        assert pages == 5
        assert seen == expected  # each exactly once, in order, across page boundaries inside ties
        assert len(set(seen)) == len(seen)


def test_deleting_a_conversation_deletes_its_messages(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "m")
        repo.add_message(s, conv.id, role="user", content="bye")
        conv_id = conv.id
    with sessions.begin() as s:
        assert repo.delete_conversation(s, "someone-else", conv_id) is False
        assert repo.delete_conversation(s, "", conv_id) is True
    with sessions() as s:
        assert s.query(Message).filter_by(conversation_id=conv_id).count() == 0
        assert repo.get_conversation(s, "", conv_id) is None
