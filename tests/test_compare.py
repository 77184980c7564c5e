"""Comparing models: one question to several models at once, through the real groq SDK against
the stand-in. Each reply is an alternative answer to the question (what Regenerate makes), they
stream at the same time, a model that fails fails alone, each model continues on its own branch,
and one reply becomes the normal chat again. Votes on them are kept per person and exported."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot.compare import Compare, Comparison
from chatbot.conversation import ConversationService
from chatbot.errors import ImportFailed, InvalidInput, RateLimited
from chatbot.history import HistoryService
from chatbot.importing.sources import Upload
from chatbot.providers import Providers
from chatbot.providers.base import ModelInfo
from chatbot.reply import TurnSetup
from chatbot.settings import AppSettings
from chatbot.store.db import open_database
from chatbot.store.models import Message, Vote
from chatbot.turns import Turns
from chatbot.votes import Votes
from tests.stand_in_groq import StandInGroq

SETTINGS = AppSettings(system_prompt="")
FAST = ModelInfo("llama-3.1-8b-instant", "groq", context_window=131072, max_completion_tokens=8192)
BIG = ModelInfo("openai/gpt-oss-120b", "groq", context_window=131072, max_completion_tokens=8192)
SMALL = ModelInfo("openai/gpt-oss-20b", "groq", context_window=131072, max_completion_tokens=8192)
DEADLINE = 30.0


def setups(*models: ModelInfo) -> list[TurnSetup]:
    return [TurnSetup(m, SETTINGS) for m in models]


def by_model(body: dict[str, Any]) -> str:
    """Each model says who it is and how many earlier answers of its own it was sent."""
    own = [m["content"] for m in body["messages"] if m["role"] == "assistant"]
    return f"{body['model']} answers ({len(own)} earlier)"


@pytest.fixture
def server() -> Any:
    with StandInGroq(reply=by_model) as stand_in:
        yield stand_in


@pytest.fixture
def compare(sessions: sessionmaker[Session], server: StandInGroq) -> Compare:
    providers = Providers(server.api_key, server.base_url)
    return Compare(Turns(sessions, providers, owner="alice"), sessions, owner="alice")


def finished(comparison: Comparison) -> Comparison:
    assert comparison.join(DEADLINE), "a reply did not end"
    return comparison


def test_every_model_answers_the_same_question_as_an_alternative(
    compare: Compare, sessions: sessionmaker[Session]
) -> None:
    done = finished(compare.send(None, "Which is better?", setups(FAST, BIG, SMALL)))
    assert [lane.status for lane in done.lanes] == ["complete"] * 3
    assert [lane.text for lane in done.lanes] == [f"{m.id} answers (0 earlier)" for m in (FAST, BIG, SMALL)]
    with sessions() as s:
        rows = list(s.scalars(select(Message).where(Message.conversation_id == done.conversation_id)))
    question = next(m for m in rows if m.role == "user")
    replies = [m for m in rows if m.role == "assistant"]
    assert {m.parent_id for m in replies} == {question.id}  # siblings: alternatives of one question
    assert sorted(m.model or "" for m in replies) == sorted(m.id for m in (FAST, BIG, SMALL))
    assert all(m.time_to_first_token is not None and m.completion_tokens for m in replies)
    assert all(lane.tokens and lane.time_to_first_token is not None for lane in done.lanes)
    # While comparing, the question is shown and the chat page finds the comparison from it.
    comparing = compare.comparing(done.conversation_id)
    assert comparing is not None and comparing.question_id == question.id
    assert comparing.models == sorted(m.key for m in (FAST, BIG, SMALL))
    window = ConversationService(compare._sessions, "alice").recent_messages(done.conversation_id)
    assert [t.id for t in window.turns] == [question.id]
    # The exported conversation carries every answer.
    exported = json.loads(HistoryService(sessions, "alice").export([done.conversation_id], "json").data)
    assert len([m for m in exported["conversations"][0]["messages"] if m["role"] == "assistant"]) == 3


def test_replies_stream_at_the_same_time(compare: Compare, server: StandInGroq) -> None:
    met: dict[str, bool] = {}

    def reply(body: dict[str, Any]) -> str:
        # Each request waits for the other model's to arrive while it is still unanswered: sent one
        # after the other, the first waits in vain.
        met[body["model"]] = server.wait_for(
            lambda: len({r["json"]["model"] for r in server.chat_requests}) >= 2, DEADLINE
        )
        return f"{body['model']} answers"

    server.reply = reply
    done = finished(compare.send(None, "Together?", setups(FAST, BIG)))
    assert met == {FAST.id: True, BIG.id: True}
    assert [lane.status for lane in done.lanes] == ["complete", "complete"]


def test_a_rate_limited_model_fails_alone(compare: Compare, server: StandInGroq) -> None:
    server.fail_next("429", window="RPD", retry_after=3600, model=BIG.id)
    done = finished(compare.send(None, "Who answers?", setups(FAST, BIG, SMALL)))
    lanes = {lane.model.id: lane for lane in done.lanes}
    assert isinstance(lanes[BIG.id].error, RateLimited)
    assert lanes[BIG.id].status == "error" and lanes[BIG.id].text == ""
    assert [lanes[m.id].status for m in (FAST, SMALL)] == ["complete", "complete"]
    assert lanes[FAST.id].text == f"{FAST.id} answers (0 earlier)"
    comparing = compare.comparing(done.conversation_id)
    assert comparing is not None
    failed = next(lane for lane in comparing.lanes if lane.model_key == BIG.key).turns[0]
    assert failed.error_code == "error.rate_limit_wait"  # explained in its column after a reload


def test_one_model_stopped_the_others_finish(compare: Compare, server: StandInGroq) -> None:
    long = " ".join(["word"] * 400)
    server.reply = lambda body: long if body["model"] == BIG.id else "short"
    server.tokens_per_second = 100
    comparison = compare.send(None, "Stop one", setups(FAST, BIG))
    big = next(i for i, lane in enumerate(comparison.lanes) if lane.model.id == BIG.id)
    assert server.wait_for(lambda: len(comparison.lanes[big].text) > 0, DEADLINE)
    comparison.stop(big)
    finished(comparison)
    lanes = {lane.model.id: lane for lane in comparison.lanes}
    assert lanes[BIG.id].status == "stopped" and 0 < len(lanes[BIG.id].text) < len(long)
    assert lanes[FAST.id].status == "complete" and lanes[FAST.id].text == "short"


def test_each_model_continues_its_own_branch(compare: Compare, server: StandInGroq) -> None:
    first = finished(compare.send(None, "Round one", setups(FAST, BIG)))
    server.reset()
    second = finished(compare.send(first.conversation_id, "Round two", setups(FAST, BIG)))
    assert second.question_id == first.question_id
    sent = {r["json"]["model"]: r["json"]["messages"] for r in server.chat_requests}
    for model in (FAST, BIG):
        assert [m["content"] for m in sent[model.id]] == [
            "Round one",
            f"{model.id} answers (0 earlier)",  # its own answer, never the other's
            "Round two",
        ]
    comparing = compare.comparing(first.conversation_id)
    assert comparing is not None
    assert [[t.content for t in lane.turns] for lane in comparing.lanes] == [
        [f"{m.id} answers (0 earlier)", "Round two", f"{m.id} answers (1 earlier)"] for m in (FAST, BIG)
    ]
    # Continue with one: its branch is the chat, its model the conversation's; comparing ends.
    compare.choose(first.conversation_id, comparing.lanes[1])
    assert compare.comparing(first.conversation_id) is None
    shown = ConversationService(compare._sessions, "alice").recent_messages(first.conversation_id).turns
    assert [t.content for t in shown] == ["Round one", f"{BIG.id} answers (0 earlier)", "Round two", shown[-1].content]
    assert shown[-1].content == f"{BIG.id} answers (1 earlier)"
    assert shown[1].alternatives and len(shown[1].alternatives) == 2  # the other answer stays an alternative


def test_a_blind_round_keeps_its_order_with_the_comparison(compare: Compare) -> None:
    """The letters a blind round streamed under are found again from the database alone (a
    reload), in a continued round too; a round asked openly is shown by model."""
    first = finished(compare.send(None, "Blind one", setups(FAST, BIG, SMALL), blind=True))
    comparing = compare.comparing(first.conversation_id)
    assert comparing is not None and comparing.blind
    assert [lane.model_key for lane in comparing.shown_lanes] == [lane.model.key for lane in first.lanes]
    assert [lane.newest_reply.id for lane in comparing.shown_lanes if lane.newest_reply] == [
        lane.message_id for lane in first.lanes
    ]
    second = finished(compare.send(first.conversation_id, "Blind two", setups(FAST, BIG, SMALL), blind=True))
    comparing = compare.comparing(first.conversation_id)
    assert comparing is not None and comparing.blind and len(set(comparing.round_questions)) == 3
    assert [lane.model_key for lane in comparing.shown_lanes] == [lane.model.key for lane in second.lanes]
    finished(compare.send(first.conversation_id, "Open three", setups(FAST, BIG, SMALL)))
    comparing = compare.comparing(first.conversation_id)
    assert comparing is not None and not comparing.blind
    assert comparing.shown_lanes == comparing.lanes == sorted(comparing.lanes, key=lambda lane: lane.model_key)


def test_bad_choices_are_refused_before_anything_is_saved(compare: Compare, sessions: sessionmaker[Session]) -> None:
    for models, key in [((FAST,), "compare.model_count"), ((FAST, BIG, SMALL, FAST, BIG), "compare.model_count")]:
        with pytest.raises(InvalidInput) as refused:
            compare.send(None, "x", setups(*models))
        assert refused.value.key == key
    with pytest.raises(InvalidInput) as same:
        compare.send(None, "x", setups(FAST, FAST))
    assert same.value.key == "compare.same_model"
    with pytest.raises(InvalidInput) as empty:
        compare.send(None, "   ", setups(FAST, BIG))
    assert empty.value.key == "input.empty"
    with sessions() as s:
        assert s.scalar(select(Message.id)) is None


def test_votes_are_kept_per_person_and_exported(
    compare: Compare, sessions: sessionmaker[Session], server: StandInGroq
) -> None:
    done = finished(compare.send(None, "Vote on these", setups(FAST, BIG, SMALL), blind=True))
    ids = [lane.message_id or "" for lane in done.lanes]
    alice = Votes(sessions, "alice")
    alice.vote_pair(done.conversation_id, (ids[0], ids[1]), "a")
    alice.vote_pair(done.conversation_id, (ids[0], ids[1]), "tie")  # changed, not counted twice
    alice.vote_ranking(done.conversation_id, {ids[0]: 2, ids[1]: 1, ids[2]: 3})
    ballots = alice.ballots()
    assert len(ballots) == 2
    assert {b.verdict for b in ballots} == {"tie", "ranking"}
    ranking = next(b for b in ballots if b.verdict == "ranking")
    assert ranking.ranks == {done.lanes[0].model.key: 2, done.lanes[1].model.key: 1, done.lanes[2].model.key: 3}
    # Someone else can neither vote on Alice's replies nor see her votes.
    bob = Votes(sessions, "bob")
    with pytest.raises(InvalidInput):
        bob.vote_pair(done.conversation_id, (ids[0], ids[1]), "a")
    assert bob.ballots() == []
    with pytest.raises(InvalidInput):
        alice.vote_ranking(done.conversation_id, {ids[0]: 1, ids[1]: 9, ids[2]: 2})
    with pytest.raises(InvalidInput):
        alice.vote_pair(done.conversation_id, (ids[0], done.question_id), "a")  # a question is not a reply
    # A tag filters them; the trash hides them.
    HistoryService(sessions, "alice").set_tags(done.conversation_id, ["code"])
    assert len(alice.ballots(tag="code")) == 2 and alice.ballots(tag="poetry") == []
    exported = json.loads(HistoryService(sessions, "alice").export([done.conversation_id], "json").data)
    votes = exported["conversations"][0]["votes"]
    assert sorted(v["verdict"] for v in votes) == ["ranking", "tie"]
    assert {e["message_id"] for v in votes for e in v["ranking"]} == set(ids)
    HistoryService(sessions, "alice").delete([done.conversation_id])
    assert alice.ballots() == []
    with sessions() as s:
        assert len(list(s.scalars(select(Vote)))) == 2  # in the trash: kept until purged


def test_importing_our_export_restores_the_votes_once(
    compare: Compare, sessions: sessionmaker[Session], new_database: Callable[[str], str]
) -> None:
    done = finished(compare.send(None, "Vote, export, import", setups(FAST, BIG), blind=True))
    ids = [lane.message_id or "" for lane in done.lanes]
    Votes(sessions, "alice").vote_pair(done.conversation_id, (ids[0], ids[1]), "b")
    exported = HistoryService(sessions, "alice").export([done.conversation_id], "json")
    upload = [Upload(exported.name, exported.data)]
    engine, elsewhere = open_database(new_database("elsewhere"))
    try:
        for owner in ("alice", "bob"):  # bob's copy gets ids of its own, its vote too
            target = HistoryService(elsewhere, owner)
            target.import_uploads(upload)
            target.import_uploads(upload)  # a second import adds nothing
            ballots = Votes(elsewhere, owner).ballots()
            assert [b.ranks for b in ballots] == [{done.lanes[0].model.key: 2, done.lanes[1].model.key: 1}]
        with elsewhere() as s:
            votes = list(s.scalars(select(Vote)))
            messages = {m.id: m.conversation_id for m in s.scalars(select(Message))}
        assert len(votes) == 2 and len({v.id for v in votes}) == 2
        for vote in votes:  # each names replies of its own conversation
            assert {messages[e["message_id"]] for e in vote.ranking} == {vote.conversation_id}
    finally:
        engine.dispose()
    damaged = json.loads(exported.data)
    damaged["conversations"][0]["votes"][0]["ranking"][0]["message_id"] = done.question_id  # not a reply
    with pytest.raises(ImportFailed) as refused:
        HistoryService(sessions, "carol").import_uploads([Upload("bad.json", json.dumps(damaged).encode())])
    assert refused.value.values["where"].endswith("votes[0].ranking[0].message_id")
