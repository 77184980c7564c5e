"""Searching every conversation: ranking, snippets, phrases, prefixes, Chinese, the trash,
hostile input, and the index staying in sync, on a real SQLite file (FTS5) and a real
PostgreSQL database (pg_trgm); the tests about FTS5's own tables are SQLite-only."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from chatbot import search
from chatbot.history import UNDO_WINDOW, HistoryService
from chatbot.search import postgres as pg_search
from chatbot.search import sqlite_fts
from chatbot.search.like import LikeSearch
from chatbot.search.query import parse_query
from chatbot.search.snippets import END, START, escape_markdown, from_marked, plain, to_markdown
from chatbot.search.sqlite_fts import rebuild_index
from chatbot.store import repo
from chatbot.store.models import Base
from chatbot.store.repo import ConversationFilter

FILLER = [
    "the",
    "weather",
    "was",
    "mild",
    "and",
    "we",
    "walked",
    "along",
    "the",
    "river",
    "talking",
    "about",
    "books",
    "music",
    "and",
    "old",
    "friends",
    "then",
    "we",
    "cooked",
    "pasta",
    "with",
    "tomatoes",
    "basil",
    "garlic",
    "and",
    "olive",
    "oil",
    "while",
    "the",
    "radio",
    "played",
    "jazz",
]
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def add(
    sessions: sessionmaker[Session],
    title: str,
    *contents: str,
    owner: str = "",
    model: str = "m",
    when: datetime = BASE,
) -> tuple[str, list[str]]:
    """A conversation with alternating user/assistant messages; returns its id and message ids."""
    with sessions.begin() as s:
        conv = repo.create_conversation(s, owner, "groq", model, title=title)
        conv.updated_at = when
        parent = None
        ids = []
        for i, content in enumerate(contents):
            m = repo.add_message(
                s,
                conv.id,
                role="user" if i % 2 == 0 else "assistant",
                content=content,
                parent_id=parent,
                created_at=when + timedelta(seconds=i),
            )
            parent = m.id
            ids.append(m.id)
        conv.current_message_id = parent
        return conv.id, ids


def check_index(s: Session) -> None:
    """The database's search index is intact (FTS5 integrity check / the GIN indexes valid)."""
    (sqlite_fts if s.get_bind().dialect.name == "sqlite" else pg_search).check_index(s)


def filler(rng: random.Random, words: int = 40) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(words))


@pytest.fixture
def history(sessions: sessionmaker[Session]) -> HistoryService:
    return HistoryService(sessions)


@pytest.fixture
def corpus(sessions: sessionmaker[Session]) -> dict[str, str]:
    """Forty ordinary conversations, so that bm25's document frequencies mean something."""
    rng = random.Random(7)
    for i in range(40):
        add(sessions, f"Chat {i} about {rng.choice(FILLER)}", filler(rng), filler(rng), when=BASE - timedelta(hours=i))
    return {}


def ids_of(groups: list[search.ConversationHits]) -> list[str]:
    return [g.conversation_id for g in groups]


# --------------------------------------------------------------------------- ranking


def test_title_matches_rank_above_a_passing_mention(history: HistoryService, sessions, corpus) -> None:  # type: ignore[no-untyped-def]
    mention, _ = add(
        sessions,
        "Weekend plans",
        filler(random.Random(1), 60) + " and maybe kubernetes later " + filler(random.Random(2), 60),
    )
    titled, _ = add(sessions, "Kubernetes upgrade checklist", "How do I drain a node first?", "Cordon, then drain.")
    assert ids_of(history.search("kubernetes"))[:2] == [titled, mention]


def test_bm25_prefers_the_message_about_the_term(history: HistoryService, sessions, corpus) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(3)
    focused, _ = add(sessions, "Notes", "postgres vacuum: postgres needs vacuum to reuse space in postgres tables")
    passing, _ = add(sessions, "Notes", filler(rng, 120) + " postgres " + filler(rng, 120))
    order = ids_of(history.search("postgres"))
    assert order.index(focused) < order.index(passing)


def test_every_word_must_match(history: HistoryService, sessions, corpus) -> None:  # type: ignore[no-untyped-def]
    both, _ = add(sessions, "Build", "The docker image fails to build on arm64")
    add(sessions, "Build", "The docker daemon is not running")
    assert ids_of(history.search("docker arm64")) == [both]


# --------------------------------------------------------------------------- snippets


def test_snippet_marks_the_match_and_escapes_the_rest(history: HistoryService, sessions, corpus) -> None:  # type: ignore[no-untyped-def]
    add(sessions, "Web", "<script>x()</script> **bold** serendipity")
    [group] = history.search("serendipity")
    [hit] = group.messages
    assert ("serendipity", True) in hit.snippet
    assert "<script>" in plain(hit.snippet)  # the text itself is intact ...
    md = to_markdown(hit.snippet)
    assert ":orange-background[**serendipity**]" in md
    assert "<script>" not in md and "\\<script\\>" in md  # ... and inert as Markdown
    assert "\\*\\*bold\\*\\*" in md


def test_snippet_is_a_window_of_a_long_message(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    add(sessions, "Long", filler(rng, 400) + " the quixotic plan " + filler(rng, 400))
    [group] = history.search("quixotic")
    snippet = plain(group.messages[0].snippet)
    assert "quixotic" in snippet and len(snippet) < 200 and "…" in snippet


def test_from_marked_is_robust() -> None:
    assert from_marked(f"a {START}b{END} c") == (("a ", False), ("b", True), (" c", False))
    assert from_marked(f"{START}open") == (("open", True),)
    assert from_marked(f"x{END}y") == (("xy", False),)
    # A word joiner after the colon: Streamlit reads ":name" in the text after escapes are undone.
    assert escape_markdown(":red[x] $y$") == ":\u2060red\\[x\\] \\$y\\$"


# --------------------------------------------------------------------------- query syntax


def test_phrase_query_needs_the_words_together(history: HistoryService, sessions, corpus) -> None:  # type: ignore[no-untyped-def]
    together, _ = add(sessions, "A", "the database migration failed at step three")
    apart, _ = add(sessions, "B", "the migration of the database failed")
    assert ids_of(history.search('"database migration"')) == [together]
    assert set(ids_of(history.search("database migration"))) == {together, apart}


def test_prefix_query(history: HistoryService, sessions, corpus) -> None:  # type: ignore[no-untyped-def]
    conv, _ = add(sessions, "Infra", "Terraform provisions the cluster")
    assert ids_of(history.search("terraf*")) == [conv]
    assert ids_of(history.search("Terra*")) == [conv]  # case-insensitive
    assert ids_of(history.search("terraform*")) == [conv]


def test_parse_query_quotes_every_term() -> None:
    q = parse_query('hello "big world" data* foo"bar NEAR( -x')
    assert q.fts_expression() == '"hello" "big world" "data" "foo""bar" "NEAR("'
    assert [t.prefix for t in q.terms] == [False, False, True, False, False, False]
    assert [t.text for t in q.short_terms] == ["-x"]
    assert parse_query('"unterminated phrase').terms[0].text == "unterminated phrase"
    assert parse_query("   ").empty and parse_query("*").empty and parse_query('""').empty


HOSTILE = [
    '"',
    '""',
    "'",
    "*",
    "**",
    "^",
    "(",
    ")",
    "NEAR(a b)",
    "a OR b",
    "NOT x",
    "AND",
    "col:value",
    "messages_fts:abc",
    "- -",
    "{a b}",
    "\\",
    "%",
    "_",
    "\x00abc",
    "\ue000abc\ue001",
    "😀" * 3,
    "a" * 5000,
    "中",
    "数据",
    "SELECT * FROM messages; --",
    '"a" * "b"',
    'abc"*',
    "🙂 x",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_no_input_is_a_syntax_error(history: HistoryService, sessions, query: str) -> None:  # type: ignore[no-untyped-def]
    add(sessions, "Anything", "some % percent _ underscore \\ backslash text abc 数据")
    history.search(query)  # must not raise
    with sessions() as s:
        LikeSearch().search(s, "", parse_query(query), None, 10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_any_text_searches_without_error(history: HistoryService, query: str) -> None:
    history.search(query)


def test_like_wildcards_in_input_are_literal(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    percent, _ = add(sessions, "P", "a 5% fee")
    add(sessions, "Q", "a 55 fee")
    assert ids_of(history.search("5%")) == [percent]


# --------------------------------------------------------------------------- Chinese and other scripts


def test_chinese_words_of_three_and_two_characters(history: HistoryService, sessions, corpus) -> None:  # type: ignore[no-untyped-def]
    db, _ = add(sessions, "学习", "我们需要处理数据库的索引")
    data, _ = add(sessions, "报告", "这份报告里的数据不对")
    add(sessions, "天气", "今天天气很好，我们去公园")
    assert ids_of(history.search("数据库")) == [db]  # three characters: the trigram index
    assert set(ids_of(history.search("数据"))) == {db, data}  # two characters: found too
    assert ids_of(history.search("公园")) != []
    assert ids_of(history.search("数据 索引")) == [db]  # two short words together
    [group] = history.search("数据 报告")  # a two-character word and a title word
    assert group.conversation_id == data


def test_two_character_word_with_an_indexed_word_is_highlighted(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    add(sessions, "Mixed", "upgrade 数据 safely")
    [group] = history.search("数据 upgrade")
    segments = group.messages[0].snippet
    assert ("数据", True) in segments and ("upgrade", True) in segments


def test_japanese_and_case_insensitive_accented_text(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    ja, _ = add(sessions, "日本語", "東京の天気はどうですか")
    cafe, _ = add(sessions, "Café", "Un CRÈME BRÛLÉE, s'il vous plaît")
    assert ids_of(history.search("東京の")) == [ja]
    assert ids_of(history.search("crème brûlée")) == [cafe]


# --------------------------------------------------------------------------- what is searched


def test_deleted_conversations_disappear(history: HistoryService, sessions, corpus) -> None:  # type: ignore[no-untyped-def]
    gone, _ = add(sessions, "Secret plan zebra", "the zebra password is hunter2")
    assert ids_of(history.search("zebra")) == [gone]
    history.delete([gone])  # in the trash: hidden at once
    assert history.search("zebra") == [] and history.search("hunter2") == []
    history.undo_delete([gone])
    assert ids_of(history.search("zebra")) == [gone]
    history.delete([gone])
    with sessions.begin() as s:  # older than the undo window: purged for good
        s.execute(
            text("UPDATE conversations SET deleted_at = :t WHERE id = :id"),
            {"t": datetime.now(UTC) - 2 * UNDO_WINDOW, "id": gone},
        )
    assert history.purge_trash() == 1
    assert history.search("zebra") == []
    with sessions() as s:  # the index itself holds nothing of it any more
        if s.get_bind().dialect.name == "sqlite":
            assert (
                s.execute(text("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"hunter2\"'")).scalar()
                == 0
            )
            assert (
                s.execute(
                    text("SELECT count(*) FROM conversations_fts WHERE conversations_fts MATCH '\"zebra\"'")
                ).scalar()
                == 0
            )
        check_index(s)


def test_words_found_in_many_messages(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    # More matches than asked for: on SQLite the word index answers (word prefixes), with the
    # same visibility rules; fewer, and the substring index answers (infixes too).
    mine = [add(sessions, f"Trip {i}", f"the capybara number {i} swims")[0] for i in range(6)]
    add(sessions, "Not mine", "a capybara swims", owner="someone else")
    assert set(ids_of(history.search("capybara", limit=3))) < set(mine)
    assert len(history.search("capy swim", limit=3)) == 3
    assert len(history.search('"capybara number"', limit=3)) == 3
    assert len(history.search("ybara", limit=3)) == 3  # inside words: the substring index
    history.delete(mine[:5])
    assert ids_of(history.search("capybara", limit=3)) == [mine[5]]
    with sessions.begin() as s:
        s.execute(
            text("UPDATE messages SET content = 'the capybara floats' WHERE conversation_id = :c"), {"c": mine[5]}
        )
    assert history.search("swims", limit=1) == []
    assert ids_of(history.search("floats", limit=1)) == [mine[5]]
    with sessions() as s:
        check_index(s)


def test_hard_delete_of_the_chat_service_also_leaves_the_index(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    gone, _ = add(sessions, "Ephemeral", "quokka facts")
    with sessions.begin() as s:
        assert repo.delete_conversation(s, "", gone)
    assert history.search("quokka") == []
    with sessions() as s:
        check_index(s)


def test_other_owners_are_never_found(sessions) -> None:  # type: ignore[no-untyped-def]
    add(sessions, "Alice's diary", "platypus", owner="alice")
    mine, _ = add(sessions, "Bob's notes", "platypus", owner="bob")
    assert ids_of(HistoryService(sessions, owner="bob").search("platypus")) == [mine]
    assert HistoryService(sessions, owner="carol").search("platypus") == []
    assert ids_of(HistoryService(sessions, owner="bob").search("diary")) == []


def test_the_index_follows_edits_renames_and_streaming(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    conv, [_, reply] = add(sessions, "Old name", "question", "first draft about walruses")
    with sessions.begin() as s:
        repo.update_message(s, reply, content="final answer about narwhals")  # as a streaming flush does
    assert history.search("walruses") == []
    assert ids_of(history.search("narwhals")) == [conv]
    history.rename(conv, "Arctic animals")
    assert history.search("Old name") == []
    [group] = history.search("arctic")
    assert group.title_matched and ("Arctic", True) in group.title
    with sessions() as s:
        check_index(s)


def test_filters_narrow_the_search(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    a, _ = add(sessions, "One", "lemur facts", model="llama", when=BASE - timedelta(days=40))
    b, _ = add(sessions, "Two", "lemur photos", model="gpt-oss", when=BASE)
    history.set_tags(b, ["zoo"])
    history.set_archived([a], True)
    assert ids_of(history.search("lemur")) == [b]  # the default: not archived
    assert set(ids_of(history.search("lemur", ConversationFilter(archived=None)))) == {a, b}
    assert ids_of(history.search("lemur", ConversationFilter(archived=True))) == [a]
    assert ids_of(history.search("lemur", ConversationFilter(archived=None, model="llama"))) == [a]
    assert ids_of(history.search("lemur", ConversationFilter(archived=None, tag="zoo"))) == [b]
    since = ConversationFilter(archived=None, updated_from=BASE - timedelta(days=1))
    assert ids_of(history.search("lemur", since)) == [b]
    assert ids_of(history.search("le", ConversationFilter(archived=None, model="llama"))) == [a]  # LIKE path too


def test_a_hit_on_another_branch_opens_that_branch(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "m", title="Branches")
        q = repo.add_message(s, conv.id, role="user", content="question")
        old = repo.add_message(s, conv.id, role="assistant", content="the ocelot answer", parent_id=q.id)
        follow = repo.add_message(s, conv.id, role="user", content="more", parent_id=old.id)
        new = repo.add_message(s, conv.id, role="assistant", content="the regenerated answer", parent_id=q.id)
        conv.current_message_id = new.id
        conv_id, old_id, follow_id = conv.id, old.id, follow.id
    [group] = history.search("ocelot")
    assert group.messages[0].message_id == old_id
    assert history.open_at(conv_id, old_id)
    with sessions() as s:
        assert repo.get_conversation(s, "", conv_id).current_message_id == follow_id  # the branch's newest leaf
    assert not history.open_at(conv_id, "not-a-message")


def test_the_portable_backend_finds_the_same(sessions) -> None:  # type: ignore[no-untyped-def]
    a, _ = add(sessions, "Garden", "tomato seedlings need light")
    b, _ = add(sessions, "数据", "这份报告里的数据不对")
    with sessions() as s:
        like = LikeSearch()
        assert {h.conversation_id for h in like.search(s, "", parse_query("tomato"), None, 10)} == {a}
        assert {h.conversation_id for h in like.search(s, "", parse_query("数据"), None, 10)} == {b}
        assert {h.conversation_id for h in search.search(s, "", "TOMATO", backend=like)} == {a}


# --------------------------------------------------------------------------- the schema


@pytest.mark.sqlite_only  # FTS5's triggers; PostgreSQL's index: tests/test_postgres.py
def test_search_index_is_intact_at_head(sessions, db_url: str) -> None:  # type: ignore[no-untyped-def]
    add(sessions, "Something", "to index")
    with sessions() as s:
        names = set(s.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        assert {
            "messages_fts_insert",
            "messages_fts_delete",
            "messages_fts_update",
            "conversations_fts_insert",
            "conversations_fts_delete",
            "conversations_fts_update",
            "messages_words_insert",
            "messages_words_delete",
            "messages_words_update",
        } <= names
        check_index(s)
    # check_index notices an index that no longer follows its table (a lost trigger).
    with sessions.begin() as s:
        s.execute(text("DROP TRIGGER messages_fts_update"))
        s.execute(text("UPDATE messages SET content = 'changed behind the index'"))
    with sessions() as s, pytest.raises(DatabaseError):
        check_index(s)
    with sessions.begin() as s:
        rebuild_index(s)
    with sessions() as s:
        check_index(s)


def test_orm_matches_the_migrated_schema_apart_from_the_search_index(sessions) -> None:  # type: ignore[no-untyped-def]
    engine = sessions.kw["bind"]
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": search.include_in_schema_compare}
        )
        assert compare_metadata(context, Base.metadata) == []


@pytest.mark.sqlite_only  # PostgreSQL's migration 0003: tests/test_postgres.py
def test_migration_indexes_existing_rows_and_downgrades(db_url: str) -> None:
    from alembic import command

    from chatbot.store.db import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:  # a database from before this migration, with a conversation
        conn.execute(
            text(
                "INSERT INTO conversations (id, owner, title, provider, model, params, pinned, archived, created_at, "
                "updated_at) VALUES ('c1', '', 'Before the index', 'groq', 'm', '{}', 0, 0, :t, :t)"
            ),
            {"t": BASE},
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, conversation_id, role, content, status, created_at, updated_at) "
                "VALUES ('m1', 'c1', 'user', 'an armadillo appears', 'complete', :t, :t)"
            ),
            {"t": BASE},
        )
    upgrade(engine)  # 0002 builds the trigram index, 0004 the word index, from what is there
    history = HistoryService(sessionmaker(engine))
    assert ids_of(history.search("armadillo")) == ["c1"]
    assert ids_of(history.search("armadillo", limit=1)) == ["c1"]  # answered by the word index
    assert ids_of(history.search("before the")) == ["c1"]
    with sessionmaker(engine)() as s:
        check_index(s)
    command.downgrade(alembic_config(engine), "0001")
    with engine.connect() as conn:
        tables = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
    assert not {"messages_fts", "messages_words", "conversation_tags"} & tables
    upgrade(engine)
    engine.dispose()


def test_the_best_visible_hits_are_found_behind_many_hidden_ones(sessions) -> None:  # type: ignore[no-untyped-def]
    # 300 better-ranked matches belong to someone else or are archived: the ranking must look
    # past them (the first, index-only pass sees too few visible rows and ranks again).
    with sessions.begin() as s:
        for i in range(150):
            other = repo.create_conversation(s, "alice", "groq", "m", title=f"a{i}")
            repo.add_message(s, other.id, role="user", content="walrus walrus walrus")
            archived = repo.create_conversation(s, "", "groq", "m", title=f"b{i}", archived=True)
            repo.add_message(s, archived.id, role="user", content="walrus walrus")
    mine = [
        add(sessions, f"Mine {i}", f"a long note that mentions a walrus once among many other words {i}")[0]
        for i in range(3)
    ]
    history = HistoryService(sessions)
    assert set(ids_of(history.search("walrus", limit=10))) == set(mine)
    assert len(history.search("walrus", ConversationFilter(archived=True), limit=10)) == 10


@pytest.mark.sqlite_only  # the FTS5 backend's rank window
def test_a_very_common_word_is_ranked_among_its_newest_matches(
    history: HistoryService, sessions, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from chatbot.search import sqlite_fts

    monkeypatch.setattr(sqlite_fts, "RANK_WINDOW", 5)
    oldest, _ = add(sessions, "Old", "ferret ferret ferret")  # the best bm25 match, but old
    newer = [add(sessions, f"N{i}", f"one ferret in a longer message number {i}")[0] for i in range(12)]
    found = ids_of(history.search("ferret", limit=50))
    assert oldest not in found and set(found) == set(newer[-5:])  # the newest five, ranked
    monkeypatch.setattr(sqlite_fts, "RANK_WINDOW", 10_000)
    assert ids_of(history.search("ferret"))[0] == oldest  # without the window it ranks first


def test_a_long_history_is_searched_newest_first_then_whole(history: HistoryService, sessions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Past SCAN_WINDOW messages (250,000; 6 here) the newest are searched first: the best
    # matches there when they are plenty, every match otherwise, old ones included.
    monkeypatch.setattr(sqlite_fts, "SCAN_WINDOW", 6)
    old, _ = add(sessions, "Old", "the blue whale sings", "a blue whale again", "blue whale three")
    for i in range(4):
        add(sessions, f"New {i}", f"nothing {i}", f"still nothing {i}")
    assert ids_of(history.search('"blue whale"', limit=2)) == [old]  # only old matches: found
    for i in range(8):
        add(sessions, f"Newer {i}", f"a blue whale {i}")
    assert len(ids_of(history.search('"blue whale"', limit=1))) == 1  # from the newest messages
    assert len(history.search('"blue whale"', limit=50)) == 9  # few matches in all: every one
