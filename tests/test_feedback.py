"""Thumbs up / down on a reply: stored with the message, only by its owner, read back as the
chat page draws it, and carried by every export (JSON read back by our import, CSV, HTML)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.conversation import ConversationService
from chatbot.errors import ImportFailed, InvalidInput
from chatbot.history import HistoryService
from chatbot.importing import Upload
from chatbot.store import repo
from chatbot.store.db import open_database


def seed(sessions: sessionmaker[Session], owner: str = "") -> tuple[str, str, str]:
    with sessions.begin() as s:
        conv = repo.create_conversation(s, owner, "groq", "openai/gpt-oss-20b", title="Rated")
        question = repo.add_message(s, conv.id, role="user", content="A question?")
        reply = repo.add_message(s, conv.id, role="assistant", content="An answer.", parent_id=question.id)
        conv.current_message_id = reply.id
        return conv.id, question.id, reply.id


def shown(conversations: ConversationService, cid: str) -> list[int | None]:
    return [t.feedback for t in conversations.recent_messages(cid).turns]


def test_feedback_is_stored_changed_and_taken_back(sessions: sessionmaker[Session]) -> None:
    cid, _, reply = seed(sessions)
    conversations = ConversationService(sessions)
    assert shown(conversations, cid) == [None, None]
    conversations.set_feedback(cid, reply, 1)
    assert shown(ConversationService(sessions), cid) == [None, 1]  # a new service: read from the database
    conversations.set_feedback(cid, reply, -1)
    assert shown(conversations, cid) == [None, -1]
    conversations.set_feedback(cid, reply, None)
    assert shown(conversations, cid) == [None, None]


def test_only_a_reply_takes_feedback_and_only_up_or_down(sessions: sessionmaker[Session]) -> None:
    cid, question, reply = seed(sessions)
    conversations = ConversationService(sessions)
    conversations.set_feedback(cid, question, 1)  # a question is not rated
    for bad in (0, 2, 5):
        with pytest.raises(InvalidInput):
            conversations.set_feedback(cid, reply, bad)
    assert shown(conversations, cid) == [None, None]


def test_someone_else_cannot_rate_a_reply(sessions: sessionmaker[Session]) -> None:
    cid, _, reply = seed(sessions, owner="alice")
    bob = ConversationService(sessions, owner="bob")
    bob.set_feedback(cid, reply, -1)
    own, _, _ = seed(sessions, owner="bob")
    bob.set_feedback(own, reply, -1)  # her reply's id on his own conversation
    assert shown(ConversationService(sessions, owner="alice"), cid) == [None, None]


def test_feedback_is_exported_and_read_back(sessions: sessionmaker[Session], tmp_path: object) -> None:
    cid, _, reply = seed(sessions)
    ConversationService(sessions).set_feedback(cid, reply, -1)
    history = HistoryService(sessions)

    exported = json.loads(history.export([cid], "json").data)
    [conversation] = exported["conversations"]
    assert [m["feedback"] for m in conversation["messages"]] == [None, -1]

    rows = list(csv.DictReader(io.StringIO(history.export([cid], "csv").data.decode("utf-8-sig"))))
    assert [r["feedback"] for r in rows] == ["", "-1"]

    page = history.export([cid], "html").data.decode("utf-8")
    assert "Bad reply" in page and "Good reply" not in page

    engine, target = open_database("sqlite:///" + str(tmp_path) + "/imported.db")
    try:
        HistoryService(target).import_uploads([Upload("rated.json", history.export([cid], "json").data)])
        assert shown(ConversationService(target), cid) == [None, -1]
    finally:
        engine.dispose()


def test_an_import_refuses_a_feedback_that_is_not_up_or_down(sessions: sessionmaker[Session]) -> None:
    cid, _, _ = seed(sessions)
    history = HistoryService(sessions)
    document = json.loads(history.export([cid], "json").data)
    document["conversations"][0]["messages"][1]["feedback"] = 7
    document["conversations"][0]["id"] = "another"
    with pytest.raises(ImportFailed):  # said, not stored
        history.import_uploads([Upload("bad.json", json.dumps(document).encode())])
