"""Nothing typed or written is lost: a killed server, two sessions at once, an upgrade, a bad file.

- kill: a real ``streamlit run`` is SIGKILLed while a slow reply streams; the database holds the
  user's message and the reply up to (at least) what the browser showed a second before the
  kill; a restarted server on the same data shows it, marked interrupted, and Continue works.
- concurrency: two threads, each its own engine (as two app servers or two sessions), write to a
  shared and to their own conversations at once, flushing on every token; every row arrives.
- migrations: a database built at revision 0001, filled, upgraded to head keeps every row.
- a locked, read-only or damaged database file: a translated message, no exception, no crash
  loop, nothing overwritten, and the typed text is handed back.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from streamlit.testing.v1 import AppTest

from chatbot import turns as turns_module
from chatbot.conversation import STALE_STREAM_AFTER, ConversationService
from chatbot.history import ConversationFilter, HistoryService
from chatbot.i18n import t
from chatbot.preferences import Preferences
from chatbot.providers.base import ModelInfo
from chatbot.providers.groq_api import GroqProvider
from chatbot.settings import AppSettings
from chatbot.store import repo
from chatbot.store.db import alembic_config, make_engine, open_database, upgrade
from chatbot.store.models import Conversation, Message, Setting
from chatbot.turns import Turns
from tests.stand_in_groq import StandInGroq, make_reply

pytestmark = pytest.mark.usefixtures("english")

WORD = re.compile(r"\w+")


# --------------------------------------------------------------------------- kill -9


@pytest.fixture
def chromium(browser: Any) -> Any:
    """The run's one Chromium (tests/conftest.py)."""
    return browser


def _words(text_: str) -> list[str]:
    return WORD.findall(text_)


@pytest.mark.browser
@pytest.mark.timeout(150)
def test_sigkill_mid_reply_loses_at_most_the_last_second_and_restart_shows_it_interrupted(
    chromium: Any, tmp_path: Path
) -> None:
    from tests.browser.harness import (
        IDLE_TRACKER,
        click_and_wait,
        conversation_id,
        keyed,
        message_captions,
        message_texts,
        open_app,
        start_app_server,
        type_message,
    )

    full = make_reply(600)  # 30 s at 20 tokens/s: far longer than the test lets it run
    stand_in = StandInGroq(reply=full, tokens_per_second=20).start()
    workdir = tmp_path / "app"
    servers = []
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(20_000)
    context.add_init_script(IDLE_TRACKER)
    page = context.new_page()
    try:
        first = start_app_server(stand_in, workdir)
        servers.append(first)
        open_app(page, first.url)
        type_message(page, "Tell me a very long story")

        # Watch the reply grow in the browser for ~3 s: (when, words shown).
        seen: list[tuple[float, int]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            shown = message_texts(page, "assistant")
            count = len(_words(shown[-1])) if shown else 0
            if count:
                seen.append((time.monotonic(), count))
                if seen[-1][0] - seen[0][0] >= 3.0:
                    break
            time.sleep(0.1)
        assert seen and seen[-1][0] - seen[0][0] >= 3.0, f"the reply did not stream: {seen[-3:]}"
        cid = conversation_id(page)
        assert cid

        first.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        first.process.wait(timeout=10)
        assert first.process.returncode == -signal.SIGKILL

        db = sqlite3.connect(workdir / "data" / "chat.db")
        rows = db.execute(
            "SELECT role, content, status FROM messages WHERE conversation_id = ? ORDER BY created_at", (cid,)
        ).fetchall()
        db.close()
        assert [r[0] for r in rows] == ["user", "assistant"]
        assert rows[0][1:] == ("Tell me a very long story", "complete")  # committed before the call
        role, partial, status = rows[1]
        assert status == "streaming"  # nobody could mark it: the process died
        assert partial and full.startswith(partial)
        shown_a_second_before = max((n for when, n in seen if when <= killed - 1.0), default=0)
        assert shown_a_second_before > 0
        assert len(_words(partial)) >= shown_a_second_before, (len(_words(partial)), seen)
        assert stand_in.api_key not in first.log()

        # Restart on the same data; once the reply is stale it reads as interrupted.
        stand_in.tokens_per_second = None  # Continue below should not take 30 s
        second = start_app_server(stand_in, workdir)
        servers.append(second)
        time.sleep(max(0.0, killed + STALE_STREAM_AFTER.total_seconds() + 0.5 - time.monotonic()))
        open_app(page, f"{second.url}/?c={cid}")
        assert message_texts(page, "user") == ["Tell me a very long story"]
        assert _words(message_texts(page, "assistant")[0]) == _words(partial)
        assert t("status.interrupted") in message_captions(page, "assistant")[0]
        assert stand_in.api_key not in page.content()  # nor in the page source
        db = sqlite3.connect(workdir / "data" / "chat.db")
        ((reply_id, status),) = db.execute(
            "SELECT id, status FROM messages WHERE conversation_id = ? AND role = 'assistant'", (cid,)
        ).fetchall()
        db.close()
        assert status == "interrupted"

        assert keyed(page, f"retry_{reply_id}").count() == 1
        click_and_wait(page, keyed(page, f"cont_{reply_id}").locator("button").first)
        db = sqlite3.connect(workdir / "data" / "chat.db")
        content, status = db.execute("SELECT content, status FROM messages WHERE id = ?", (reply_id,)).fetchone()
        db.close()
        assert status == "complete" and content == partial + full
        assert stand_in.api_key not in second.log()
    finally:
        context.close()
        for server in servers:
            server.stop()
        stand_in.stop()


# --------------------------------------------------------------------------- two sessions


MODEL = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=65536)


def test_two_sessions_writing_at_once_lose_nothing(
    db_url: str, groq_server: StandInGroq, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = make_reply(60)
    groq_server.reply = reply
    monkeypatch.setattr(turns_module, "FLUSH_INTERVAL", 0.0)  # a write on every token: worst case
    settings = AppSettings(system_prompt="")
    engines = [open_database(db_url) for _ in range(2)]  # as two app servers: separate connections
    services = [
        Turns(maker, lambda name: GroqProvider(groq_server.api_key, groq_server.base_url, timeout=30))
        for _, maker in engines
    ]
    shared = services[0].start_turn(None, "shared: start", MODEL, settings)
    list(services[0].stream_reply(shared))
    own: list[str | None] = [None, None]
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)
    turns_each = 3

    def session(n: int) -> None:
        chat = services[n]
        try:
            barrier.wait()
            for i in range(turns_each):
                for target in ("shared", "own"):
                    cid = shared.conversation_id if target == "shared" else own[n]
                    pending = chat.start_turn(cid, f"{target} {n}.{i}", MODEL, settings)
                    if target == "own":
                        own[n] = pending.conversation_id
                    list(chat.stream_reply(pending))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures

    with engines[0][1]() as s:
        messages = list(s.scalars(select(Message)))
    users = sorted(m.content for m in messages if m.role == "user")
    expected = sorted(
        ["shared: start"]
        + [f"{target} {n}.{i}" for n in range(2) for i in range(turns_each) for target in ("shared", "own")]
    )
    assert users == expected  # every question, once
    replies = [m for m in messages if m.role == "assistant"]
    assert len(replies) == len(expected)
    assert all((m.status, m.content) == ("complete", reply) for m in replies)  # every answer, whole
    by_id = {m.id: m for m in messages}
    for m in replies:
        assert by_id[m.parent_id].role == "user"  # each answer hangs under its own question
    with engines[0][1]() as s:
        by_conv = {
            c: sorted(m.content for m in messages if m.conversation_id == c and m.role == "user")
            for c in (shared.conversation_id, own[0], own[1])
        }
    assert by_conv[own[0]] == [f"own 0.{i}" for i in range(turns_each)]
    assert by_conv[own[1]] == [f"own 1.{i}" for i in range(turns_each)]
    assert len(by_conv[shared.conversation_id]) == 1 + 2 * turns_each
    for engine, _ in engines:
        engine.dispose()


# --------------------------------------------------------------------------- migrations


def test_upgrading_a_0001_database_to_head_keeps_every_row(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    now = "2026-01-02 03:04:05.000000"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conversations (id, owner, title, provider, model, system_prompt, params, pinned,"
                " archived, current_message_id, created_at, updated_at) VALUES"
                " ('c1', '', 'Ünïcode 标题 🦊', 'groq', 'openai/gpt-oss-20b', 'Be brief.', '{\"temperature\": 0.3}',"
                "  true, false, 'm2', :now, :now),"
                " ('c2', 'https://issuer|sub', 'Other owner', 'local', 'SmolLM2-135M-Instruct', NULL, '{}', false,"
                "  true, NULL, :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, conversation_id, parent_id, role, content, reasoning, status, provider,"
                " model, params, finish_reason, error_code, prompt_tokens, completion_tokens, time_to_first_token,"
                " total_time, queue_time, tokens_per_second, created_at, updated_at) VALUES"
                " ('m1', 'c1', NULL, 'user', 'مرحبا <b>hi</b> 👋', NULL, 'complete', NULL, NULL, NULL, NULL, NULL,"
                "  NULL, NULL, NULL, NULL, NULL, NULL, :now, :now),"
                " ('m2', 'c1', 'm1', 'assistant', 'Hello!', 'thinking…', 'interrupted', 'groq', 'openai/gpt-oss-20b',"
                "  '{\"max_tokens\": 64}', NULL, 'error.interrupted', 12, 3, 0.1, 0.5, 0.01, 42.0, :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO settings (owner, key, value) VALUES ('', 'temperature', '0.3'),"
                " ('', 'language', '\"zh-CN\"')"
            )
        )
    with engine.connect() as conn:
        before = {
            table: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {table}"))))
            for table in ("conversations", "messages", "settings")
        }
        columns = {table: list(conn.execute(text(f"SELECT * FROM {table} LIMIT 0")).keys()) for table in before}

    upgrade(engine)  # what open_database does at every start

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
        for table, rows in before.items():
            cols = ", ".join(columns[table])
            after = sorted(map(tuple, conn.execute(text(f"SELECT {cols} FROM {table}"))))
            assert after == rows, table
    engine.dispose()

    # And the upgraded file works as usual: read through the service, then write to it.
    _, sessions = open_database(db_url)
    turns = ConversationService(sessions).recent_messages("c1").turns
    assert [(x.role, x.content, x.status) for x in turns] == [
        ("user", "مرحبا <b>hi</b> 👋", "complete"),
        ("assistant", "Hello!", "interrupted"),
    ]
    settings = Preferences(sessions).load_settings()
    assert settings.language == "zh-CN" and settings.temperature == 0.3
    assert [c.id for c in HistoryService(sessions).page(ConversationFilter(pinned=None)).items] == ["c1"]
    chat = Turns(sessions, lambda name: None)  # type: ignore[arg-type, return-value]  # no reply is asked for
    pending = chat.start_turn("c1", "After the upgrade", MODEL, AppSettings())
    with sessions() as s:
        assert s.get(Message, pending.user_message_id).parent_id == "m2"
        assert s.get(Conversation, "c2").owner == "https://issuer|sub"
        assert s.get(Setting, ("", "temperature")).value == 0.3


# --------------------------------------------------------------------------- bad database files


def assert_only_error(at: AppTest, key: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [t(key)]


def test_damaged_database_file_is_explained_and_left_untouched(isolated_env: Path, app: AppTest) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    path = isolated_env / "chat.db"
    garbage = b"this is not an SQLite database\x00" * 512
    path.write_bytes(garbage)
    app.run()
    assert_only_error(app, "error.db_corrupt")
    app.run()  # a reload: the same message, no crash loop, still untouched
    assert_only_error(app, "error.db_corrupt")
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in isolated_env.iterdir()) == ["chat.db"]


def _conversation_with_one_turn(db_url: str) -> tuple[str, list[tuple[Any, ...]]]:
    engine, sessions = open_database(db_url)
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-120b", title="Keep me")
        q = repo.add_message(s, conv.id, role="user", content="Question kept")
        a = repo.add_message(s, conv.id, role="assistant", content="Answer kept", parent_id=q.id)
        conv.current_message_id = a.id
        cid = conv.id
    engine.dispose()
    return cid, _rows(db_url)


def _rows(db_url: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        return sorted(db.execute("SELECT id, role, content, status FROM messages").fetchall())
    finally:
        db.close()


def test_read_only_database_is_explained_keeps_the_typed_text_and_changes_nothing(
    db_url: str, app: AppTest, groq_server: StandInGroq, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, before = _conversation_with_one_turn(db_url)
    path = db_url.removeprefix("sqlite:///")
    # What SQLite does with a file it may not write (chmod does not stop root, who runs CI here).
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    app.query_params["c"] = cid
    app.run()
    assert not app.exception and not app.error  # reading works: the conversation is shown
    assert [m.markdown[0].value for m in app.chat_message] == ["Question kept", "Answer kept"]

    app.chat_input[0].set_value("A message that cannot be saved").run()
    assert_only_error(app, "error.db_readonly")
    assert t("input.kept") in [c.value for c in app.caption]
    assert [c.value for c in app.code] == ["A message that cannot be saved"]  # handed back to copy
    assert groq_server.chat_requests == []  # nothing sent that could not be kept
    app.run()
    assert not app.exception
    assert _rows(db_url) == before
    # "file:" starts a SQLite URI, not a folder: none is made where the tests run.
    stray = Path.cwd() / f"file:{Path(path).parent}"
    assert not stray.exists() and not (Path.cwd() / "file:").exists(), f"stray folder {stray}"


def test_locked_database_is_explained_and_works_again_once_released(
    db_url: str, app: AppTest, groq_server: StandInGroq, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, before = _conversation_with_one_turn(db_url)
    monkeypatch.setenv("GROQ_CHAT_DB_BUSY_TIMEOUT", "0.5")
    app.query_params["c"] = cid
    app.run()
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program writing for a long time
    try:
        app.chat_input[0].set_value("Sent while locked").run()
        assert_only_error(app, "error.db_locked")
        assert [c.value for c in app.code] == ["Sent while locked"]
        assert groq_server.chat_requests == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _rows(db_url) == before

    app.chat_input[0].set_value("Sent while locked").run()  # the user sends it again
    assert not app.exception and not app.error
    rows = _rows(db_url)
    assert [r[2] for r in rows if r[1] == "user"].count("Sent while locked") == 1
    assert set(before) < set(rows)
