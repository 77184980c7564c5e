"""The reply object and the decisions the core makes about a reply, without Streamlit.

A scripted provider (tests/fake_provider.py) plays each case; the real SQLite file checks what
is saved. The page only draws what these decide (tests/test_failures.py drives the same cases
through the page and the real SDK).
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot.errors import (
    ChatError,
    DatabaseUnavailable,
    ModelUnavailable,
    ProviderUnavailable,
    RateLimited,
    RequestTooLarge,
    StreamInterrupted,
)
from chatbot.providers.base import ModelInfo, RateLimits, ReasoningDelta, TextDelta, Usage
from chatbot.reply import (
    AUTO_RETRY_MAX_WAIT,
    ContinueOn,
    Nothing,
    ResendSmaller,
    TurnSetup,
    WaitThenRetry,
    decide,
)
from chatbot.settings import AppSettings
from chatbot.store.db import open_database
from chatbot.store.models import Conversation, Message
from chatbot.turns import Turns
from tests.fake_provider import FakeProvider, Reasoning

pytestmark = pytest.mark.sqlite_only

SETTINGS = AppSettings(system_prompt="")
SMALL = ModelInfo(id="small", provider="fake", context_window=8192, max_completion_tokens=1024)
LARGE = ModelInfo(id="large", provider="fake", context_window=8192, max_completion_tokens=1024)


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def turns(sessions: sessionmaker[Session], fake: FakeProvider) -> Turns:
    return Turns(sessions, lambda name: fake)


def setup(model: ModelInfo = SMALL, tpm: int | None = None) -> TurnSetup:
    return TurnSetup(model, SETTINGS, lambda: tpm, (SMALL, LARGE))


def stored(sessions: sessionmaker[Session], conversation_id: str) -> list[tuple[str, str, str, str | None]]:
    with sessions() as s:
        rows = s.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.created_at))
        return [(m.role, m.content, m.status, m.error_code) for m in rows]


# --------------------------------------------------------------------------- the decisions


@pytest.mark.parametrize(
    ("error", "retries", "expected"),
    [
        (None, 1, Nothing()),
        (RateLimited("RPM", 2.0), 1, WaitThenRetry(2.0)),
        (RateLimited("TPM", AUTO_RETRY_MAX_WAIT), 1, WaitThenRetry(AUTO_RETRY_MAX_WAIT)),
        (RateLimited("TPD", 593.0), 1, Nothing()),  # a day's limit is explained, not waited out
        (RateLimited("RPD", None), 1, Nothing()),  # no reset time: nothing to wait for
        (RateLimited("RPM", 2.0), 0, Nothing()),  # the one automatic retry is spent
        (RequestTooLarge(6000, 9000), 1, ResendSmaller()),
        (RequestTooLarge(6000, 9000, single=True), 1, Nothing()),  # leaving out cannot help
        (RequestTooLarge(6000, 9000), 0, Nothing()),
        (ProviderUnavailable("server"), 1, Nothing()),  # the SDK retried already: the user's Retry
        (StreamInterrupted(), 1, Nothing()),
        (ChatError("error.auth"), 1, Nothing()),
    ],
)
def test_what_to_do_after_a_failure(error: ChatError | None, retries: int, expected: object) -> None:
    assert decide(error, retries, SMALL.key, (SMALL, LARGE)) == expected


def test_a_retired_model_moves_to_the_first_other_model() -> None:
    assert decide(ModelUnavailable("small", True), 0, SMALL.key, (SMALL, LARGE)) == ContinueOn(LARGE)
    assert decide(ModelUnavailable("large", False), 0, LARGE.key, (SMALL, LARGE)) == ContinueOn(SMALL)
    assert decide(ModelUnavailable("small", True), 0, SMALL.key, (SMALL,)) == Nothing()  # nowhere to go


# --------------------------------------------------------------------------- one reply


def test_a_reply_yields_typed_events_and_is_saved_complete(
    turns: Turns, fake: FakeProvider, sessions: sessionmaker[Session]
) -> None:
    limits = RateLimits(limit_tokens=6000, remaining_tokens=5000)
    fake.enqueue(Reasoning("thinking"), "Hello ", "**there**", Usage(prompt_tokens=12, completion_tokens=3), limits)
    reply = turns.send(None, "Hi", setup())
    events = list(reply)
    assert events == [
        ReasoningDelta("thinking"),
        TextDelta("Hello "),
        TextDelta("**there**"),
        Usage(prompt_tokens=12, completion_tokens=3),
        limits,
    ]
    assert reply.complete and reply.status == "complete" and reply.error is None
    assert reply.next_step == Nothing()
    assert reply.text == "Hello **there**"
    assert stored(sessions, reply.conversation_id) == [
        ("user", "Hi", "complete", None),
        ("assistant", "Hello **there**", "complete", None),
    ]
    with sessions() as s:
        saved = s.get(Message, reply.message_id)
        assert saved is not None and saved.reasoning == "thinking" and saved.prompt_tokens == 12
    assert fake.closed == 1


def test_closing_a_reply_mid_stream_saves_it_stopped_and_closes_the_provider_stream(
    turns: Turns, fake: FakeProvider, sessions: sessionmaker[Session]
) -> None:
    fake.enqueue("First words", " and more", " never shown")
    reply = turns.send(None, "Long answer please", setup())
    with reply:  # what a Stop does to the page's loop
        for event in reply:
            assert event == TextDelta("First words")
            break
    assert reply.status == "stopped" and reply.error is None and reply.next_step == Nothing()
    assert fake.closed == 1
    assert stored(sessions, reply.conversation_id)[-1] == ("assistant", "First words", "stopped", None)


def test_a_failure_ends_the_iteration_with_every_word_kept_and_is_saved_interrupted(
    turns: Turns, fake: FakeProvider, sessions: sessionmaker[Session]
) -> None:
    fake.enqueue("Half an ", "answer", StreamInterrupted())
    reply = turns.send(None, "Question", setup())
    texts = [e.text for e in reply if isinstance(e, TextDelta)]  # no exception escapes
    assert texts == ["Half an ", "answer"]
    assert reply.status == "interrupted" and isinstance(reply.error, StreamInterrupted)
    assert reply.next_step == Nothing()
    saved = stored(sessions, reply.conversation_id)[-1]
    assert saved == ("assistant", "Half an answer", "interrupted", "error.interrupted")


def test_a_refused_request_is_saved_as_an_error(
    turns: Turns, fake: FakeProvider, sessions: sessionmaker[Session]
) -> None:
    fake.enqueue(ChatError("error.auth", {}, ("settings",)))
    reply = turns.send(None, "Is my key fine?", setup())
    assert list(reply) == []
    assert reply.status == "error" and reply.error is not None and reply.error.key == "error.auth"
    assert stored(sessions, reply.conversation_id) == [
        ("user", "Is my key fine?", "complete", None),
        ("assistant", "", "error", "error.auth"),
    ]


# --------------------------------------------------------------------------- what comes next


def test_a_short_rate_limit_says_wait_then_the_core_retries_once(
    turns: Turns, fake: FakeProvider, sessions: sessionmaker[Session]
) -> None:
    fake.enqueue(RateLimited("RPM", 2.0)).enqueue("Answer")
    reply = turns.send(None, "Quick question", setup())
    list(reply)
    assert reply.next_step == WaitThenRetry(2.0)

    retried = turns.retry(reply)
    assert "".join(e.text for e in retried if isinstance(e, TextDelta)) == "Answer"
    assert retried.complete and retried.conversation_id == reply.conversation_id
    assert retried.user_message_id == reply.user_message_id  # the same question, asked once
    assert stored(sessions, reply.conversation_id) == [
        ("user", "Quick question", "complete", None),
        ("assistant", "", "error", "error.rate_limit_wait"),
        ("assistant", "Answer", "complete", None),
    ]


def test_the_automatic_retry_happens_once(turns: Turns, fake: FakeProvider) -> None:
    fake.enqueue(RateLimited("RPM", 2.0)).enqueue(RateLimited("RPM", 2.0))
    reply = turns.send(None, "Try hard", setup())
    list(reply)
    retried = turns.retry(reply)
    list(retried)
    assert isinstance(retried.error, RateLimited) and retried.next_step == Nothing()  # now the user's Retry
    assert len(fake.requests) == 2


def test_regenerate_and_continue_are_not_retried_by_themselves(turns: Turns, fake: FakeProvider) -> None:
    first = turns.send(None, "Question", setup())
    list(first)
    fake.enqueue(RateLimited("RPM", 2.0))
    again = turns.regenerate(first.conversation_id, setup())
    list(again)
    assert isinstance(again.error, RateLimited) and again.next_step == Nothing()


def test_over_the_tokens_per_minute_limit_resends_with_a_smaller_budget(
    turns: Turns, fake: FakeProvider, sessions: sessionmaker[Session]
) -> None:
    limit = {"tpm": None}
    start = TurnSetup(SMALL, SETTINGS, lambda: limit["tpm"], (SMALL, LARGE))
    cid = None
    for i in range(4):
        reply = turns.send(cid, f"Part {i}: " + "lorem ipsum dolor sit amet " * 60, start)
        list(reply)
        cid = reply.conversation_id
    fake.enqueue(RequestTooLarge(1500, 2400))
    reply = turns.send(cid, "And now a short question", start)
    list(reply)
    assert reply.next_step == ResendSmaller()

    limit["tpm"] = 1500  # what the 413 (and its headers) told the providers
    resent = turns.retry(reply)
    list(resent)
    first, second = fake.requests[-2:]
    assert len(second.messages) < len(first.messages)
    assert second.messages[-1].content == "And now a short question"
    assert resent.complete and resent.omitted > 0


def test_a_retired_model_switches_the_conversation_in_the_core(
    turns: Turns, fake: FakeProvider, sessions: sessionmaker[Session]
) -> None:
    fake.enqueue(ModelUnavailable("small", decommissioned=True))
    reply = turns.send(None, "Hello", setup(SMALL))
    list(reply)
    assert reply.next_step == ContinueOn(LARGE)
    with sessions() as s:
        conv = s.get(Conversation, reply.conversation_id)
        assert conv is not None and (conv.provider, conv.model) == ("fake", "large")
    assert stored(sessions, reply.conversation_id)[-1] == ("assistant", "", "error", "error.model_decommissioned")


def test_a_locked_database_is_a_chat_error_and_nothing_is_sent(
    db_url: str, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_CHAT_DB_BUSY_TIMEOUT", "0.2")
    engine, sessions = open_database(db_url)
    try:
        turns = Turns(sessions, lambda name: fake)
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another program writing for a long time
        try:
            with pytest.raises(DatabaseUnavailable) as caught:
                turns.send(None, "Sent while locked", setup())
            assert caught.value.key == "error.db_locked"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert fake.requests == []
    finally:
        engine.dispose()
