"""Other apps' exports: Claude, Open WebUI, LibreChat, LobeChat, chatbot-ui. Each from hand-made
fixtures in tests/fixtures/sources/ (written from the formats' documented structure; the
make_*.py beside them write them): every field read, every skip reason, detection, the
preview, and re-import through the writer changing nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.errors import ImportFailed
from chatbot.history import HistoryService
from chatbot.importing import FORMAT_KEYS, LEFT_OUT_KEYS, ImportReport, Upload, detect, read
from chatbot.importing.chatgpt import our_id
from chatbot.importing.sources import load_json
from chatbot.limits import MAX_MESSAGE_CHARS

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
CHATGPT = Path(__file__).parent / "fixtures" / "chatgpt"


def upload(name: str) -> Upload:
    return Upload(name, (FIXTURES / name).read_bytes())


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def history(sessions: sessionmaker[Session]) -> HistoryService:
    return HistoryService(sessions)


def items(report: ImportReport) -> list[tuple[str, str, int, str | None]]:
    return sorted((i.title, i.action, i.messages, i.reason) for i in report.items)


def branch(history: HistoryService, conversation_id: str) -> list[tuple[str, str]]:
    [record] = history.records([conversation_id])
    return [(m.role, m.content) for m in record.current_branch()]


def check_reimport(history: HistoryService, uploads: list[Upload]) -> None:
    before = {r.id: r for r in history.iter_records()}
    again = history.import_uploads(uploads)
    assert again.new == [] and again.updated == []
    assert {r.id: r for r in history.iter_records()} == before


# --------------------------------------------------------------------------- detection


DETECTED = {
    "claude-conversations.json": "claude",
    "claude-single.json": "claude",
    "open-webui-chats.json": "open-webui",
    "librechat-flat.json": "librechat",
    "librechat-tree.json": "librechat",
    "lobechat-config.json": "lobechat",
    "lobechat-database.json": "lobechat",
    "chatbot-ui-export.json": "chatbot-ui",
}


@pytest.mark.parametrize(("name", "expected"), sorted(DETECTED.items()))
def test_each_source_is_recognised_from_the_file(name: str, expected: str) -> None:
    assert detect(fixture(name)) == expected
    assert expected in FORMAT_KEYS


def test_no_file_is_recognised_by_two_sources() -> None:
    from chatbot.importing import OTHER_SOURCES, chatgpt, ours

    chatgpt_files = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(CHATGPT.glob("conversations*.json"))]
    values = [fixture(name) for name in DETECTED] + chatgpt_files + [fixture("chatgpt-citations.json")]
    for value in values:
        tests = [ours.is_ours(value), chatgpt.looks_like_chatgpt(value)]
        tests += [looks_like(value) for _, looks_like, _ in OTHER_SOURCES]
        assert sum(tests) == 1


def test_one_upload_of_every_source(history: HistoryService) -> None:
    names = sorted(DETECTED)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:  # a ZIP holding one loose export is read too
        z.write(FIXTURES / "librechat-tree.json", "Дерево.json")
    uploads = [upload(n) for n in names if n != "librechat-tree.json"]
    uploads += [
        Upload("librechat.zip", buffer.getvalue()),
        Upload("c.json", (CHATGPT / "conversations.json").read_bytes()),
    ]
    report = history.import_uploads(uploads)
    assert report.formats == ["chatgpt", "claude", "open-webui", "librechat", "lobechat", "chatbot-ui"]
    assert len(report.new) == 3 + 3 + 2 + 2 + 5 + 2
    again = history.import_uploads(uploads)
    assert again.new == [] and again.updated == []


def test_ours_and_chatgpt_are_never_read_as_another_source() -> None:
    chatgpt = json.loads((CHATGPT / "conversations.json").read_text(encoding="utf-8"))
    assert detect(chatgpt) == "chatgpt"
    assert detect(chatgpt[0]) == "chatgpt"
    assert detect({"schema": "groq-chat.export", "schema_version": 1, "conversations": []}) == "groq-chat"
    for value in ([], {}, [1, 2], {"foo": 1}, [{"foo": 1}], {"chat_messages": "x"}, [None]):
        assert detect(value) is None


def test_every_left_out_reason_has_a_key() -> None:
    from chatbot.i18n import catalogue

    for language in ("en", "zh-CN"):
        words = catalogue(language)
        assert all(f"{key}.other" in words for key in LEFT_OUT_KEYS.values())
        assert all(key in words for key in FORMAT_KEYS.values())
        assert "import.skip.no_messages" in words


# --------------------------------------------------------------------------- Claude

CLAUDE_BREAD = our_id("claude", "c1000000-0000-4000-8000-000000000001")
CLAUDE_LONG = our_id("claude", "c1000000-0000-4000-8000-000000000002")
CLAUDE_BRANCHES = our_id("claude", "c1000000-0000-4000-8000-00000000000b")


def test_claude_export(history: HistoryService) -> None:
    uploads = [upload("claude-conversations.json"), upload("claude-single.json")]
    preview = history.preview_import(uploads)
    assert history.records([CLAUDE_BREAD]) == []  # the preview wrote nothing
    report = history.import_uploads(uploads)
    assert items(preview) == items(report)
    assert report.formats == ["claude"]
    assert items(report) == [
        ("#5", "skip", 0, "import.skip.unreadable"),  # null in the list
        ("Branches via the API", "new", 6, None),
        ("Bread at home", "new", 4, None),
        ("Messages not a list", "skip", 0, "import.skip.unreadable"),
        ("No id", "skip", 0, "import.skip.unreadable"),
        ("No messages at all", "skip", 0, "import.skip.no_messages"),
        ("Only a picture", "skip", 0, "import.skip.no_text"),
        ("翻訳 مرحبا", "new", 2, None),
    ]
    # web_search call + result, a repl-only answer, an artifact edit; a null message and a
    # "system" sender; an empty message; an image-only message.
    assert report.left_out == {"tool": 4, "other": 2, "empty": 1, "non_text": 1}
    # loaf.jpg, scan.pdf (no extracted text), a token_budget and a voice_note block
    assert report.parts_dropped == 4
    assert report.cut == 1
    [long_item] = [i for i in report.items if i.conversation_id == CLAUDE_LONG]
    assert long_item.notes == (("import.note.cut", {"count": 1, "limit": MAX_MESSAGE_CHARS}),)

    [bread] = history.records([CLAUDE_BREAD])
    assert bread.provider == "claude" and bread.model == "" and bread.title_source == "model"
    assert bread.created_at.isoformat() == "2024-07-30T16:06:23.747046+00:00"
    assert bread.updated_at.isoformat() == "2024-07-30T16:20:00+00:00"
    question, answer, thanks, welcome = bread.current_branch()
    assert question.content == (
        "Here is my recipe, what went wrong?\n\nrecipe.txt\n\n```\n500 g flour\n300 g water\n2 g yeast\n```"
    )
    assert answer.content == (
        "Too little yeast for a short rise.\n\n**Proofing timer**\n\n"
        "```python\nfor hour in range(3):\n    print(hour)\n```"
    )
    assert answer.reasoning == "The dough is under-proofed."
    assert answer.provider == "claude" and answer.updated_at.isoformat() == "2024-07-30T16:06:31+00:00"
    assert (thanks.content, welcome.content) == ("Thanks!", "You are welcome.")  # old-style: text only
    assert thanks.parent_id == answer.id  # the null message between them is skipped over

    long_question, summary = history.records([CLAUDE_LONG])[0].current_branch()
    assert len(long_question.content) == MAX_MESSAGE_CHARS and long_question.content.startswith("この文章")
    assert summary.content == "要約：長い文章です。مرحبا بالعالم"

    [api] = history.records([CLAUDE_BRANCHES])
    assert api.model == "claude-3-5-sonnet-20241022" and api.pinned  # is_starred
    assert [(r, c) for r, c in branch(history, CLAUDE_BRANCHES)] == [
        ("user", "Name a colour"),
        ("assistant", "Blue."),
        ("user", "Another"),  # current_leaf_message_uuid's branch, not the newest
        ("assistant", "Green."),
    ]
    by_text = {m.content: m for m in api.messages}
    assert by_text["A warmer one"].parent_id == by_text["Blue."].id  # the other branch is kept
    assert by_text["Orange."].model == "claude-3-5-sonnet-20241022"
    assert by_text["Green."].status == "stopped"  # truncated
    check_reimport(history, uploads)


def test_claude_zip_and_wrapped_shapes(history: HistoryService) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.write(FIXTURES / "claude-conversations.json", "conversations.json")
        z.writestr("users.json", json.dumps([{"uuid": "u", "full_name": "A", "email_address": "a@example.com"}]))
        z.writestr("projects.json", "[]")
    report = history.import_uploads([Upload("data-2024-09-01-10-00-00-batch-0000.zip", buffer.getvalue())])
    assert len(report.new) == 2
    wrapped = {"conversations": [fixture("claude-single.json")]}
    assert read([Upload("x.json", json.dumps(wrapped).encode())]).records[0].id == CLAUDE_BRANCHES


def test_claude_repeated_conversation_is_taken_once_or_beside() -> None:
    single = fixture("claude-single.json")
    batch = read([Upload("x.json", json.dumps([single, single]).encode())])
    assert len(batch.records) == 1 and batch.duplicates == 1
    changed = json.loads(json.dumps(single))
    changed["chat_messages"][0]["content"][0]["text"] = "Name a colour, please"
    batch = read([Upload("x.json", json.dumps([single, changed]).encode())])
    assert len(batch.records) == 2 and batch.notes[batch.records[1].id] == [("import.note.same_id", {})]


def test_a_file_of_nothing_but_broken_claude_entries_reports_them() -> None:
    batch = read([Upload("x.json", b'[{"uuid": "x", "chat_messages": []}, null]')])
    assert [s.reason for s in batch.skipped] == ["import.skip.no_messages", "import.skip.unreadable"]
    with pytest.raises(ImportFailed):
        read([Upload("x.json", b"[null]")])
    assert load_json(b"[]") == []


# --------------------------------------------------------------------------- Open WebUI

OWUI_COMPARE = our_id("open-webui", "owui-chat-1")
OWUI_OTHER = our_id("open-webui", "owui-chat-2")


def test_open_webui_export(history: HistoryService) -> None:
    uploads = [upload("open-webui-chats.json")]
    preview = history.preview_import(uploads)
    report = history.import_uploads(uploads)
    assert items(preview) == items(report) and report.formats == ["open-webui"]
    assert items(report) == [
        ("#6", "skip", 0, "import.skip.unreadable"),
        ("Compare models", "new", 6, None),
        ("Empty chat", "skip", 0, "import.skip.no_messages"),
        ("Messages as a list", "skip", 0, "import.skip.unreadable"),
        ("No id", "skip", 0, "import.skip.unreadable"),
        ("Русский и 中文", "new", 3, None),
    ]
    # a <details type="tool_calls"> block and a "tool" message; the system message; the failed
    # answer; a message that is not an object
    assert report.left_out == {"tool": 2, "system": 1, "error": 1, "other": 1}
    assert report.parts_dropped == 1 and report.cut == 1

    [chat] = history.records([OWUI_COMPARE])
    assert (chat.title, chat.provider, chat.model) == ("Compare models", "open-webui", "llama3.1:8b")
    assert chat.pinned and not chat.archived and sorted(chat.tags) == ["cooking", "work"]
    assert chat.system_prompt == "Be brief." and chat.params == {"temperature": 0.4}
    assert chat.created_at.timestamp() == 1_725_000_000 and chat.updated_at.timestamp() == 1_725_000_030
    question, answer = chat.current_branch()  # currentId: the second model's answer
    assert question.content == "Which flour for bread?" and question.parent_id is None  # system left out
    assert answer.content == "Use **rye** for a denser loaf." and answer.model == "qwen2.5:7b"
    assert answer.reasoning == "The user wants a short answer.\nKeep it to one line."
    by_text = {m.content: m for m in chat.messages}
    llama = by_text["Bread flour, 12% protein."]
    assert llama.parent_id == question.id and llama.model == "llama3.1:8b"  # the sibling answer
    assert by_text["Tipo 00"].status == "stopped"  # done: false
    assert by_text["Which flour for cake?"].parent_id is None  # the edited question: a sibling root
    assert by_text["And for pizza?"].created_at.timestamp() == 1_725_000_010

    [other] = history.records([OWUI_OTHER])
    assert other.archived and other.model == "gemma2:9b"
    assert branch(history, OWUI_OTHER)[1] == ("assistant", "Привет, мир")
    orphan = next(m for m in other.messages if m.content.startswith("An orphan"))
    assert orphan.parent_id is None and orphan.created_at == other.created_at
    check_reimport(history, uploads)


def test_open_webui_single_chat_and_oldest_list_shape() -> None:
    [chat] = [c for c in fixture("open-webui-chats.json") if c and c.get("id") == "owui-chat-2"]
    assert detect(chat) == "open-webui"
    assert read([Upload("chat.json", json.dumps(chat).encode())]).records[0].id == OWUI_OTHER
    old = {
        "id": "old-1",
        "title": "Old shape",
        "chat": {"messages": [{"id": "x", "role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
    }
    [record] = read([Upload("chat.json", json.dumps(old).encode())]).records
    assert [m.content for m in record.current_branch()] == ["hi", "hello"]


# --------------------------------------------------------------------------- LibreChat

LC_FLAT = our_id("librechat", "lc-conv-0001")
LC_TREE = our_id("librechat", "lc-conv-0002")


def test_librechat_flat_export(history: HistoryService) -> None:
    uploads = [upload("librechat-flat.json")]
    preview = history.preview_import(uploads)
    report = history.import_uploads(uploads)
    assert items(preview) == items(report) and report.formats == ["librechat"]
    assert items(report) == [("Tea in Kyoto 京都", "new", 9, None)]
    # a tool_call part beside the text, a tool-call-only answer; a string entry, the error
    # reply, a blank answer
    assert report.left_out == {"tool": 2, "other": 1, "error": 1, "empty": 1}
    assert report.parts_dropped == 2  # the question's image, the answer's image_file part
    assert report.cut == 1  # the Thai message

    [chat] = history.records([LC_FLAT])
    assert (chat.provider, chat.model, chat.system_prompt) == ("librechat", "gpt-4o", "Answer as a tea master.")
    assert chat.params == {"temperature": 0.7}
    assert chat.created_at.isoformat() == "2025-03-01T09:59:00+00:00"  # the first message's
    current = chat.current_branch()
    # LibreChat shows each message's newest reply: the regenerated answer, then on.
    assert [m.content[:26] for m in current] == [
        "Where to drink tea in Kyot",
        "Uji is close by.",
        "How far is Uji?",
        "About 20 minutes by train.",
        "ข้อความยาวมาก ข้อความยาวมา",
    ]
    question, regenerated, follow_up, unfinished, long = current
    assert regenerated.model == "gpt-4o-mini" and regenerated.provider == "librechat"
    assert unfinished.status == "stopped"
    # no createdAt: the parent's time, a moment later
    assert follow_up.created_at > regenerated.created_at and follow_up.created_at.year == 2025
    assert len(long.content) == MAX_MESSAGE_CHARS
    by_text = {m.content: m for m in chat.messages}
    assert by_text["Try Ippodo."].parent_id == question.id and by_text["Try Ippodo."].model == "gpt-4o"
    coffee = by_text["Weekenders Coffee."]  # an agent's content parts: text, thinking
    assert coffee.reasoning == "They want coffee, not tea." and coffee.model == "claude-3-7-sonnet"
    assert by_text["Where to drink coffee in Kyoto?"].parent_id is None  # the edit: a sibling root
    assert by_text["No id, still read"].parent_id == question.id
    check_reimport(history, uploads)


def test_librechat_tree_export(history: HistoryService) -> None:
    report = history.import_uploads([upload("librechat-tree.json")])
    assert items(report) == [("Дерево", "new", 4, None)]
    assert report.left_out == {"other": 1}  # a null child
    [chat] = history.records([LC_TREE])
    assert chat.model == "claude-3-5-haiku" and chat.params == {}  # temperature 5 is not one
    assert branch(history, LC_TREE) == [("user", "Привет"), ("assistant", "Добрый день!")]  # the newest reply
    by_text = {m.content: m for m in chat.messages}
    assert by_text["Как дела?"].parent_id == by_text["Здравствуйте!"].id  # parent from the tree
    tree = fixture("librechat-tree.json")
    tree["messagesTree"] = tree.pop("messages")  # the other versions' key
    assert read([Upload("x.json", json.dumps(tree).encode())]).records[0].id == LC_TREE


def test_librechat_structure_is_strict() -> None:
    with pytest.raises(ImportFailed) as failed:
        read([Upload("x.json", json.dumps({"conversationId": "x", "messages": {"a": 1}}).encode())])
    assert failed.value.key == "import.unknown_format"
    batch = read([Upload("x.json", json.dumps({"conversationId": "", "title": "T", "messages": []}).encode())])
    assert [(s.title, s.reason) for s in batch.skipped] == [("T", "import.skip.unreadable")]
    batch = read([Upload("x.json", json.dumps({"conversationId": "c", "title": "E", "messages": []}).encode())])
    assert [(s.title, s.reason) for s in batch.skipped] == [("E", "import.skip.no_messages")]


# --------------------------------------------------------------------------- LobeChat

LOBE_SOUP = our_id("lobechat", "topic:t1")
LOBE_CHEF = our_id("lobechat", "session:s1")
LOBE_INBOX = our_id("lobechat", "session:inbox")
LOBE_JAPANESE = our_id("lobechat", "topic:tpc_1")


def test_lobechat_config_export(history: HistoryService) -> None:
    uploads = [upload("lobechat-config.json")]
    preview = history.preview_import(uploads)
    report = history.import_uploads(uploads)
    assert items(preview) == items(report) and report.formats == ["lobechat"]
    assert items(report) == [
        ("", "new", 2, None),  # the inbox's messages outside any topic
        ("Chef 厨师", "new", 2, None),  # the assistant's default topic: titled as the assistant
        ("Empty topic", "skip", 0, "import.skip.no_messages"),
        ("Only a system message", "skip", 0, "import.skip.no_text"),
        ("Soup ideas", "new", 5, None),
    ]
    # an answer that only calls a tool, its tool result, a function message; a number in the
    # list; the failed answer ("..." with an error); the system message
    assert report.left_out == {"tool": 3, "other": 1, "error": 1, "system": 1}
    assert report.parts_dropped == 1 and report.cut == 1

    [soup] = history.records([LOBE_SOUP])
    assert (soup.provider, soup.model, soup.system_prompt) == ("lobechat", "gpt-4o-mini", "You are a chef.")
    assert soup.params == {"temperature": 0.3} and soup.pinned  # a favourite topic
    assert soup.tags == ["Chef 厨师", "Hobbies", "food"]  # the assistant, its group, its tags
    assert soup.created_at.timestamp() == 1_730_000_001 and soup.updated_at.timestamp() == 1_730_000_009
    assert [m.content for m in soup.current_branch()] == [
        "A winter soup?",
        "Borscht.",
        "Without beets?",
        "Minestrone.",  # the newest answer; the failed one and the tool call are left out
        "Photo of mine:",
    ]
    borscht = soup.current_branch()[1]
    assert borscht.model == "gpt-4o-mini" and borscht.reasoning == "Cold weather, beets."
    assert soup.current_branch()[3].model == "claude-3-haiku"

    [chef] = history.records([LOBE_CHEF])
    assert chef.title == "Chef 厨师" and chef.current_branch()[1].model == "gpt-3.5-turbo"  # top-level fromModel
    [inbox] = history.records([LOBE_INBOX])
    assert [m.content[:6] for m in inbox.current_branch()] == ["نص طوي", "نعم"]
    check_reimport(history, uploads)


def test_lobechat_database_export(history: HistoryService) -> None:
    report = history.import_uploads([upload("lobechat-database.json")])
    assert items(report) == [("", "new", 1, None), ("日本語", "new", 2, None)]
    [japanese] = history.records([LOBE_JAPANESE])
    assert japanese.model == "qwen-max" and japanese.system_prompt == "Translate."  # from the agent
    assert japanese.params == {"temperature": 1.2} and japanese.tags == ["翻译官"]
    question, answer = japanese.current_branch()
    assert (
        question.content == "「こんにちは」を英語に" and question.created_at.isoformat() == "2025-01-05T08:00:01+00:00"
    )
    assert (answer.content, answer.model, answer.reasoning) == ("Hello", "qwen-max", "A greeting.")
    check_reimport(history, [upload("lobechat-database.json")])


def test_lobechat_exports_without_conversations() -> None:
    settings = {"exportType": "settings", "state": {"settings": {}}, "version": 7}
    with pytest.raises(ImportFailed) as failed:
        read([Upload("x.json", json.dumps(settings).encode())])
    assert failed.value.key == "import.empty"
    damaged = {"exportType": "sessions", "state": {"messages": {"m": 1}}, "version": 7}
    assert [s.reason for s in read([Upload("x.json", json.dumps(damaged).encode())]).skipped] == [
        "import.skip.unreadable"
    ]
    assert detect({"data": {"messages": []}}) is None  # no schemaHash or mode: not LobeChat's


# --------------------------------------------------------------------------- chatbot-ui

CUI_REGEX = our_id("chatbot-ui", "cui-1")
CUI_LONG = our_id("chatbot-ui", "cui-2")


def test_chatbot_ui_export(history: HistoryService) -> None:
    uploads = [upload("chatbot-ui-export.json")]
    preview = history.preview_import(uploads)
    report = history.import_uploads(uploads)
    assert items(preview) == items(report) and report.formats == ["chatbot-ui"]
    assert items(report) == [
        ("#6", "skip", 0, "import.skip.unreadable"),  # a string in the list
        ("Broken messages", "skip", 0, "import.skip.unreadable"),
        ("New Conversation", "skip", 0, "import.skip.no_messages"),
        ("No id", "skip", 0, "import.skip.unreadable"),
        ("Odd roles", "skip", 0, "import.skip.no_text"),
        ("Regex help", "new", 4, None),
        ("긴 메시지", "new", 2, None),
    ]
    assert report.left_out == {"other": 2, "empty": 1, "system": 1} and report.cut == 1

    [regex] = history.records([CUI_REGEX])
    assert (regex.provider, regex.model, regex.tags) == ("chatbot-ui", "gpt-4", ["Work stuff"])  # folder as tag
    assert regex.system_prompt == "You are a regex expert." and regex.params == {"temperature": 0.2}
    assert [m.content for m in regex.current_branch()] == [
        "Match an email address",
        "Try `[^@\\s]+@[^@\\s]+`.",
        "Explain it",  # the empty message between is left out, the thread goes on
        "One or more non-@ characters, an @, then more.",
    ]
    times = [m.created_at for m in regex.current_branch()]
    assert times == sorted(times) and len(set(times)) == 4  # no times in the file: in order
    [long] = history.records([CUI_LONG])
    assert long.created_at > regex.created_at  # the file's order
    assert len(long.current_branch()[0].content) == MAX_MESSAGE_CHARS
    assert long.current_branch()[1].model == "gpt-3.5-turbo"
    check_reimport(history, uploads)


def test_chatbot_ui_later_export_adds_only_new_messages(history: HistoryService) -> None:
    history.import_uploads([upload("chatbot-ui-export.json")])
    later = fixture("chatbot-ui-export.json")
    later["history"][0]["messages"].append({"role": "user", "content": "Thanks"})
    report = history.import_uploads([Upload("chatbot_ui_export.json", json.dumps(later).encode())])
    assert [(i.title, i.action, i.messages) for i in report.updated] == [("Regex help", "update", 1)]
    [regex] = history.records([CUI_REGEX])
    by_text = {m.content: m for m in regex.messages}
    assert by_text["Thanks"].parent_id == by_text["One or more non-@ characters, an @, then more."].id


def test_chatbot_ui_first_version_is_a_bare_list() -> None:
    v1 = [{"id": "1", "name": "Old", "messages": [{"role": "user", "content": "hi"}]}]
    assert detect(v1) == "chatbot-ui"
    [record] = read([Upload("x.json", json.dumps(v1).encode())]).records
    assert record.id == our_id("chatbot-ui", "1") and record.title == "Old"
    assert detect([{"name": "x", "messages": [], "chat_messages": []}]) == "claude"
