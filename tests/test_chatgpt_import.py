"""ChatGPT's export, from hand-written files in both shapes: the single conversations.json and
the split conversations-000.json … export (as files or inside the export ZIP). Branches, null
messages, hidden and system nodes, tool calls and non-text parts."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.history import HistoryService
from chatbot.importing import ImportReport, Upload
from chatbot.importing.chatgpt import our_id

FIXTURES = Path(__file__).parent / "fixtures" / "chatgpt"
LISBON = "6790a1b2-0000-4000-8000-00000000aaaa"
PICTURE = "6790a1b2-0000-4000-8000-00000000bbbb"
CHINESE = "6790a1b2-0000-4000-8000-00000000dddd"


def upload(name: str) -> Upload:
    return Upload(name, (FIXTURES / name).read_bytes())


def export_zip(*names: str, extra: dict[str, bytes] | None = None) -> Upload:
    """A ChatGPT export ZIP: the conversation files beside what else it holds."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names:
            z.write(FIXTURES / name, name)
        z.write(FIXTURES / "user.json", "user.json")
        z.writestr("chat.html", "<html>…</html>")
        z.writestr("file-abc-cat.png", b"\x89PNG fake image bytes")
        z.writestr("shared_conversations.json", "[]")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return Upload("chatgpt-export.zip", buffer.getvalue())


@pytest.fixture
def history(sessions: sessionmaker[Session]) -> HistoryService:
    return HistoryService(sessions)


def check_fixture_result(history: HistoryService, report: ImportReport) -> None:
    """What the fixture files hold, imported: the same whichever shape they came in."""
    assert report.formats == ["chatgpt"]
    assert sorted((i.title, i.action, i.messages) for i in report.items) == [
        ("Empty custom GPT", "skip", 0),
        ("Trip to Lisbon", "new", 6),
        ("What is in this picture?", "new", 3),
        ("学习数据库", "new", 2),
    ]
    [skipped] = report.skipped
    assert skipped.reason == "import.skip.no_text"
    # Left out, and counted: system prompts, hidden context, a browsing call and its result,
    # a "thoughts" node and an assistant message that was only an image.
    assert report.left_out == {"system": 2, "hidden": 1, "tool": 2, "non_text": 2}
    assert report.parts_dropped == 1  # the image beside "What is in this picture?"

    [lisbon] = history.records([our_id("chatgpt", LISBON)])
    assert lisbon.title == "Trip to Lisbon" and lisbon.provider == "chatgpt" and lisbon.model == "gpt-4o"
    assert [m.content for m in lisbon.current_branch()] == [
        "Plan three days in Lisbon",
        "Day 1: Alfama. Day 2: Belém. Day 3: Sintra.",
        "Make it two days instead",  # current_node's branch: the edited question ...
        "Day 1: Alfama and Baixa. Day 2: Belém.",  # ... across a node whose message is null
    ]
    by_text = {m.content: m for m in lisbon.messages}
    # The other branch is kept too, its tool call and result skipped over.
    cheaper = by_text["Make it cheaper"]
    assert by_text["Go on Sunday mornings: many museums are free."].parent_id == cheaper.id
    assert cheaper.parent_id == by_text["Day 1: Alfama. Day 2: Belém. Day 3: Sintra."].id
    assert by_text["Plan three days in Lisbon"].parent_id is None  # hidden system/context nodes skipped
    assert by_text["Day 1: Alfama and Baixa. Day 2: Belém."].model == "gpt-4o-mini"
    assert by_text["Plan three days in Lisbon"].created_at.timestamp() == 1735689610.0

    [picture] = history.records([our_id("chatgpt", PICTURE)])
    assert [m.content for m in picture.current_branch()] == [
        "What is in this picture?",
        "A cat sleeping on a keyboard.",
        "Draw it bigger",
    ]  # current_node (an image-only reply) falls back to its nearest kept ancestor
    [chinese] = history.records([our_id("chatgpt", CHINESE)])
    first = chinese.current_branch()[0]
    assert (
        first.content == "怎样学习数据库的索引？" and first.created_at == chinese.created_at
    )  # no time: the conversation's


def test_single_conversations_json(history: HistoryService) -> None:
    preview = history.preview_import([upload("conversations.json")])
    assert history.records([our_id("chatgpt", LISBON)]) == []  # the preview wrote nothing
    result = history.import_uploads([upload("conversations.json")])
    assert [(i.title, i.action, i.messages) for i in preview.items] == [
        (i.title, i.action, i.messages) for i in result.items
    ]
    check_fixture_result(history, result)


def test_split_export_as_several_files(history: HistoryService) -> None:
    result = history.import_uploads([upload("conversations-000.json"), upload("conversations-001.json")])
    check_fixture_result(history, result)  # Lisbon, present in both files, is imported once


def test_split_export_inside_the_zip(history: HistoryService) -> None:
    result = history.import_uploads([export_zip("conversations-000.json", "conversations-001.json")])
    check_fixture_result(history, result)


def test_single_file_inside_a_zip_folder(history: HistoryService) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.write(FIXTURES / "conversations.json", "export-2025-01-01/conversations.json")
    check_fixture_result(history, history.import_uploads([Upload("export.zip", buffer.getvalue())]))


def test_reimport_changes_nothing(history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    history.import_uploads([upload("conversations.json")])
    before = {r.id: r for r in history.iter_records()}
    again = history.import_uploads([export_zip("conversations-000.json", "conversations-001.json")])
    assert again.new == [] and again.updated == []
    assert sorted(i.reason for i in again.skipped) == [
        "import.skip.exists",
        "import.skip.exists",
        "import.skip.exists",
        "import.skip.no_text",
    ]
    assert {r.id: r for r in history.iter_records()} == before


def test_imported_conversations_are_searchable_and_open(history: HistoryService) -> None:
    history.import_uploads([upload("conversations.json")])
    [hit] = history.search("数据库")
    assert hit.conversation_id == our_id("chatgpt", CHINESE)
    [lisbon] = history.search("sunday mornings")
    message = lisbon.messages[0].message_id
    assert message and history.open_at(lisbon.conversation_id, message)  # the other branch opens
    [record] = history.records([lisbon.conversation_id])
    assert record.current_branch()[-1].content == "Go on Sunday mornings: many museums are free."


def test_a_conversation_without_a_readable_tree_is_skipped_not_fatal(history: HistoryService) -> None:
    data = json.loads((FIXTURES / "conversations.json").read_text(encoding="utf-8"))
    data.append({"title": "Broken one", "mapping": {"x": "not a node"}, "id": "broken"})
    data.append({"title": "No mapping", "id": "nomap", "mapping": None})
    result = history.import_uploads([Upload("conversations.json", json.dumps(data).encode())])
    reasons = {i.title: i.reason for i in result.skipped}
    assert reasons["Broken one"] == "import.skip.no_text"
    assert len(result.new) == 3


def test_a_loop_in_the_parent_links_does_not_hang(history: HistoryService) -> None:
    looped = {
        "title": "Loop",
        "id": "loop",
        "current_node": "a",
        "create_time": 1.7e9,
        "update_time": 1.7e9,
        "mapping": {
            "a": {
                "id": "a",
                "parent": "b",
                "children": ["b"],
                "message": {
                    "id": "a",
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["one"]},
                    "create_time": 1.7e9,
                    "metadata": {},
                    "recipient": "all",
                },
            },
            "b": {
                "id": "b",
                "parent": "a",
                "children": ["a"],
                "message": {
                    "id": "b",
                    "author": {"role": "assistant"},
                    "content": {"content_type": "text", "parts": ["two"]},
                    "create_time": 1.7e9 + 1,
                    "metadata": {},
                    "recipient": "all",
                },
            },
        },
    }
    result = history.import_uploads([Upload("conversations.json", json.dumps([looped]).encode())])
    [item] = result.new
    [record] = history.records([item.conversation_id])
    assert sorted(m.content for m in record.messages) == ["one", "two"]
    assert record.current_branch()  # it ends
