"""What only PostgreSQL has: migration 0003 (pg_trgm GIN indexes) on existing rows and back,
the index serving the search's own statement, app servers migrating at once, NUL characters,
UTC timestamps, and the backend choice. The shared storage and search suites run on PostgreSQL
through the ``db_url`` parameter (tests/conftest.py); these are the PostgreSQL-only extras."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import sessionmaker

from chatbot import search
from chatbot.history import ConversationFilter, HistoryService
from chatbot.importing import Upload
from chatbot.search.postgres import PostgresSearch, check_index
from chatbot.search.sqlite_fts import Fts5Search
from chatbot.store import repo
from chatbot.store.db import alembic_config, head_revision, make_engine, open_database, upgrade
from chatbot.store.models import Conversation, Message
from tests.conftest import ROOT, FreshDatabases
from tests.postgres import PostgresServer

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def pg_url(postgres_server: PostgresServer, postgres_databases: FreshDatabases) -> Iterator[str]:
    name, url = postgres_databases.take()
    yield url
    postgres_server.drop_database(name)


def indexes(engine) -> set[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).scalars())


def test_migrations_index_existing_rows_and_downgrade(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:  # a database from before search existed, with a conversation
        conn.execute(
            text(
                "INSERT INTO conversations (id, owner, title, provider, model, params, pinned, archived, created_at, "
                "updated_at) VALUES ('c1', '', 'Before the index', 'groq', 'm', '{}', false, false, :t, :t)"
            ),
            {"t": BASE},
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, conversation_id, role, content, status, created_at, updated_at) "
                "VALUES ('m1', 'c1', 'user', 'an armadillo appears 在数据库里', 'complete', :t, :t)"
            ),
            {"t": BASE},
        )
    upgrade(engine, "0002")
    assert not set(search.SEARCH_INDEX_NAMES) & indexes(engine)  # 0002 does nothing for PostgreSQL search
    upgrade(engine)
    assert set(search.SEARCH_INDEX_NAMES) <= indexes(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar() == 1
    history = HistoryService(sessionmaker(engine))
    assert [g.conversation_id for g in history.search("armadillo")] == ["c1"]
    assert [g.conversation_id for g in history.search("数据")] == ["c1"]
    assert [g.conversation_id for g in history.search("before the")] == ["c1"]

    command.downgrade(alembic_config(engine), "0002")
    assert not set(search.SEARCH_INDEX_NAMES) & indexes(engine)
    command.downgrade(alembic_config(engine), "0001")
    assert "conversation_tags" not in inspect(engine).get_table_names()
    upgrade(engine)  # and up again, the row still there and found
    assert [g.conversation_id for g in HistoryService(sessionmaker(engine)).search("armadillo")] == ["c1"]
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    engine.dispose()


def test_the_search_statement_uses_the_trigram_index(pg_url: str) -> None:
    engine, sessions = open_database(pg_url)
    with sessions.begin() as s:
        for i in range(500):
            conv = repo.create_conversation(s, "", "groq", "m", title=f"Chat {i}")
            repo.add_message(s, conv.id, role="user", content=f"message number {i} about nothing in particular")
        conv = repo.create_conversation(s, "", "groq", "m", title="Kubernetes")
        repo.add_message(s, conv.id, role="user", content="drain the kubernetes node")
    with sessions() as s:
        check_index(s)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))  # as autovacuum would have, by now
        conn.commit()
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        hits = HistoryService(sessions).search("kubernetes")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [g.conversation_id for g in hits] == [conv.id]
    plans = []
    with engine.connect() as conn:
        # The statements can use the indexes (no expression around the column hides them); on
        # tables this small the planner would rightly read everything instead.
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET enable_indexscan = off"))
        for statement, parameters in statements:
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)  # type: ignore[arg-type]
            plans.append("\n".join(r[0] for r in rows))
    # Messages are the big table: their trigram index answers the terms. (Titles: one per
    # conversation, read through the owner's index or the title's, as the planner prefers.)
    assert any("Bitmap Index Scan on ix_messages_content_trgm" in p for p in plans), plans
    engine.dispose()


def test_check_index_notices_a_missing_index(pg_url: str) -> None:
    engine, sessions = open_database(pg_url)
    with sessions.begin() as s:
        s.execute(text("DROP INDEX ix_messages_content_trgm"))
    with sessions() as s, pytest.raises(RuntimeError, match="ix_messages_content_trgm"):
        check_index(s)
    engine.dispose()
    engine, sessions = open_database(pg_url)  # a restart does not bring it back by itself ...
    with sessions() as s, pytest.raises(RuntimeError):
        check_index(s)
    command.downgrade(alembic_config(engine), "0002")  # ... re-running 0003 does
    upgrade(engine)
    with sessions() as s:
        check_index(s)
    engine.dispose()


def test_app_servers_starting_at_once_migrate_one_after_the_other(pg_url: str) -> None:
    """Several processes run the migrations of an empty database at the same moment (a fleet
    of app servers deployed together): one migrates, the others wait and find it done."""
    start_at = time.time() + 4  # after every process has imported the app
    script = (
        "import sys, time\n"
        "from chatbot.store.db import make_engine, upgrade\n"
        "engine = make_engine(sys.argv[1])\n"
        "with engine.connect(): pass\n"  # connected before the start signal, as a running server
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "upgrade(engine)\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, pg_url, str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=90)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * len(processes), outputs
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    engine.dispose()


def test_nul_characters_are_stored_as_replacement_characters(pg_url: str) -> None:
    """PostgreSQL's text cannot hold U+0000: a pasted or imported NUL must not fail the write."""
    engine, sessions = open_database(pg_url)
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "m", title="nul\x00title")
        repo.add_message(s, conv.id, role="user", content="before\x00after")
        repo.set_tags(s, "", conv.id, ["t\x00g"])
        cid = conv.id
    with sessions() as s:
        assert s.get(Conversation, cid).title == "nul\ufffdtitle"
        assert s.scalars(select(Message.content)).all() == ["before\ufffdafter"]
    exported = HistoryService(sessions).export([cid], "json")
    # An import holding a NUL (e.g. ChatGPT's, or an export from SQLite) is written too.
    exported_data = exported.data.replace("\ufffd".encode(), b"\\u0000")
    assert b"\\u0000" in exported_data
    report = HistoryService(sessions, owner="someone").import_uploads([Upload(exported.name, exported_data)])
    assert report is not None
    assert HistoryService(sessions, owner="someone").page(ConversationFilter(pinned=None)).items
    engine.dispose()


def test_timestamps_come_back_in_utc_whatever_the_servers_zone(pg_url: str, postgres_server: PostgresServer) -> None:
    database = pg_url.rsplit("/", 1)[1]
    admin = make_engine(postgres_server.url("postgres"))
    with admin.connect() as conn:
        conn.execute(text(f"ALTER DATABASE \"{database}\" SET timezone = 'Asia/Tokyo'"))
        conn.commit()
    admin.dispose()
    engine, sessions = open_database(pg_url)
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "m", updated_at=BASE)
        cid = conv.id
    with sessions() as s:
        value = s.get(Conversation, cid).updated_at
    assert value == BASE and value.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    engine.dispose()


def test_each_database_gets_its_own_search_backend(pg_url: str, isolated_env) -> None:  # type: ignore[no-untyped-def]
    engine, sessions = open_database(pg_url)
    with sessions() as s:
        assert isinstance(search.backend_for(s), PostgresSearch)
    engine.dispose()
    engine, sessions = open_database(f"sqlite:///{isolated_env / 'x.db'}")
    with sessions() as s:
        assert isinstance(search.backend_for(s), Fts5Search)
    engine.dispose()
