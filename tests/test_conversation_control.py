"""Regenerate, edit, continue, fork, presets, reasoning and the context budget, through the
service and the real groq SDK against the stand-in: what the provider receives is what counts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.conversation import ConversationService
from chatbot.errors import InvalidInput
from chatbot.preferences import Preferences
from chatbot.providers import Providers
from chatbot.providers.base import ModelInfo, ReasoningDelta, TextDelta
from chatbot.reply import NewChatOptions
from chatbot.settings import AppSettings
from chatbot.turns import Turns
from tests.stand_in_groq import StandInGroq

SETTINGS = AppSettings(system_prompt="Be brief.", max_tokens=256)


@pytest.fixture
def counting_server(groq_server: StandInGroq) -> StandInGroq:
    calls = {"n": 0}

    def reply(request: dict[str, Any]) -> str:
        calls["n"] += 1
        return f"answer {calls['n']}"

    groq_server.reply = reply
    return groq_server


@pytest.fixture
def providers(counting_server: StandInGroq) -> Providers:
    return Providers(counting_server.api_key, counting_server.base_url)


@pytest.fixture
def chat(sessions: sessionmaker[Session], providers: Providers) -> Turns:
    return Turns(sessions, providers)


@pytest.fixture
def conversations(sessions: sessionmaker[Session]) -> ConversationService:
    return ConversationService(sessions)


@pytest.fixture
def preferences(sessions: sessionmaker[Session]) -> Preferences:
    return Preferences(sessions)


def model(providers: Providers, model_id: str = "openai/gpt-oss-20b") -> ModelInfo:
    found = providers.catalogue().find(f"groq:{model_id}")
    assert found is not None
    return found


def run(chat: Turns, pending: Any) -> str:
    return "".join(e.text for e in chat.stream_reply(pending) if isinstance(e, TextDelta))


def sent(server: StandInGroq) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in server.chat_requests[-1]["json"]["messages"]]


def test_regenerate_keeps_earlier_answers_as_alternatives(
    chat: Turns, conversations: ConversationService, providers: Providers, counting_server: StandInGroq
) -> None:
    m = model(providers)
    first = chat.start_turn(None, "question", m, SETTINGS)
    run(chat, first)
    cid = first.conversation_id
    run(chat, chat.regenerate_turn(cid, model(providers, "openai/gpt-oss-120b"), SETTINGS))
    # The regenerated request is the same history, without the earlier answer, on the other model.
    assert sent(counting_server) == [("system", "Be brief."), ("user", "question")]
    assert counting_server.chat_requests[-1]["json"]["model"] == "openai/gpt-oss-120b"
    turns = conversations.recent_messages(cid).turns
    assert [t.content for t in turns] == ["question", "answer 2"]
    assert len(turns[-1].alternatives) == 2 and turns[-1].alternative_index == 1
    conversations.show_alternative(cid, turns[-1].alternatives[0])
    assert [t.content for t in conversations.recent_messages(cid).turns] == ["question", "answer 1"]


def test_regenerating_an_older_reply_branches_from_its_question(
    chat: Turns, conversations: ConversationService, providers: Providers, counting_server: StandInGroq
) -> None:
    m = model(providers)
    first = chat.start_turn(None, "first", m, SETTINGS)
    run(chat, first)
    cid = first.conversation_id
    run(chat, chat.start_turn(cid, "second", m, SETTINGS))
    older = conversations.recent_messages(cid).turns[1]
    assert older.content == "answer 1"
    run(chat, chat.regenerate_turn(cid, m, SETTINGS, message_id=older.id))
    # Only the history up to that reply's question is sent; what came after is not.
    assert sent(counting_server) == [("system", "Be brief."), ("user", "first")]
    turns = conversations.recent_messages(cid).turns
    assert [t.content for t in turns] == ["first", "answer 3"]
    assert len(turns[-1].alternatives) == 2 and turns[-1].alternative_index == 1
    conversations.show_alternative(cid, turns[-1].alternatives[0])  # the old branch, whole
    assert [t.content for t in conversations.recent_messages(cid).turns] == ["first", "answer 1", "second", "answer 2"]
    # A question is not a reply: nothing to regenerate there.
    with pytest.raises(InvalidInput):
        chat.regenerate_turn(cid, m, SETTINGS, message_id=turns[0].id)


def test_edit_branches_and_the_old_branch_stays_reachable(
    chat: Turns, conversations: ConversationService, providers: Providers, counting_server: StandInGroq
) -> None:
    m = model(providers)
    p1 = chat.start_turn(None, "first", m, SETTINGS)
    run(chat, p1)
    cid = p1.conversation_id
    run(chat, chat.start_turn(cid, "second", m, SETTINGS))
    first_id = conversations.recent_messages(cid).turns[0].id
    run(chat, chat.edit_turn(cid, first_id, "first, edited", m, SETTINGS))
    assert sent(counting_server) == [("system", "Be brief."), ("user", "first, edited")]
    turns = conversations.recent_messages(cid).turns
    assert [t.content for t in turns] == ["first, edited", "answer 3"]
    assert len(turns[0].alternatives) == 2
    conversations.show_alternative(cid, turns[0].alternatives[0])  # back to the old branch, whole
    assert [t.content for t in conversations.recent_messages(cid).turns] == ["first", "answer 1", "second", "answer 2"]


def test_continue_extends_a_reply_cut_by_max_tokens(
    chat: Turns, conversations: ConversationService, providers: Providers, counting_server: StandInGroq
) -> None:
    counting_server.reply = "one two three four five six seven eight nine ten"
    m = model(providers)
    pending = chat.start_turn(None, "count", m, AppSettings(system_prompt="", max_tokens=4))
    cut = run(chat, pending)
    turn = conversations.recent_messages(pending.conversation_id).turns[-1]
    assert turn.finish_reason == "length" and cut == turn.content
    counting_server.reply = " and the rest"
    run(chat, chat.continue_turn(pending.conversation_id, m, SETTINGS))
    # The partial reply goes last, as an assistant message, for the model to continue.
    assert sent(counting_server)[-1] == ("assistant", cut)
    turns = conversations.recent_messages(pending.conversation_id).turns
    assert len(turns) == 2 and turns[-1].content == cut + " and the rest"
    assert turns[-1].status == "complete"


def test_fork_copies_the_path_and_leaves_the_original(
    chat: Turns, conversations: ConversationService, providers: Providers
) -> None:
    m = model(providers)
    p = chat.start_turn(None, "a", m, SETTINGS)
    run(chat, p)
    run(chat, chat.start_turn(p.conversation_id, "b", m, SETTINGS))
    original = conversations.recent_messages(p.conversation_id).turns
    fork_id = conversations.fork(p.conversation_id, original[1].id)
    assert fork_id != p.conversation_id
    assert [t.content for t in conversations.recent_messages(fork_id).turns] == ["a", "answer 1"]
    assert [t.content for t in conversations.recent_messages(p.conversation_id).turns] == [t.content for t in original]


def test_a_preset_sets_the_system_prompt_and_temperature(
    chat: Turns, preferences: Preferences, providers: Providers, counting_server: StandInGroq
) -> None:
    preset = next(p for p in preferences.presets() if p.id == "builtin:code-python")
    pending = chat.start_turn(
        None, "sort a list", model(providers), SETTINGS, new_chat=NewChatOptions(preset.system_prompt, preset.params)
    )
    run(chat, pending)
    body = counting_server.chat_requests[-1]["json"]
    assert body["messages"][0] == {"role": "system", "content": preset.system_prompt}
    assert body["temperature"] == 0.2


def test_reasoning_streams_and_is_stored_apart_with_the_chosen_effort(
    chat: Turns, conversations: ConversationService, providers: Providers, counting_server: StandInGroq
) -> None:
    counting_server.reasoning = "Let me think about it."
    m = model(providers)
    pending = chat.start_turn(None, "why?", m, SETTINGS)
    conversations.update_options(pending.conversation_id, "Be brief.", {"reasoning_effort": "high"})
    pending = chat.regenerate_turn(pending.conversation_id, m, SETTINGS)
    events = list(chat.stream_reply(pending))
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Let me think about it."
    assert counting_server.chat_requests[-1]["json"]["reasoning_effort"] == "high"
    turn = conversations.recent_messages(pending.conversation_id).turns[-1]
    assert turn.reasoning == "Let me think about it." and "think" not in turn.content


def test_the_context_budget_leaves_out_the_oldest_turns_and_says_so(
    chat: Turns, conversations: ConversationService, providers: Providers, counting_server: StandInGroq
) -> None:
    m = model(providers)
    long = "word " * 400  # ~400 tokens each
    p = chat.start_turn(None, long + "1", m, SETTINGS)
    run(chat, p)
    for n in range(2, 6):
        run(chat, chat.start_turn(p.conversation_id, long + str(n), m, SETTINGS))
    pending = chat.start_turn(p.conversation_id, "newest", m, SETTINGS, tokens_per_minute=1500)
    assert pending.omitted > 0
    run(chat, pending)
    messages = sent(counting_server)
    assert messages[0] == ("system", "Be brief.") and messages[-1] == ("user", "newest")
    assert len(messages) < 2 + 2 * 5  # system + newest + fewer than all earlier turns
    assert messages[1][0] == "user"  # never starts with an answer whose question was left out
    assert conversations.recent_messages(p.conversation_id).turns[-1].prompt_tokens_omitted == pending.omitted
