"""The chat page through AppTest: the real groq SDK against the stand-in, a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot import exporting
from chatbot.conversation import ConversationService, Turn
from chatbot.history import ConversationFilter, HistoryService
from chatbot.i18n import t
from chatbot.providers import Providers
from chatbot.records import ConversationSummary
from chatbot.settings import DEFAULT_SYSTEM_PROMPT
from chatbot.store import repo
from tests.pages import new_app, send, texts, wire
from tests.stand_in_groq import StandInGroq, tokenize

REPLY = "Hello **there**! How can I help?"  # what the groq_server fixture answers


# --------------------------------------------------------------------------- helpers


def contents(at: AppTest) -> list[tuple[str, list[str]]]:
    return [(m.name, [md.value for md in m.markdown]) for m in at.chat_message]


def json_messages(document: Any) -> list[dict[str, Any]]:
    """Every message object (a dict with role and content) anywhere in an exported document."""
    if isinstance(document, dict):
        if isinstance(document.get("role"), str) and isinstance(document.get("content"), str):
            return [document]
        return [m for value in document.values() for m in json_messages(value)]
    if isinstance(document, list):
        return [m for value in document for m in json_messages(value)]
    return []


def stored_turns(sessions: sessionmaker[Session], conversation_id: str) -> list[Turn]:
    """The shown branch of a conversation, as the page reads it."""
    return ConversationService(sessions).recent_messages(conversation_id).turns


def conversations(sessions: sessionmaker[Session]) -> list[ConversationSummary]:
    """Every conversation, pinned or not, newest first."""
    return HistoryService(sessions).page(ConversationFilter(pinned=None)).items


def summary(sessions: sessionmaker[Session], conversation_id: str) -> ConversationSummary | None:
    return HistoryService(sessions).summary(conversation_id)


def only_conversation(sessions: sessionmaker[Session]) -> str:
    convs = conversations(sessions)
    assert len(convs) == 1
    return convs[0].id


def model_picker(at: AppTest, conversation_id: str | None) -> Any:
    return at.selectbox(key=f"model_{conversation_id}")


def default_model_id(server: StandInGroq) -> str:
    providers = Providers(server.api_key, server.base_url)
    model = providers.default_model(providers.catalogue())
    assert model is not None
    return model.id


# --------------------------------------------------------------------------- one turn


def test_a_turn_shows_the_streamed_reply_and_is_saved(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    in_db_when_asked: list[bool] = []

    def reply(body: dict[str, Any]) -> str:
        # Runs in the server while the app waits for the answer: the question must be saved by now.
        convs = conversations(sessions)
        saved = [x.content for c in convs for x in stored_turns(sessions, c.id) if x.role == "user"]
        in_db_when_asked.append(body["messages"][-1]["content"] in saved)
        return REPLY

    groq_server.reply = reply
    app.run()
    assert not app.exception
    assert groq_server.chat_requests == []
    send(app, "What can you do?")
    assert in_db_when_asked == [True]

    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert app.chat_message[0].markdown[0].value == "What can you do?"
    assert app.chat_message[1].markdown[0].value == REPLY

    sent = groq_server.chat_requests[-1]["json"]
    assert sent["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": "What can you do?"},
    ]
    assert sent["model"] == default_model_id(groq_server)

    conv_id = only_conversation(sessions)
    assert app.query_params["c"] == conv_id  # the URL names the chat, for reloads and bookmarks
    turns = stored_turns(sessions, conv_id)
    assert [(x.role, x.content, x.status) for x in turns] == [
        ("user", "What can you do?", "complete"),
        ("assistant", REPLY, "complete"),
    ]
    assert turns[1].model == sent["model"]
    assert turns[1].finish_reason == "stop"
    # The conversation is listed in the sidebar under its title.
    assert app.sidebar.button(key=f"open_{conv_id}").label == "What can you do?"


def test_sidebar_shows_the_last_replys_tokens_and_speed(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    app.run()
    send(app, "Hi")
    last = stored_turns(sessions, only_conversation(sessions))[-1]
    assert last.completion_tokens == len(tokenize(REPLY))  # the server's own count, from x_groq.usage
    assert last.tokens_per_second and last.tokens_per_second > 0
    captions = [c.value for c in app.sidebar.caption]
    stats = [c for c in captions if str(last.completion_tokens) in c and f"{last.tokens_per_second:.0f}" in c]
    assert stats, captions


def test_export_buttons_and_their_content(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    app.run()
    assert [b.label for b in app.sidebar.get("download_button")] == []  # nothing to export yet
    send(app, "Tell me a fact about otters")
    assert [b.label for b in app.sidebar.get("download_button")] == ["Markdown", "JSON"]

    conv_id = only_conversation(sessions)
    conversation = summary(sessions, conv_id)
    assert conversation is not None
    history = HistoryService(sessions)  # what the two buttons download
    markdown = history.export([conv_id], "md").data.decode("utf-8")
    assert "Tell me a fact about otters" in markdown and REPLY in markdown
    assert markdown.index("Tell me a fact about otters") < markdown.index(REPLY)
    document = json.loads(history.export([conv_id], "json").data)
    assert conv_id in json.dumps(document)
    assert [(m["role"], m["content"]) for m in json_messages(document)] == [
        ("user", "Tell me a fact about otters"),
        ("assistant", REPLY),
    ]
    assert exporting.file_name(conversation, "md").endswith(".md")


# --------------------------------------------------------------------------- memory


def test_the_next_request_carries_the_whole_conversation(app: AppTest, groq_server: StandInGroq) -> None:
    groq_server.reply = lambda body: f"You said: {body['messages'][-1]['content']}"
    app.run()
    send(app, "My name is Ada.")
    send(app, "What is my name?")

    assert contents(app) == [
        ("user", ["My name is Ada."]),
        ("assistant", ["You said: My name is Ada."]),
        ("user", ["What is my name?"]),
        ("assistant", ["You said: What is my name?"]),
    ]
    assert len(groq_server.chat_requests) == 2
    assert groq_server.chat_requests[-1]["json"]["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "You said: My name is Ada."},
        {"role": "user", "content": "What is my name?"},
    ]


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("kind", "error_key", "raw_bits"),
    [
        ("401", "error.auth", ["Invalid API Key", "invalid_api_key"]),
        ("500", "error.server", ["Internal Server Error", "internal_server_error"]),
    ],
)
@pytest.mark.parametrize("earlier_turn", [False, True], ids=["first-message", "later-message"])
def test_user_message_is_saved_before_the_call_and_the_error_is_explained(
    app: AppTest,
    groq_server: StandInGroq,
    sessions: sessionmaker[Session],
    kind: str,
    error_key: str,
    raw_bits: list[str],
    earlier_turn: bool,
) -> None:
    app.run()
    if earlier_turn:
        send(app, "First question")
    groq_server.fail_next(kind, should_retry=False)
    send(app, "Will this fail?")

    conv_id = only_conversation(sessions)
    turns = stored_turns(sessions, conv_id)
    assert turns[-2].role == "user" and turns[-2].content == "Will this fail?"
    assert turns[-1].role == "assistant" and turns[-1].status == "error" and turns[-1].content == ""
    assert turns[-1].error_code == error_key

    shown = texts(app)
    assert any(t(error_key) in s for s in shown), shown
    assert app.chat_message[-2].markdown[0].value == "Will this fail?"  # the question stays on screen
    sent_to_browser = wire(app)
    assert groq_server.api_key not in sent_to_browser
    for bit in [*raw_bits, '"error"', "{'error'", '"message"']:
        assert bit not in sent_to_browser, bit

    # Retry answers the same question: no second copy of it is saved or sent.
    retry = next(b for b in app.button if b.label == t("action.retry"))
    retry.click().run()
    assert not app.exception
    assert app.chat_message[-1].markdown[0].value == REPLY
    sent = groq_server.chat_requests[-1]["json"]["messages"]
    assert [m["content"] for m in sent].count("Will this fail?") == 1
    assert sent[-1] == {"role": "user", "content": "Will this fail?"}
    users = [x.content for x in stored_turns(sessions, conv_id) if x.role == "user"]
    assert users.count("Will this fail?") == 1


def test_a_reply_cut_by_a_dead_server_shows_as_interrupted(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    """A server killed mid-reply leaves the row 'streaming'; reopening the chat must not crash."""
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-20b", title="Cut")
        q = repo.add_message(s, conv.id, role="user", content="Tell me a long story")
        a = repo.add_message(
            s,
            conv.id,
            role="assistant",
            content="Once upon a",
            parent_id=q.id,
            status="streaming",
            created_at=long_ago,
            updated_at=long_ago,
        )
        conv.current_message_id = a.id
        conv_id = conv.id

    at = new_app(c=conv_id)
    at.run()
    assert not at.exception, at.exception
    assert contents(at)[-1] == ("assistant", ["Once upon a"])
    assert t("status.interrupted") in [c.value for c in at.chat_message[-1].caption]
    assert stored_turns(sessions, conv_id)[-1].status == "interrupted"
    assert any(b.label == t("action.retry") for b in at.button)


@pytest.mark.parametrize("blank", ["", "   ", "\n\t  \n"])
def test_a_blank_message_is_not_sent(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], blank: str
) -> None:
    app.run()
    app.chat_input[0].set_value(blank).run()
    assert not app.exception
    assert groq_server.chat_requests == []
    assert conversations(sessions) == []
    assert not app.chat_message

    send(app, "A real question")
    conv_id = only_conversation(sessions)
    app.chat_input[0].set_value(blank).run()
    assert len(groq_server.chat_requests) == 1
    assert len(stored_turns(sessions, conv_id)) == 2


# --------------------------------------------------------------------------- models


def test_switching_model_keeps_history_and_is_remembered_per_conversation(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    default_id = default_model_id(groq_server)
    other = "llama-3.1-8b-instant"
    assert other != default_id
    app.run()
    send(app, "Question in chat A")
    chat_a = only_conversation(sessions)

    model_picker(app, chat_a).set_value(f"groq:{other}").run()
    assert not app.exception
    assert contents(app) == [("user", ["Question in chat A"]), ("assistant", [REPLY])]
    assert summary(sessions, chat_a).model == other  # type: ignore[union-attr]

    # A second conversation starts on the default model: the switch belonged to chat A only.
    app.sidebar.button(key="new_chat").click().run()
    send(app, "Question in chat B")
    assert groq_server.chat_requests[-1]["json"]["model"] == default_id
    chat_b = next(c.id for c in conversations(sessions) if c.id != chat_a)

    # A new browser session opening chat A by its URL gets A's model and history back.
    fresh = new_app(c=chat_a)
    fresh.run()
    assert not fresh.exception
    assert model_picker(fresh, chat_a).value == f"groq:{other}"
    assert contents(fresh) == [("user", ["Question in chat A"]), ("assistant", [REPLY])]
    send(fresh, "Follow-up in chat A")
    sent = groq_server.chat_requests[-1]["json"]
    assert sent["model"] == other
    assert [m["content"] for m in sent["messages"]][1:] == ["Question in chat A", REPLY, "Follow-up in chat A"]
    assert stored_turns(sessions, chat_a)[-1].model == other

    # And one restoring chat B from its session state still sees the default.
    again = new_app()
    again.session_state["conversation_id"] = chat_b
    again.run()
    assert model_picker(again, chat_b).value == f"groq:{default_id}"
    assert contents(again)[0] == ("user", ["Question in chat B"])


def test_a_chat_on_a_decommissioned_model_opens_and_continues_on_the_default(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    retired = "llama-3.3-70b-versatile"
    assert retired in groq_server.decommissioned
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", retired, title="Old chat", system_prompt="Be nice.")
        q = repo.add_message(s, conv.id, role="user", content="Old question")
        a = repo.add_message(
            s, conv.id, role="assistant", content="Old answer", parent_id=q.id, provider="groq", model=retired
        )
        conv.current_message_id = a.id
        conv_id = conv.id
    default_id = default_model_id(groq_server)

    at = new_app(c=conv_id)
    at.run()
    assert not at.exception
    assert contents(at) == [("user", ["Old question"]), ("assistant", ["Old answer"])]
    assert [i.value for i in at.info] == [t("chat.model_gone", old=retired, new=default_id)]
    assert model_picker(at, conv_id).value == f"groq:{default_id}"
    assert not at.error

    send(at, "New question")
    sent = groq_server.chat_requests[-1]["json"]
    assert sent["model"] == default_id
    assert sent["messages"] == [
        {"role": "system", "content": "Be nice."},
        {"role": "user", "content": "Old question"},
        {"role": "assistant", "content": "Old answer"},
        {"role": "user", "content": "New question"},
    ]
    assert at.chat_message[-1].markdown[0].value == REPLY
    assert not at.error
    assert summary(sessions, conv_id).model == default_id  # type: ignore[union-attr]


# --------------------------------------------------------------------------- reasoning


def test_a_reasoning_models_thinking_is_kept_apart_from_its_answer(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    groq_server.reasoning = "The user greets me. A short friendly greeting fits."
    app.run()
    model_picker(app, None).set_value("groq:openai/gpt-oss-20b").run()
    send(app, "Hello")

    assert groq_server.chat_requests[-1]["json"]["model"] == "openai/gpt-oss-20b"
    last = stored_turns(sessions, only_conversation(sessions))[-1]
    assert last.content == REPLY
    assert last.reasoning == groq_server.reasoning

    answer = app.chat_message[-1]
    thinking = [e for e in answer.get("expander") if e.label.startswith(t("chat.thinking"))]
    assert len(thinking) == 1
    assert [m.value for m in thinking[0].markdown] == [groq_server.reasoning]
    assert REPLY in [m.value for m in answer.markdown]
    assert not any(groq_server.reasoning in m.value for m in answer.markdown if m.value != groq_server.reasoning)
