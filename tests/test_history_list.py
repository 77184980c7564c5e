"""The conversation list with thousands of conversations: keyset pages, date groups, pinned
first; renaming, tags, archive, delete with undo; automatic titles; the sidebar's "Load more"."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.errors import InvalidInput
from chatbot.history import HistoryService, clean_title, date_group, group_by_date
from chatbot.providers import Providers
from chatbot.store import repo
from chatbot.store.models import Conversation, new_id
from chatbot.store.repo import ConversationFilter, PageCursor
from tests.stand_in_groq import StandInGroq

NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


def bulk(
    sessions: sessionmaker[Session], count: int, rng: random.Random, owner: str = "", **fields: object
) -> list[dict]:
    """``count`` conversations in one INSERT; a fifth share their timestamp with another."""
    rows = []
    stamps: list[datetime] = []
    for i in range(count):
        if stamps and rng.random() < 0.2:
            when = rng.choice(stamps)  # ties: the page boundary must be decided by id
        else:
            when = NOW - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
            stamps.append(when)
        rows.append(
            {
                "id": new_id(),
                "owner": owner,
                "title": f"conversation {i}",
                "provider": "groq",
                "model": "m",
                "params": {},
                "pinned": False,
                "archived": False,
                "created_at": when,
                "updated_at": when,
                "title_source": "words",
                **fields,
            }
        )
    with sessions.begin() as s:
        s.execute(insert(Conversation), rows)
    return rows


def newest_first(rows: list[dict]) -> list[str]:
    return [r["id"] for r in sorted(rows, key=lambda r: (r["updated_at"], r["id"]), reverse=True)]


@pytest.fixture
def history(sessions: sessionmaker[Session]) -> HistoryService:
    return HistoryService(sessions)


# --------------------------------------------------------------------------- paging


def test_keyset_pages_cover_thousands_exactly_once_in_order(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(11)
    listed = bulk(sessions, 3000, rng)
    pinned = bulk(sessions, 40, rng, pinned=True)
    bulk(sessions, 150, rng, archived=True)
    trashed = bulk(sessions, 25, rng)
    bulk(sessions, 300, rng, owner="someone-else")
    history.delete([r["id"] for r in trashed])

    seen: list[str] = []
    cursor: PageCursor | None = None
    pages = 0
    while True:
        page = history.page(after=cursor, limit=50)
        assert len(page.items) <= 50
        seen += [c.id for c in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 60  # 3000 / 50, and the last page knows it is the last
    assert seen == newest_first(listed)
    assert [c.id for c in history.pinned()] == newest_first(pinned)
    assert history.count(ConversationFilter(pinned=False)) == 3000
    assert history.count(ConversationFilter(archived=True)) == 150
    assert history.count(ConversationFilter(archived=None)) == 3000 + 40 + 150

    joined = history.pages(3, limit=50)  # what the sidebar shows after two "Load more"
    assert [c.id for c in joined.items] == seen[:150] and joined.next_cursor is not None


@pytest.mark.sqlite_only  # SQLite's query plan; the same index serves PostgreSQL
def test_a_page_is_one_indexed_query_that_reads_only_its_rows(sessions) -> None:  # type: ignore[no-untyped-def]
    bulk(sessions, 2000, random.Random(3))
    executed: list[tuple[str, object]] = []
    engine = sessions.kw["bind"]

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        executed.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with sessions() as s:
            rows = repo.list_conversation_page(
                s, "", ConversationFilter(pinned=False), 31, PageCursor(NOW - timedelta(days=100), "f" * 32)
            )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(rows) == 31
    [(sql, parameters)] = [(q, p) for q, p in executed if q.lstrip().upper().startswith("SELECT")]
    assert "LIMIT" in sql.upper()  # the database cuts the page, not Python
    with engine.connect() as conn:  # the very statement the page ran, as SQLite plans it
        plan = " ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters))
    assert "USING INDEX ix_conversations_list" in plan and "updated_at<" in plan, plan  # a seek, not a skip
    assert "TEMP B-TREE" not in plan  # no sort of the whole table: the index is the order


# --------------------------------------------------------------------------- date groups


def test_groups_follow_the_users_calendar() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")  # UTC+8: NOW is 18:00 on 15 March there
    today = NOW.astimezone(shanghai).date()

    def at(y: int, mo: int, d: int, h: int = 12, mi: int = 0) -> datetime:
        return datetime(y, mo, d, h, mi, tzinfo=shanghai).astimezone(UTC)

    cases = [
        (at(2026, 3, 15, 0, 30), ("today", None, None)),
        (at(2026, 3, 14, 23, 59), ("yesterday", None, None)),
        (at(2026, 3, 14, 0, 0), ("yesterday", None, None)),
        (at(2026, 3, 13), ("previous_7_days", None, None)),
        (at(2026, 3, 8), ("previous_7_days", None, None)),
        (at(2026, 3, 7), ("previous_30_days", None, None)),
        (at(2026, 2, 13), ("previous_30_days", None, None)),
        (at(2026, 2, 12), ("month", 2026, 2)),
        (at(2026, 1, 31), ("month", 2026, 1)),
        (at(2025, 12, 1), ("month", 2025, 12)),
        (NOW + timedelta(minutes=5), ("today", None, None)),  # a clock slightly ahead
    ]
    for when, expected in cases:
        assert date_group(when, today, shanghai) == expected, when
    # The same instant is "today" in Shanghai and "yesterday" in UTC.
    assert date_group(at(2026, 3, 15, 7, 0), today, shanghai)[0] == "today"
    assert date_group(at(2026, 3, 15, 7, 0), NOW.date(), UTC)[0] == "yesterday"


def test_thousands_group_into_ordered_consecutive_groups(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    bulk(sessions, 2500, random.Random(5))
    items = history.pages(100, limit=50).items
    assert len(items) == 2500
    zone = ZoneInfo("America/New_York")
    groups = group_by_date(items, NOW, zone)
    keys = [(g.key, g.year, g.month) for g in groups]
    assert len(keys) == len(set(keys))  # each group appears once: the list is sorted
    assert sum(len(g.items) for g in groups) == 2500
    named = [k for k, _, _ in keys if k != "month"]
    assert named == [k for k in ("today", "yesterday", "previous_7_days", "previous_30_days") if k in named]
    months = [(y, m) for k, y, m in keys if k == "month"]
    assert months == sorted(months, reverse=True) and len(months) >= 20
    today = NOW.astimezone(zone).date()
    for group in groups:
        for item in group.items:
            assert date_group(item.updated_at, today, zone) == (group.key, group.year, group.month)


# --------------------------------------------------------------------------- organising


def make(sessions: sessionmaker[Session], title: str, owner: str = "") -> str:
    with sessions.begin() as s:
        return repo.create_conversation(s, owner, "groq", "m", title=title).id


def test_rename_pin_tag_archive(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    a, b = make(sessions, "first words"), make(sessions, "other")
    assert history.rename(a, "  Trip   planning ") == "Trip planning"
    summary = history.summary(a)
    assert summary and summary.title == "Trip planning" and summary.title_source == "user"
    with pytest.raises(InvalidInput) as empty:
        history.rename(a, "   ")
    assert empty.value.key == "history.title_empty"
    with pytest.raises(InvalidInput):
        history.rename(a, "x" * 301)

    assert history.set_tags(a, ["Work", "work", " travel ", ""]) == ["Work", "travel"]
    assert history.all_tags() == ["Work", "travel"]
    assert [c.id for c in history.page(ConversationFilter(tag="travel")).items] == [a]
    with pytest.raises(InvalidInput):
        history.set_tags(a, ["x" * 51])

    history.set_pinned([a], True)
    assert [c.id for c in history.pinned()] == [a]
    assert [c.id for c in history.page().items] == [b]  # pinned ones are listed above, not twice
    history.set_archived([b], True)
    assert history.page().items == []
    assert [c.id for c in history.page(ConversationFilter(archived=True)).items] == [b]


def test_delete_hides_undo_restores(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    a, b = make(sessions, "keep"), make(sessions, "oops")
    assert history.delete([b]) == 1
    assert [c.id for c in history.page().items] == [a]
    assert history.summary(b) is None
    assert history.undo_delete([b]) == 1
    assert {c.id for c in history.page().items} == {a, b}
    assert history.purge_trash() == 0  # nothing old enough


def test_another_owners_conversation_cannot_be_touched(sessions) -> None:  # type: ignore[no-untyped-def]
    theirs = make(sessions, "private", owner="alice")
    mine = HistoryService(sessions, owner="bob")
    with pytest.raises(InvalidInput):
        mine.rename(theirs, "hacked")
    with pytest.raises(InvalidInput):
        mine.set_tags(theirs, ["x"])
    assert mine.set_pinned([theirs], True) == 0
    assert mine.set_archived([theirs], True) == 0
    assert mine.delete([theirs]) == 0
    assert mine.records([theirs]) == []
    assert HistoryService(sessions, owner="alice").summary(theirs).title == "private"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- automatic titles


def first_exchange(sessions: sessionmaker[Session], provider: str = "groq", model: str = "openai/gpt-oss-20b") -> str:
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", provider, model, title="How do I upgrade my cluster")
        q = repo.add_message(s, conv.id, role="user", content="How do I upgrade my cluster without downtime?")
        a = repo.add_message(s, conv.id, role="assistant", content="Drain one node at a time.", parent_id=q.id)
        conv.current_message_id = a.id
        return conv.id


def test_a_cheap_groq_model_names_the_conversation(
    history: HistoryService, sessions, groq_server: StandInGroq, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GROQ_CHAT_AUTO_TITLE", "1")
    groq_server.reply = '"**Zero-Downtime Cluster Upgrade**."'
    providers = Providers(groq_server.api_key, groq_server.base_url)
    conv = first_exchange(sessions)
    assert history.auto_title(conv, providers, providers.catalogue().models) == "Zero-Downtime Cluster Upgrade"
    sent = groq_server.chat_requests[-1]["json"]
    assert sent["model"] == "llama-3.1-8b-instant" and sent["max_completion_tokens"] == 24
    assert "without downtime" in sent["messages"][-1]["content"]
    assert history.summary(conv).title_source == "model"  # type: ignore[union-attr]
    # Only once: a named conversation is not renamed by the next reply.
    assert history.auto_title(conv, providers, providers.catalogue().models) is None
    assert len(groq_server.chat_requests) == 1


def test_titles_stay_when_typed_offline_disabled_or_failing(
    history: HistoryService, sessions, groq_server: StandInGroq, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    providers = Providers(groq_server.api_key, groq_server.base_url)
    models = providers.catalogue().models
    conv = first_exchange(sessions)
    assert history.auto_title(conv, providers, models) is None  # GROQ_CHAT_AUTO_TITLE=0 (tests/conftest.py)
    monkeypatch.setenv("GROQ_CHAT_AUTO_TITLE", "1")
    history.rename(conv, "Mine")
    assert history.auto_title(conv, providers, models) is None  # the user's title is kept
    local = first_exchange(sessions, provider="local", model="smollm2")
    assert history.auto_title(local, providers, models) is None  # the offline model: first words
    failing = first_exchange(sessions)
    groq_server.fail_next("500", times=3)
    assert history.auto_title(failing, providers, models) is None
    assert history.summary(failing).title == "How do I upgrade my cluster"  # type: ignore[union-attr]
    assert len(groq_server.chat_requests) == 3  # only the failing attempt (SDK retries) asked


def test_clean_title() -> None:
    assert clean_title('Title: "Paris in Spring"\nextra') == "Paris in Spring"
    assert clean_title("# **Rust lifetimes**") == "Rust lifetimes"
    assert clean_title("标题：学习数据库。") == "学习数据库"
    assert clean_title("   \n  ") is None
    assert len(clean_title("word " * 40) or "") <= 80


# --------------------------------------------------------------------------- the sidebar


def test_sidebar_loads_more_and_groups(app: AppTest, sessions) -> None:  # type: ignore[no-untyped-def]
    rows = bulk(sessions, 75, random.Random(2))
    for r in rows[:40]:  # recent ones, so "Today" exists
        r["updated_at"] = datetime.now(UTC) - timedelta(minutes=rows.index(r))
    with sessions.begin() as s:
        for r in rows[:40]:
            s.execute(
                text("UPDATE conversations SET updated_at = :u WHERE id = :id"), {"u": r["updated_at"], "id": r["id"]}
            )
    app.run()
    assert not app.exception

    def listed() -> list[str]:
        return [b.key.removeprefix("open_") for b in app.sidebar.button if b.key and b.key.startswith("open_")]

    assert listed() == newest_first(rows)[:30]
    assert "Today" in [c.value for c in app.sidebar.caption]
    app.sidebar.button(key="load_more").click().run()
    assert listed() == newest_first(rows)[:60]
    app.sidebar.button(key="load_more").click().run()
    assert listed() == newest_first(rows)
    assert not [b for b in app.sidebar.button if b.key == "load_more"]


def test_sidebar_search_opens_the_conversation_at_the_hit(app: AppTest, sessions, groq_server: StandInGroq) -> None:  # type: ignore[no-untyped-def]
    make(sessions, "Unrelated")
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "m", title="Holiday")
        q = repo.add_message(s, conv.id, role="user", content="Where do capybaras live?")
        a = repo.add_message(s, conv.id, role="assistant", content="In South America.", parent_id=q.id)
        conv.current_message_id = a.id
        conv_id, q_id = conv.id, q.id
    app.run()
    app.sidebar.text_input(key="sidebar_search").set_value("capybara").run()
    assert not app.exception
    hits = [b for b in app.sidebar.button if b.key and b.key.startswith("hit_")]
    assert [b.label for b in hits] == ["Holiday"]
    assert any("capybara" in c.value for c in app.sidebar.caption)
    hits[0].click().run()
    assert not app.exception
    assert app.session_state["conversation_id"] == conv_id
    assert app.query_params["c"] == conv_id and app.query_params["m"] == q_id
    assert [m.markdown[0].value for m in app.chat_message][:2] == ["Where do capybaras live?", "In South America."]
    # Once the user writes on, the hit is behind: a reload opens at the newest message.
    app.chat_input(key="prompt").set_value("And in zoos?").run()
    assert not app.exception
    assert app.query_params["c"] == conv_id and "m" not in app.query_params
