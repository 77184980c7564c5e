"""Large and awkward imports: a huge message is cut (and said), a file is parsed once however
often the page asks, other users' saves go on while an import writes, an interrupted import
leaves nothing half-shown and importing again completes it, a repeated ChatGPT id is reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot.errors import ImportFailed
from chatbot.history import HistoryService
from chatbot.i18n import t
from chatbot.importing import Upload, chatgpt
from chatbot.importing.cache import PARSED
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.providers.base import ModelInfo
from chatbot.settings import AppSettings
from chatbot.store.db import open_database
from chatbot.store.models import Conversation, Message
from chatbot.turns import Turns
from tests import big_exports
from tests.test_export_import import dump

ROOT = Path(__file__).resolve().parent.parent
MODEL = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=65536)
DEADLINE = 120.0  # seconds: generous, for a loaded machine; never a measured time


@pytest.fixture
def history(sessions: sessionmaker[Session]) -> HistoryService:
    PARSED.clear()
    return HistoryService(sessions)


def _ours(conversation: dict[str, Any]) -> bytes:
    return json.dumps({"schema": "groq-chat.export", "schema_version": 1, "conversations": [conversation]}).encode()


def _message(mid: str, content: str, parent: str | None = None) -> dict[str, Any]:
    return {"id": mid, "parent_id": parent, "role": "user", "content": content, "created_at": "2025-01-01T00:00:00Z"}


def test_a_huge_message_is_cut_to_the_typing_limit_and_the_report_says_so(history: HistoryService) -> None:
    huge = "长" * (5 * MAX_MESSAGE_CHARS)
    exact = "x" * MAX_MESSAGE_CHARS
    data = _ours(
        {
            "id": "big",
            "title": "Big",
            "created_at": "2025-01-01T00:00:00Z",
            "messages": [
                _message("m1", huge),
                dict(_message("m2", exact, "m1"), role="assistant", reasoning="r" * (MAX_MESSAGE_CHARS + 1)),
                _message("m3", "short", "m2"),
            ],
        }
    )
    preview = history.preview_import([Upload("big.json", data)])
    assert preview.cut == 2
    [item] = preview.items
    assert item.notes == (("import.note.cut", {"count": 2, "limit": MAX_MESSAGE_CHARS}),)
    result = history.import_uploads([Upload("big.json", data)])
    assert result.cut == 2 and result.message_count == 3
    [record] = history.records(["big"])
    by_id = {m.id: m for m in record.messages}
    assert by_id["m1"].content == huge[:MAX_MESSAGE_CHARS]
    assert by_id["m2"].content == exact  # at the limit: whole
    assert by_id["m2"].reasoning == "r" * MAX_MESSAGE_CHARS
    assert by_id["m3"].content == "short"


def test_a_huge_chatgpt_message_is_cut_too(history: HistoryService) -> None:
    raw = big_exports.chatgpt_conversation("huge-1", "Huge", ["q", "a" * (MAX_MESSAGE_CHARS + 10)])
    result = history.import_uploads([Upload("conversations.json", json.dumps([raw]).encode())])
    assert result.cut == 1
    [record] = history.records([chatgpt.our_id("chatgpt", "huge-1")])
    assert sorted(len(m.content) for m in record.messages) == [1, MAX_MESSAGE_CHARS]


def test_an_upload_is_parsed_once_for_the_preview_and_the_import(history: HistoryService) -> None:
    data = big_exports.ours(3, 4)
    before = PARSED.parses
    for _ in range(3):  # the History page reruns while the file sits in the uploader
        assert len(history.preview_import([Upload("a.json", data)]).new) == 3
    assert PARSED.parses == before + 1
    assert len(history.import_uploads([Upload("a.json", data)]).new) == 3
    assert PARSED.parses == before + 1  # the import used the parsed batch too
    # Other bytes, or another owner: parsed on their own.
    history.preview_import([Upload("a.json", big_exports.ours(2, 4, prefix="d"))])
    HistoryService(history._sessions, owner="other").preview_import([Upload("a.json", data)])
    assert PARSED.parses == before + 3
    # A refused file is refused again without parsing again, with the same sentence.
    for _ in range(2):
        with pytest.raises(ImportFailed) as refused:
            history.preview_import([Upload("bad.json", b'{"schema": "groq-chat.export", "schema_version": 1')])
        assert refused.value.key == "import.truncated"
    assert PARSED.parses == before + 4


def test_the_parse_cache_is_bounded() -> None:
    from chatbot.importing.cache import ParsedUploads
    from chatbot.importing.sources import Limits

    cache = ParsedUploads(max_entries=2, max_bytes=10_000)
    uploads = [[Upload("x.json", bytes([65 + i]) * 4000)] for i in range(4)]
    for upload in uploads:
        cache.get("", upload, Limits(), lambda: None)  # type: ignore[arg-type,return-value]
    assert cache.parses == 4 and len(cache._entries) == 2
    cache.get("", uploads[-1], Limits(), lambda: None)  # type: ignore[arg-type,return-value]
    assert cache.parses == 4
    big = [Upload("y.json", b"z" * 50_000)]  # over the byte bound alone: still kept, alone
    cache.get("", big, Limits(), lambda: None)  # type: ignore[arg-type,return-value]
    assert len(cache._entries) == 1
    cache.get("", big, Limits(), lambda: None)  # type: ignore[arg-type,return-value]
    assert cache.parses == 5


def test_a_repeated_chatgpt_id_is_reported_and_a_differing_copy_kept(history: HistoryService) -> None:
    first = big_exports.chatgpt_conversation("same-id", "Mine", ["hello", "hi"])
    identical = big_exports.chatgpt_conversation("same-id", "Mine", ["hello", "hi"])
    other = big_exports.chatgpt_conversation("same-id", "Other", ["something else", "ok"])
    upload = Upload("conversations.json", json.dumps([first, identical, other]).encode())
    preview = history.preview_import([upload])
    assert preview.duplicates == 1  # the identical copy: taken once, and said
    assert [(i.title, i.action) for i in preview.items] == [("Mine", "new"), ("Other", "new")]
    assert preview.items[0].notes == ()
    assert preview.items[1].notes == (("import.note.same_id", {}),)
    result = history.import_uploads([upload])
    assert len(result.new) == 2 and result.duplicates == 1
    titles = sorted(r.title for r in history.iter_records())
    assert titles == ["Mine", "Other"]  # nothing dropped
    again = history.import_uploads([upload])
    assert again.new == [] and again.updated == []  # the copy's id is the same every time


def _visible_state(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """What a user can see, and a check that it is whole: every parent of a shown message exists."""
    with sessions() as s:
        convs = s.scalars(select(Conversation).where(Conversation.deleted_at.is_(None))).all()
        ids = [c.id for c in convs]
        messages = s.execute(select(Message.id, Message.parent_id, Message.conversation_id)).all()
    shown = [m for m in messages if m.conversation_id in ids]
    known = {m.id for m in shown}
    assert all(m.parent_id is None or m.parent_id in known for m in shown)
    return {"conversations": len(ids), "messages": len(shown)}


class Interrupted(Exception):
    """What Streamlit raises inside a script that is stopped (a rerun, a closed tab)."""


def test_an_import_stopped_midway_leaves_nothing_and_importing_again_completes_it(
    history: HistoryService, sessions: sessionmaker[Session], db_url: str
) -> None:
    # One conversation exists already with half its messages: the import adds the rest.
    half = json.loads(big_exports.ours(1, 30))
    first = half["conversations"][0]
    first["messages"] = first["messages"][:15]
    first["current_message_id"] = first["messages"][-1]["id"]
    history.import_uploads([Upload("half.json", json.dumps(half).encode())])
    full = big_exports.ours(40, 30)  # 1,200 messages: several short transactions
    before = dump(sessions)
    seen: list[tuple[int, int]] = []

    def stop_after_two(written: int, total: int) -> None:
        seen.append((written, total))
        if len(seen) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        history.import_uploads([Upload("full.json", full)], progress=stop_after_two)
    assert seen[0][0] < seen[1][0] < seen[1][1] == 40 * 30 - 15  # it had written, and was not done
    assert dump(sessions) == before  # nothing half-imported, nothing of the existing one changed
    result = history.import_uploads([Upload("full.json", full)])
    assert len(result.new) == 39 and len(result.updated) == 1 and result.message_count == 40 * 30 - 15
    assert _visible_state(sessions) == {"conversations": 40, "messages": 1200}
    again = history.import_uploads([Upload("full.json", full)])
    assert again.new == [] and again.updated == [] and len(again.skipped) == 40


_KILLED_IMPORT = """
import sys
from chatbot.history import HistoryService
from chatbot.i18n import t
from chatbot.importing import Upload
from chatbot.store.db import open_database
from tests import big_exports

engine, sessions = open_database(sys.argv[1])

def progress(written, total):
    print(written, total, flush=True)
    if written >= total // 3:
        sys.stdin.readline()  # wait here to be killed

HistoryService(sessions).import_uploads([Upload("full.json", big_exports.ours(40, 30))], progress=progress)
print("finished", flush=True)
"""


@pytest.mark.sqlite_only
def test_an_import_killed_midway_shows_nothing_half_written_and_importing_again_completes_it(
    history: HistoryService, sessions: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_IMPORT, db_url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + DEADLINE
        written = 0
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, "the import process ended early"
            written, total = map(int, line.split())
            if written >= total // 3:
                break
        assert written > 0
        child.send_signal(signal.SIGKILL)  # no clean-up runs: a crash, a killed server
        child.wait(DEADLINE)
    finally:
        if child.poll() is None:
            child.kill()
    assert _visible_state(sessions) == {"conversations": 0, "messages": 0}  # written, but hidden
    with sessions() as s:
        assert s.scalar(select(Message.id).limit(1)) is not None
    assert history.count() == 0
    result = history.import_uploads([Upload("full.json", big_exports.ours(40, 30))])
    assert len(result.new) == 40
    assert _visible_state(sessions) == {"conversations": 40, "messages": 1200}
    # The same as an import that was never interrupted.
    engine, clean = open_database(f"sqlite:///{tmp_path / 'clean.db'}")
    try:
        HistoryService(clean).import_uploads([Upload("full.json", big_exports.ours(40, 30))])
        assert dump(clean) == dump(sessions)
    finally:
        engine.dispose()


@pytest.mark.sqlite_only
def test_a_chat_save_during_a_large_import_succeeds(isolated_env: Path, db_url: str) -> None:
    # The import writes in short transactions, so chat saves get the lock between them. A save
    # that had to wait for the whole import (the old single transaction) could only finish once
    # it was all written; here saves must finish while it is partway, at several points. (Told
    # apart by what was written when each save returned, not by a time: a loaded machine makes
    # every transaction slow, and no busy timeout separates the two then.)
    engine, sessions = open_database(db_url)
    try:
        importer = HistoryService(sessions, owner="alice")
        chat = Turns(sessions, lambda name: None, owner="bob")  # type: ignore[arg-type,return-value]
        data = big_exports.ours(60, 200, chars=400)  # 12,000 messages, ~5 MB of text
        written = [0, 1]  # messages written so far, of how many (committed: reported after each commit)
        finished = threading.Event()
        failures: list[BaseException] = []

        def note(done: int, total: int) -> None:
            written[:] = [done, total]

        def run_import() -> None:
            try:
                importer.import_uploads([Upload("big.json", data)], progress=note)
            except BaseException as error:  # reported below
                failures.append(error)
            finally:
                finished.set()

        worker = threading.Thread(target=run_import)
        worker.start()
        saved = 0
        partway: set[int] = set()  # how much of the import was written when a save returned
        conversation_id = None
        while not finished.is_set():  # saving from the start: the import's writing begins unseen
            pending = chat.start_turn(conversation_id, f"saved while importing {saved}", MODEL, AppSettings())
            conversation_id = pending.conversation_id
            saved += 1
            done, total = written
            if 0 < done < total:
                partway.add(done)
            # Fifty saves a second, far above anyone's typing: back to back, they kept the lock
            # so busy that the import itself waited long on a loaded machine.
            finished.wait(0.02)
        worker.join(DEADLINE)
        assert failures == []
        assert len(partway) >= 2, f"chat saves finished only before or after the import: {sorted(partway)}"
        with sessions() as s:
            mine = s.scalars(select(Message.content).where(Message.conversation_id == conversation_id)).all()
        assert len(mine) == saved and f"saved while importing {saved - 1}" in mine
        assert HistoryService(sessions, owner="alice").count() == 60
    finally:
        engine.dispose()


def test_the_history_page_says_what_was_cut_and_repeated_and_parses_once(app, sessions) -> None:  # type: ignore[no-untyped-def]
    from tests.test_history_page import open_history

    PARSED.clear()
    huge = big_exports.chatgpt_conversation("huge-1", "Huge", ["q", "a" * (MAX_MESSAGE_CHARS + 10)])
    twice = big_exports.chatgpt_conversation("twice", "Twice", ["hello", "hi"])
    data = json.dumps([huge, twice, twice]).encode()
    open_history(app)
    app.file_uploader[0].set_value(("conversations.json", data, "application/json")).run()
    assert not app.exception, app.exception
    parses = PARSED.parses
    captions = [c.value for c in app.caption]
    assert t("import.cut", count=1, limit=MAX_MESSAGE_CHARS) in captions
    assert t("import.duplicates", count=1) in captions
    app.run()  # a rerun with the file still in the uploader
    assert PARSED.parses == parses
    app.button(key="import_run").click().run()
    assert not app.exception, app.exception
    assert PARSED.parses == parses  # the import used the parsed file too
    assert [s.value for s in app.success] == [
        t(
            "import.done",
            new=t("import.new_conversations", count=2),
            updated=t("import.conversations", count=0),
            messages=t("import.messages", count=4),
        )
    ]
    assert t("import.cut", count=1, limit=MAX_MESSAGE_CHARS) in [c.value for c in app.caption]
    [record] = HistoryService(sessions).records([chatgpt.our_id("chatgpt", "huge-1")])
    assert max(len(m.content) for m in record.messages) == MAX_MESSAGE_CHARS
