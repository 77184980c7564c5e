"""Files that must import nothing: each gets its own translated sentence, and the database is
exactly as before (nothing half-written)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.errors import ImportFailed
from chatbot.history import HistoryService
from chatbot.i18n import LANGUAGES, set_language, t
from chatbot.importing import Limits, Upload, writer
from chatbot.importing.sources import MB
from chatbot.store import repo
from tests.test_export_import import dump, rich_history

GOOD_MESSAGE = {
    "id": "m1",
    "parent_id": None,
    "role": "user",
    "content": "hello",
    "created_at": "2026-01-01T00:00:00+00:00",
    "updated_at": "2026-01-01T00:00:00+00:00",
}
GOOD_CONVERSATION = {
    "id": "c1",
    "title": "café",
    "provider": "groq",
    "model": "m",
    "created_at": "2026-01-01T00:00:00+00:00",
    "updated_at": "2026-01-01T00:00:00+00:00",
    "messages": [GOOD_MESSAGE],
}


def ours(*conversations: dict, version: object = 1, **extra: object) -> dict:
    return {
        "schema": "groq-chat.export",
        "schema_version": version,
        "exported_at": "2026-01-01T00:00:00+00:00",
        "conversations": list(conversations),
        **extra,
    }


def data(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in entries.items():
            z.writestr(name, content)
    return buffer.getvalue()


def with_message(**changes: object) -> bytes:
    return data(ours(dict(GOOD_CONVERSATION, messages=[dict(GOOD_MESSAGE, **changes)])))


def valid_export() -> bytes:
    return data(ours(GOOD_CONVERSATION))


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))

CASES: dict[str, tuple[Callable[[], list[Upload]], str]] = {
    "nothing chosen": (lambda: [], "import.no_file"),
    "an image": (lambda: [Upload("photo.json", PNG)], "import.not_json"),
    "plain text": (lambda: [Upload("notes.json", b"just some notes, not JSON")], "import.not_json"),
    "an HTML page": (lambda: [Upload("chat.json", b"<!DOCTYPE html><html></html>")], "import.not_json"),
    "empty": (lambda: [Upload("conversations.json", b"")], "import.empty_file"),
    "only spaces": (lambda: [Upload("conversations.json", b" \n\t ")], "import.empty_file"),
    "NaN": (lambda: [Upload("x.json", b'{"schema": "groq-chat.export", "schema_version": NaN}')], "import.not_json"),
    "an integer too long": (lambda: [Upload("x.json", b'{"a": ' + b"9" * 5000 + b"}")], "import.not_json"),
    "an unknown JSON object": (lambda: [Upload("x.json", data({"foo": 1}))], "import.unknown_format"),
    "a JSON list of numbers": (lambda: [Upload("x.json", data([1, 2, 3]))], "import.unknown_format"),
    "an empty list": (lambda: [Upload("x.json", b"[]")], "import.unknown_format"),
    "a good file and a bad one": (
        lambda: [Upload("a.json", valid_export()), Upload("b.json", b"[1]")],
        "import.unknown_format",
    ),
    "no conversations key": (
        lambda: [Upload("x.json", data({"schema": "groq-chat.export", "schema_version": 1}))],
        "import.damaged",
    ),
    "a newer format": (lambda: [Upload("x.json", data(ours(GOOD_CONVERSATION, version=99)))], "import.newer_version"),
    "a version that is text": (lambda: [Upload("x.json", data(ours(version="1")))], "import.damaged"),
    "no conversations at all": (lambda: [Upload("x.json", data(ours()))], "import.empty"),
    "an unknown role": (lambda: [Upload("x.json", with_message(role="wizard"))], "import.damaged"),
    "a bad date": (lambda: [Upload("x.json", with_message(created_at="yesterday"))], "import.damaged"),
    "a negative token count": (lambda: [Upload("x.json", with_message(prompt_tokens=-5))], "import.damaged"),
    "a boolean as a number": (lambda: [Upload("x.json", with_message(total_time=True))], "import.damaged"),
    "an id that is not an id": (lambda: [Upload("x.json", with_message(id="../../etc/passwd"))], "import.damaged"),
    "a parent that does not exist": (lambda: [Upload("x.json", with_message(parent_id="nope"))], "import.damaged"),
    "parents in a circle": (
        lambda: [
            Upload(
                "x.json",
                data(
                    ours(
                        dict(
                            GOOD_CONVERSATION,
                            messages=[
                                dict(GOOD_MESSAGE, id="a", parent_id="b"),
                                dict(GOOD_MESSAGE, id="b", parent_id="a"),
                            ],
                        )
                    )
                ),
            )
        ],
        "import.damaged",
    ),
    "a message id twice": (
        lambda: [Upload("x.json", data(ours(dict(GOOD_CONVERSATION, messages=[GOOD_MESSAGE, GOOD_MESSAGE]))))],
        "import.damaged",
    ),
    "a title too long": (
        lambda: [Upload("x.json", data(ours(dict(GOOD_CONVERSATION, title="x" * 301))))],
        "import.damaged",
    ),
    "params nested too deeply": (
        lambda: [Upload("x.json", with_message(params=json.loads('{"a":' * 30 + "1" + "}" * 30)))],
        "import.damaged",
    ),
    "cut off in the middle": (
        lambda: [Upload("x.json", valid_export()[: len(valid_export()) // 2])],
        "import.truncated",
    ),
    "cut off after a bracket": (lambda: [Upload("x.json", valid_export()[:-2])], "import.truncated"),
    "deeply nested lists": (lambda: [Upload("x.json", b"[" * 200_000 + b"]" * 200_000)], "import.too_deep"),
    "deeply nested objects": (
        lambda: [Upload("x.json", b'{"a":' * 100_000 + b"1" + b"}" * 100_000)],
        "import.too_deep",
    ),
    "Latin-1, not UTF-8": (
        lambda: [Upload("x.json", json.dumps(ours(GOOD_CONVERSATION), ensure_ascii=False).encode("latin-1"))],
        "import.encoding",
    ),
    "a lone surrogate": (
        lambda: [Upload("x.json", valid_export().replace(b"hello", b"\\ud800 hello"))],
        "import.encoding",
    ),
    "a damaged ZIP": (
        lambda: [Upload("export.zip", zipped({"conversations.json": valid_export()})[:60])],
        "import.bad_zip",
    ),
    "a ZIP without conversations": (
        lambda: [Upload("export.zip", zipped({"chat.html": b"<html>", "a.png": PNG}))],
        "import.zip_without_export",
    ),
    "a ZIP bomb": (
        lambda: [Upload("export.zip", zipped({"conversations.json": b"[" + b" " * (60 * MB) + b"]"}))],
        "import.zip_bomb",
    ),
}


@pytest.fixture
def history(sessions: sessionmaker[Session]) -> HistoryService:
    rich_history(sessions)  # something to leave untouched
    return HistoryService(sessions)


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_file_imports_nothing_and_says_why(case: str, history: HistoryService, sessions) -> None:  # type: ignore[no-untyped-def]
    make, key = CASES[case]
    uploads = make()
    before = dump(sessions)
    for attempt in (history.preview_import, history.import_uploads):
        with pytest.raises(ImportFailed) as failure:
            attempt(uploads)
        assert failure.value.key == key, case
    assert dump(sessions) == before
    for language in LANGUAGES:  # one sentence, translated, all placeholders filled
        set_language(language)
        sentence = t(failure.value.key, **failure.value.values)
        assert sentence != key and "{" not in sentence and sentence.count("\n") == 0
    set_language("en")


def test_the_damaged_field_is_named(history: HistoryService) -> None:
    with pytest.raises(ImportFailed) as failure:
        history.import_uploads([Upload("x.json", with_message(role="wizard"))])
    assert failure.value.values == {"where": "conversations[0].messages[0].role"}
    assert t("import.damaged", **failure.value.values) == (
        "The file is damaged: conversations[0].messages[0].role is missing or has an unexpected value."
    )


def test_size_limits_say_the_size_and_the_limit(sessions) -> None:  # type: ignore[no-untyped-def]
    small = HistoryService(sessions, limits=Limits(max_upload_bytes=1 * MB, max_json_bytes=1 * MB))
    big = data(ours(dict(GOOD_CONVERSATION, messages=[dict(GOOD_MESSAGE, content="x" * (2 * MB))])))
    with pytest.raises(ImportFailed) as upload_limit:
        small.import_uploads([Upload("big.json", big)])
    assert upload_limit.value.key == "import.too_large"
    assert upload_limit.value.values == {"size": "2", "limit": "1"}
    # Inside a ZIP the uncompressed size counts (it compresses to a few kB).
    with pytest.raises(ImportFailed) as entry_limit:
        small.import_uploads([Upload("big.zip", zipped({"groq-chat-export.json": big}))])
    assert entry_limit.value.key in ("import.too_large", "import.zip_bomb")
    many = Limits(max_files=2)
    with pytest.raises(ImportFailed) as files:
        HistoryService(sessions, limits=many).import_uploads([Upload(f"{i}.json", valid_export()) for i in range(3)])
    assert files.value.key == "import.too_many_files" and files.value.values == {"count": 3, "limit": 2}


def test_default_limits_are_generous_but_finite() -> None:
    limits = Limits()
    assert 50 * MB <= limits.max_json_bytes <= limits.max_total_bytes <= 500 * MB
    assert limits.max_upload_bytes <= 500 * MB


def test_other_encodings_with_a_byte_order_mark_are_fine(sessions) -> None:  # type: ignore[no-untyped-def]
    history = HistoryService(sessions)
    text = json.dumps(ours(GOOD_CONVERSATION), ensure_ascii=False)
    for encoded in (text.encode("utf-8-sig"), text.encode("utf-16"), text.encode("utf-32")):
        result = history.import_uploads([Upload("x.json", encoded)])
        assert [i.action for i in result.items] in (["new"], ["skip"])
    [record] = history.records(["c1"])
    assert record.title == "café"


def test_a_failure_while_writing_rolls_everything_back(
    history: HistoryService, sessions, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    second = dict(GOOD_CONVERSATION, id="c2", messages=[dict(GOOD_MESSAGE, id="m2")])
    calls = []
    original = writer._message_row

    def failing(conversation_id: str, message):  # type: ignore[no-untyped-def]
        calls.append(conversation_id)
        if conversation_id == "c2":
            raise RuntimeError("disk full")
        return original(conversation_id, message)

    monkeypatch.setattr(writer, "_message_row", failing)
    before = dump(sessions)
    with pytest.raises(RuntimeError):
        history.import_uploads([Upload("x.json", data(ours(GOOD_CONVERSATION, second)))])
    assert "c1" in calls  # the first conversation had been written ...
    assert dump(sessions) == before  # ... and is gone with the rest
    with sessions() as s:
        assert repo.get_conversation(s, "", "c1") is None
