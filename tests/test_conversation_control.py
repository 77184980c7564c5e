"""Regenerate, edit, continue, fork, presets, reasoning and the context budget, through the
service and the real groq SDK against the stand-in: what the provider receives is what counts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.providers import Providers
from chatbot.providers.base import ModelInfo, ReasoningDelta, TextDelta
from chatbot.service import ChatService, NewChatOptions
from chatbot.settings import AppSettings
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
def service(sessions: sessionmaker[Session], counting_server: StandInGroq) -> ChatService:
    return ChatService(sessions, Providers(counting_server.api_key, counting_server.base_url))


def model(service: ChatService, model_id: str = "openai/gpt-oss-20b") -> ModelInfo:
    catalogue = service._providers.catalogue()  # type: ignore[attr-defined]
    found = catalogue.find(f"groq:{model_id}")
    assert found is not None
    return found


def run(service: ChatService, pending: Any) -> str:
    return "".join(e.text for e in service.stream_reply(pending) if isinstance(e, TextDelta))


def sent(server: StandInGroq) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in server.chat_requests[-1]["json"]["messages"]]


def test_regenerate_keeps_earlier_answers_as_alternatives(service: ChatService, counting_server: StandInGroq) -> None:
    m = model(service)
    first = service.start_turn(None, "question", m, SETTINGS)
    run(service, first)
    cid = first.conversation_id
    run(service, service.regenerate_turn(cid, model(service, "openai/gpt-oss-120b"), SETTINGS))
    # The regenerated request is the same history, without the earlier answer, on the other model.
    assert sent(counting_server) == [("system", "Be brief."), ("user", "question")]
    assert counting_server.chat_requests[-1]["json"]["model"] == "openai/gpt-oss-120b"
    turns = service.messages(cid)
    assert [t.content for t in turns] == ["question", "answer 2"]
    assert len(turns[-1].alternatives) == 2 and turns[-1].alternative_index == 1
    service.show_alternative(cid, turns[-1].alternatives[0])
    assert [t.content for t in service.messages(cid)] == ["question", "answer 1"]


def test_edit_branches_and_the_old_branch_stays_reachable(service: ChatService, counting_server: StandInGroq) -> None:
    m = model(service)
    p1 = service.start_turn(None, "first", m, SETTINGS)
    run(service, p1)
    cid = p1.conversation_id
    run(service, service.start_turn(cid, "second", m, SETTINGS))
    first_id = service.messages(cid)[0].id
    run(service, service.edit_turn(cid, first_id, "first, edited", m, SETTINGS))
    assert sent(counting_server) == [("system", "Be brief."), ("user", "first, edited")]
    turns = service.messages(cid)
    assert [t.content for t in turns] == ["first, edited", "answer 3"]
    assert len(turns[0].alternatives) == 2
    service.show_alternative(cid, turns[0].alternatives[0])  # back to the old branch, whole
    assert [t.content for t in service.messages(cid)] == ["first", "answer 1", "second", "answer 2"]


def test_continue_extends_a_reply_cut_by_max_tokens(service: ChatService, counting_server: StandInGroq) -> None:
    counting_server.reply = "one two three four five six seven eight nine ten"
    m = model(service)
    pending = service.start_turn(None, "count", m, AppSettings(system_prompt="", max_tokens=4))
    cut = run(service, pending)
    turn = service.messages(pending.conversation_id)[-1]
    assert turn.finish_reason == "length" and cut == turn.content
    counting_server.reply = " and the rest"
    run(service, service.continue_turn(pending.conversation_id, m, SETTINGS))
    # The partial reply goes last, as an assistant message, for the model to continue.
    assert sent(counting_server)[-1] == ("assistant", cut)
    turns = service.messages(pending.conversation_id)
    assert len(turns) == 2 and turns[-1].content == cut + " and the rest"
    assert turns[-1].status == "complete"


def test_fork_copies_the_path_and_leaves_the_original(service: ChatService) -> None:
    m = model(service)
    p = service.start_turn(None, "a", m, SETTINGS)
    run(service, p)
    run(service, service.start_turn(p.conversation_id, "b", m, SETTINGS))
    original = service.messages(p.conversation_id)
    fork_id = service.fork(p.conversation_id, original[1].id)
    assert fork_id != p.conversation_id
    assert [t.content for t in service.messages(fork_id)] == ["a", "answer 1"]
    assert [t.content for t in service.messages(p.conversation_id)] == [t.content for t in original]


def test_a_preset_sets_the_system_prompt_and_temperature(service: ChatService, counting_server: StandInGroq) -> None:
    preset = next(p for p in service.presets() if p.id == "builtin:code-python")
    pending = service.start_turn(
        None, "sort a list", model(service), SETTINGS, new_chat=NewChatOptions(preset.system_prompt, preset.params)
    )
    run(service, pending)
    body = counting_server.chat_requests[-1]["json"]
    assert body["messages"][0] == {"role": "system", "content": preset.system_prompt}
    assert body["temperature"] == 0.2


def test_reasoning_streams_and_is_stored_apart_with_the_chosen_effort(
    service: ChatService, counting_server: StandInGroq
) -> None:
    counting_server.reasoning = "Let me think about it."
    m = model(service)
    pending = service.start_turn(None, "why?", m, SETTINGS)
    service.update_options(pending.conversation_id, "Be brief.", {"reasoning_effort": "high"})
    pending = service.regenerate_turn(pending.conversation_id, m, SETTINGS)
    events = list(service.stream_reply(pending))
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Let me think about it."
    assert counting_server.chat_requests[-1]["json"]["reasoning_effort"] == "high"
    turn = service.messages(pending.conversation_id)[-1]
    assert turn.reasoning == "Let me think about it." and "think" not in turn.content


def test_the_context_budget_leaves_out_the_oldest_turns_and_says_so(
    service: ChatService, counting_server: StandInGroq
) -> None:
    m = model(service)
    long = "word " * 400  # ~400 tokens each
    p = service.start_turn(None, long + "1", m, SETTINGS)
    run(service, p)
    for n in range(2, 6):
        run(service, service.start_turn(p.conversation_id, long + str(n), m, SETTINGS))
    pending = service.start_turn(p.conversation_id, "newest", m, SETTINGS, tokens_per_minute=1500)
    assert pending.omitted > 0
    run(service, pending)
    messages = sent(counting_server)
    assert messages[0] == ("system", "Be brief.") and messages[-1] == ("user", "newest")
    assert len(messages) < 2 + 2 * 5  # system + newest + fewer than all earlier turns
    assert messages[1][0] == "user"  # never starts with an answer whose question was left out
    assert service.messages(p.conversation_id)[-1].prompt_tokens_omitted == pending.omitted
