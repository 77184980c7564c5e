"""Export and import our own format: lossless for every field and branch, idempotent, and the
reading formats (Markdown, text, CSV, HTML, ZIP) safe and complete."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot import exporting
from chatbot.conversation import Turn
from chatbot.exporting import bundle, csv_format, html_format, json_format, markdown, text
from chatbot.history import HistoryService
from chatbot.importing import Upload
from chatbot.records import ConversationRecord, ConversationSummary, MessageRecord
from chatbot.store import repo
from chatbot.store.db import open_database
from chatbot.store.models import Conversation, ConversationTag, Message

T0 = datetime(2026, 2, 1, 9, 30, 15, 123456, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> =cmd|"/c calc"!A1 **bold** `code` & \u202e'


def dump(sessions: sessionmaker[Session], owner: str = "") -> dict[str, Any]:
    """Every stored field of the owner's conversations, messages and tags."""

    def value(v: Any) -> Any:
        # PostgreSQL returns aware UTC datetimes, SQLite naive ones stored as UTC: one form.
        return v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v

    def row(obj: Any) -> dict[str, Any]:
        return {c.key: value(getattr(obj, c.key)) for c in obj.__table__.columns}

    with sessions() as s:
        convs = s.scalars(select(Conversation).where(Conversation.owner == owner).order_by(Conversation.id)).all()
        ids = [c.id for c in convs]
        msgs = s.scalars(select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.id)).all()
        tags = s.scalars(
            select(ConversationTag)
            .where(ConversationTag.conversation_id.in_(ids))
            .order_by(ConversationTag.conversation_id, ConversationTag.tag)
        ).all()
        return {
            "conversations": [row(c) for c in convs],
            "messages": [row(m) for m in msgs],
            "tags": [row(t) for t in tags],
        }


def rich_history(sessions: sessionmaker[Session]) -> list[str]:
    """Conversations using every field: branches, usage, timings, statuses, reasoning, tags."""
    ids = []
    with sessions.begin() as s:
        conv = repo.create_conversation(
            s,
            "",
            "groq",
            "openai/gpt-oss-120b",
            title="Rich 数据 conversation",
            system_prompt="Be brief.",
            pinned=True,
            title_source="user",
            created_at=T0,
            updated_at=T0 + timedelta(hours=1),
        )
        conv.params = {"temperature": 0.3, "top_p": 0.9, "max_tokens": 512, "preset": {"name": "x", "n": [1, 2.5]}}
        q = repo.add_message(s, conv.id, role="user", content="Question with " + HOSTILE, created_at=T0, updated_at=T0)
        a1 = repo.add_message(
            s,
            conv.id,
            role="assistant",
            content="First answer",
            parent_id=q.id,
            reasoning="Thinking… 思考",
            status="complete",
            provider="groq",
            model="openai/gpt-oss-120b",
            params={"temperature": 0.3, "max_tokens": 512, "reasoning_effort": "high", "omitted": 2},
            finish_reason="stop",
            prompt_tokens=1234,
            completion_tokens=56,
            time_to_first_token=0.123456789,
            total_time=1.5,
            queue_time=0.0123,
            tokens_per_second=512.25,
            created_at=T0 + timedelta(seconds=1),
            updated_at=T0 + timedelta(seconds=2),
        )
        repo.add_message(  # a regenerated answer, cut off: a sibling branch
            s,
            conv.id,
            role="assistant",
            content="Second ans",
            parent_id=q.id,
            status="stopped",
            provider="groq",
            model="llama-3.1-8b-instant",
            finish_reason=None,
            error_code="error.interrupted",
            params={"error_values": {"limit": "TPM"}},
            created_at=T0 + timedelta(seconds=3),
            updated_at=T0 + timedelta(seconds=4),
        )
        edit = repo.add_message(
            s,
            conv.id,
            role="user",
            content="Edited follow-up",
            parent_id=a1.id,
            created_at=T0 + timedelta(seconds=5),
            updated_at=T0 + timedelta(seconds=5),
        )
        failed = repo.add_message(
            s,
            conv.id,
            role="assistant",
            content="",
            parent_id=edit.id,
            status="error",
            error_code="error.rate_limit",
            created_at=T0 + timedelta(seconds=6),
            updated_at=T0 + timedelta(seconds=6),
        )
        conv.current_message_id = failed.id
        repo.set_tags(s, "", conv.id, ["work", "数据库"])
        ids.append(conv.id)
        other = repo.create_conversation(
            s,
            "",
            "local",
            "smollm2",
            title="",
            archived=True,
            created_at=T0 - timedelta(days=400),
            updated_at=T0 - timedelta(days=400),
        )
        repo.add_message(
            s,
            other.id,
            role="user",
            content="hi",
            created_at=T0 - timedelta(days=400),
            updated_at=T0 - timedelta(days=400),
        )
        ids.append(other.id)
        repo.create_conversation(s, "", "groq", "m", title="no messages yet", created_at=T0, updated_at=T0)
    return ids


@pytest.fixture
def fresh(new_database: Callable[[str], str]) -> Callable[[Path, str], sessionmaker[Session]]:
    """Another empty database of the test's kind (SQLite file or PostgreSQL database)."""

    def make(_tmp_path: Path, name: str) -> sessionmaker[Session]:
        return open_database(new_database(name.replace(".db", "")))[1]

    return make


# --------------------------------------------------------------------------- round trip


def test_everything_zip_round_trips_every_field_and_reimport_is_a_no_op(sessions, tmp_path: Path, fresh) -> None:  # type: ignore[no-untyped-def]
    rich_history(sessions)
    source = HistoryService(sessions)
    archive = source.export_everything()
    assert archive.name.endswith(".zip") and archive.mime == "application/zip"

    target_sessions = fresh(tmp_path, "target.db")
    target = HistoryService(target_sessions)
    preview = target.preview_import([Upload(archive.name, archive.data)])
    assert len(preview.new) == 3 and preview.skipped == [] and preview.message_count == 6
    assert dump(target_sessions) == {"conversations": [], "messages": [], "tags": []}  # a preview writes nothing

    result = target.import_uploads([Upload(archive.name, archive.data)])
    assert len(result.new) == 3 and result.message_count == 6
    assert dump(target_sessions) == dump(sessions)  # every column of every row, ids included

    before = dump(target_sessions)
    again = target.import_uploads([Upload(archive.name, archive.data)])
    assert again.new == [] and again.updated == [] and len(again.skipped) == 3
    assert {i.reason for i in again.skipped} == {"import.skip.exists"}
    assert dump(target_sessions) == before


def test_json_of_a_selection_round_trips(sessions, tmp_path: Path, fresh) -> None:  # type: ignore[no-untyped-def]
    rich, archived = rich_history(sessions)
    exported = HistoryService(sessions).export([rich, archived], "json")
    document = json.loads(exported.data)
    assert document["schema"] == "groq-chat.export" and document["schema_version"] == json_format.SCHEMA_VERSION
    [full] = [c for c in document["conversations"] if c["id"] == rich]
    assert len(full["messages"]) == 5  # every branch, not just the one on screen
    assert {m["parent_id"] for m in full["messages"]} >= {None}
    assert full["params"]["preset"] == {"name": "x", "n": [1, 2.5]}
    target_sessions = fresh(tmp_path, "t.db")
    HistoryService(target_sessions).import_uploads([Upload(exported.name, exported.data)])
    original, copied = dump(sessions), dump(target_sessions)
    keep = {rich, archived}
    assert copied["conversations"] == [c for c in original["conversations"] if c["id"] in keep]
    assert copied["messages"] == original["messages"]


def test_new_messages_are_merged_into_an_imported_conversation(sessions, tmp_path: Path, fresh) -> None:  # type: ignore[no-untyped-def]
    rich, _ = rich_history(sessions)
    first = HistoryService(sessions).export([rich], "json")
    with sessions.begin() as s:
        repo.add_message(
            s,
            rich,
            role="user",
            content="one more",
            created_at=T0 + timedelta(days=1),
            updated_at=T0 + timedelta(days=1),
        )
    second = HistoryService(sessions).export([rich], "json")
    target_sessions = fresh(tmp_path, "t.db")
    target = HistoryService(target_sessions)
    target.import_uploads([Upload("a.json", first.data)])
    result = target.import_uploads([Upload("b.json", second.data)])
    assert [(i.action, i.messages) for i in result.items] == [("update", 1)]
    assert dump(target_sessions)["messages"] == [m for m in dump(sessions)["messages"] if m["conversation_id"] == rich]


def test_ids_held_by_another_owner_are_mapped_and_stay_idempotent(sessions) -> None:  # type: ignore[no-untyped-def]
    rich, _ = rich_history(sessions)
    exported = HistoryService(sessions).export([rich], "json")
    alice = HistoryService(sessions, owner="alice")
    first = alice.import_uploads([Upload("x.json", exported.data)])
    [item] = first.new
    assert item.conversation_id != rich  # the id belongs to the local user's row
    assert HistoryService(sessions).summary(rich).title == "Rich 数据 conversation"  # type: ignore[union-attr]
    mine = dump(sessions, "alice")
    assert len(mine["messages"]) == 5
    assert {m["conversation_id"] for m in mine["messages"]} == {item.conversation_id}
    again = alice.import_uploads([Upload("x.json", exported.data)])
    assert [i.reason for i in again.items] == ["import.skip.exists"]
    assert dump(sessions, "alice") == mine


def test_a_trashed_conversation_is_replaced_by_its_import(sessions, tmp_path: Path, fresh) -> None:  # type: ignore[no-untyped-def]
    rich, _ = rich_history(sessions)
    history = HistoryService(sessions)
    exported = history.export([rich], "json")
    history.delete([rich])
    result = history.import_uploads([Upload("x.json", exported.data)])
    assert [i.action for i in result.items] == ["new"]
    assert history.summary(rich) is not None


def test_the_first_apps_export_still_imports(sessions, tmp_path: Path, fresh) -> None:  # type: ignore[no-untyped-def]
    turns = [Turn("t1", "user", "hello", "complete"), Turn("t2", "assistant", "hi there", "complete", model="m")]
    legacy = {
        "schema": "groq-chat.conversation",
        "schema_version": 1,
        "exported_at": T0.isoformat(),
        "conversation": {
            "id": "abc123",
            "title": "Old export",
            "provider": "groq",
            "model": "m",
            "system_prompt": None,
            "updated_at": T0.isoformat(),
        },
        "messages": [
            {k: v for k, v in t.__dict__.items() if k in ("id", "role", "content", "status", "model")} for t in turns
        ],
    }
    target = HistoryService(fresh(tmp_path, "t.db"))
    result = target.import_uploads([Upload("old.json", json.dumps(legacy).encode())])
    assert [(i.action, i.messages) for i in result.items] == [("new", 2)]
    [record] = target.records(["abc123"])
    assert [m.content for m in record.current_branch()] == ["hello", "hi there"]


def page_info(conversation_id: str, title: str, system_prompt: str | None = None) -> ConversationSummary:
    """The chat page's ConversationSummary, whatever fields it has grown since."""
    import dataclasses

    values: dict[str, Any] = {
        "id": conversation_id,
        "title": title,
        "provider": "groq",
        "model": "m",
        "system_prompt": system_prompt,
        "updated_at": T0,
    }
    for f in dataclasses.fields(ConversationSummary):
        if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = {}
    return ConversationSummary(**values)


# --------------------------------------------------------------------------- property: any record survives

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_when = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
_float = st.none() | st.floats(allow_nan=False, allow_infinity=False)
_int = st.none() | st.integers(0, 2**63 - 1)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_params = st.dictionaries(_text, _json, max_size=4)


@st.composite
def records(draw: st.DrawFn) -> ConversationRecord:
    n = draw(st.integers(0, 6))
    ids = draw(
        st.lists(st.text("0123456789abcdef", min_size=32, max_size=32), min_size=n + 1, max_size=n + 1, unique=True)
    )
    messages = []
    for i in range(n):
        created = draw(_when)
        messages.append(
            MessageRecord(
                id=ids[i + 1],
                parent_id=draw(st.none() | st.sampled_from(ids[1 : i + 1])) if i else None,
                role=draw(st.sampled_from(["user", "assistant", "system"])),
                content=draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)),
                created_at=created,
                updated_at=draw(_when),
                reasoning=draw(st.none() | _text),
                status=draw(st.sampled_from(["complete", "streaming", "stopped", "interrupted", "error"])),
                provider=draw(st.none() | _text),
                model=draw(st.none() | _text),
                params=draw(st.none() | _params),
                finish_reason=draw(st.none() | st.sampled_from(["stop", "length"])),
                error_code=draw(st.none() | st.sampled_from(["error.unknown", "error.rate_limit"])),
                prompt_tokens=draw(_int),
                completion_tokens=draw(_int),
                time_to_first_token=draw(_float),
                total_time=draw(_float),
                queue_time=draw(_float),
                tokens_per_second=draw(_float),
            )
        )
    created = draw(_when)
    return ConversationRecord(
        id=ids[0],
        title=draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)),
        provider=draw(st.sampled_from(["groq", "local", "chatgpt", ""])),
        model=draw(_text),
        created_at=created,
        updated_at=draw(_when),
        title_source=draw(st.sampled_from(["words", "model", "user"])),
        system_prompt=draw(st.none() | _text),
        params=draw(_params),
        pinned=draw(st.booleans()),
        archived=draw(st.booleans()),
        current_message_id=draw(st.none() | st.sampled_from(ids[1:])) if n else None,
        tags=draw(
            st.lists(
                st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=50),
                max_size=4,
                unique=True,
            )
        ),
        messages=messages,
    )


def canonical(document: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for c in document["conversations"]:
        c = dict(c, tags=sorted(c["tags"]))
        c["messages"] = sorted(c["messages"], key=lambda m: (m["created_at"], m["id"]))
        out.append(c)
    return sorted(out, key=lambda c: c["id"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=3, unique_by=lambda r: r.id))
def test_any_history_survives_export_and_import(originals: list[ConversationRecord]) -> None:
    # Message ids are unique across the whole database.
    all_ids = [m.id for r in originals for m in r.messages]
    if len(all_ids) != len(set(all_ids)):
        return
    document = json.loads(json_format.dumps(originals))
    with tempfile.TemporaryDirectory() as tmp:
        sessions = open_database(f"sqlite:///{tmp}/db.sqlite")[1]
        history = HistoryService(sessions)
        raw = json.dumps(document).encode()
        result = history.import_uploads([Upload("in.json", raw)])
        importable = [r for r in originals if r.messages or r.title]
        assert len(result.new) == len(importable)
        again = (
            json.loads(history.export([r.id for r in importable], "json").data) if importable else {"conversations": []}
        )
        expected = dict(document, conversations=[c for c in document["conversations"] if c["messages"] or c["title"]])
        assert canonical(again) == canonical(expected)
        before = dump(sessions)
        assert history.import_uploads([Upload("in.json", raw)]).new == []
        assert dump(sessions) == before
        sessions.kw["bind"].dispose()


# --------------------------------------------------------------------------- reading formats


@pytest.fixture
def record(sessions) -> ConversationRecord:  # type: ignore[no-untyped-def]
    rich, _ = rich_history(sessions)
    [r] = HistoryService(sessions).records([rich])
    return r


def test_markdown_and_text_show_the_current_branch(record: ConversationRecord) -> None:
    md = markdown.render(record)
    assert md.startswith("# Rich 数据 conversation")
    assert "Edited follow-up" in md and "First answer" in md and "Second ans" not in md
    assert "Thinking… 思考" in md and "*Tags: work, 数据库*" in md
    assert "1 more message(s) on other branches" in md
    assert "## Assistant (openai/gpt-oss-120b) — error" in md  # a reply that is not complete is marked
    txt = text.render(record)
    assert "Edited follow-up" in txt and "[error]" in txt and "Second ans" not in txt


def test_csv_has_one_row_per_message_and_no_formulas(record: ConversationRecord) -> None:
    rendered = csv_format.render([record])
    assert rendered.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(rendered.removeprefix("\ufeff"))))
    assert len(rows) == 5 and list(rows[0]) == list(csv_format.COLUMNS)
    by_content = {r["content"]: r for r in rows}
    assert by_content["First answer"]["prompt_tokens"] == "1234"
    assert by_content["First answer"]["on_current_branch"] == "True"
    assert by_content["Second ans"]["on_current_branch"] == "False"
    first_cells = [v for r in rows for v in r.values() if v]
    assert not [v for v in first_cells if v[0] in "=+-@"]  # a spreadsheet runs none of them


def test_html_is_self_contained_and_inert(record: ConversationRecord) -> None:
    page = html_format.render(record)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower().replace("&lt;script", "")
    assert "onerror=" not in page.replace("onerror=alert(1)&gt;", "")  # only as escaped text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "default-src 'none'" in page  # the browser may load and run nothing
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "Rich 数据 conversation" in page and "Thinking… 思考" in page


def test_export_shapes_for_one_or_several(sessions) -> None:  # type: ignore[no-untyped-def]
    rich, archived = rich_history(sessions)
    history = HistoryService(sessions)
    one = history.export([rich], "md")
    assert one.name == "Rich-数据-conversation.md" and one.mime == "text/markdown"
    several = history.export([rich, archived], "html")
    assert several.name.endswith("-html.zip")
    with zipfile.ZipFile(io.BytesIO(several.data)) as z:
        names = z.namelist()
        assert len(names) == 2 and all(n.endswith(".html") for n in names)
    assert history.export([rich, archived], "csv").name.endswith(".csv")
    assert exporting.planned_name(1, "Rich 数据 conversation", "txt") == history.export([rich], "txt").name


def test_everything_zip_holds_every_format(sessions) -> None:  # type: ignore[no-untyped-def]
    rich_history(sessions)
    archive = HistoryService(sessions).export_everything()
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        names = z.namelist()
        assert bundle.JSON_ENTRY in names and bundle.CSV_ENTRY in names
        for folder, ext in (("markdown", "md"), ("text", "txt"), ("html", "html")):
            assert len([n for n in names if n.startswith(f"{folder}/") and n.endswith(f".{ext}")]) == 3
        document = json.loads(z.read(bundle.JSON_ENTRY))
        assert len(document["conversations"]) == 3
        rows = list(csv.reader(io.StringIO(z.read(bundle.CSV_ENTRY).decode("utf-8-sig"))))
        assert len(rows) == 1 + 6


def test_everything_of_an_empty_history_is_still_valid(sessions) -> None:  # type: ignore[no-untyped-def]
    archive = HistoryService(sessions).export_everything()
    with zipfile.ZipFile(io.BytesIO(archive.data)) as z:
        assert json.loads(z.read(bundle.JSON_ENTRY))["conversations"] == []
        assert z.read(bundle.CSV_ENTRY).decode("utf-8-sig").startswith("conversation_id,")


def test_the_chat_pages_download_is_named_after_the_title_made_safe() -> None:
    info = page_info("abc", "Title: with/odd*chars", "sys")
    assert exporting.file_name(info, "md") == "Title-with-odd-chars.md"
