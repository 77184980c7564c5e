"""Prices, budgets, Groq's limits per model, the quota-aware fallback and the answer cache.

Through the real ``groq`` SDK against the stand-in, on SQLite and PostgreSQL (``sessions``): what
a reply cost (cached prompt tokens at the cache discount, unknown prices never zero, stopped
replies marked as estimates), a spending budget that refuses before anything reaches Groq, the
x-ratelimit headers and 429s kept per model, which model a daily limit offers to continue on
and that the resent turn reaches it, service_tier and a flex 498, and an answer cache that sends
nothing on a hit and is never shared between people.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot.access import Actor
from chatbot.answer_cache import AnswerCache, request_key
from chatbot.budgets import BudgetReached, Budgets
from chatbot.costs import Costs
from chatbot.errors import AdminOnly, FlexCapacity, InvalidInput, RateLimited, restore
from chatbot.i18n import set_language, t
from chatbot.model_limits import ModelLimits, key_id, offers
from chatbot.pricing import Prices, audio_cost, builtin_table, reply_cost, speech_cost, usd
from chatbot.providers import Providers
from chatbot.providers.base import ChatMessage, ChatRequest, GenerationParams, ImagePart, ModelInfo
from chatbot.reply import FallBack, Nothing, Reply, TurnSetup, WaitThenRetry
from chatbot.settings import AppSettings
from chatbot.spend import Guard
from chatbot.store.models import AudioUsage, Message, utcnow
from chatbot.turns import Turns
from tests.priced_by_hand import by_hand
from tests.stand_in_groq import StandInGroq, tokenize

pytestmark = pytest.mark.usefixtures("english")

BIG = ModelInfo("openai/gpt-oss-120b", "groq", "OpenAI", 131072, 65536, True)
SMALL = ModelInfo("openai/gpt-oss-20b", "groq", "OpenAI", 131072, 65536, True)
QWEN = ModelInfo("qwen/qwen3.8-27b", "groq", "Alibaba Cloud", 131042, 16384, True)
LLAMA = ModelInfo("llama-3.1-8b-instant", "groq", "Meta", 131072, 131072)
CATALOGUE = (BIG, QWEN, LLAMA, SMALL)
SETTINGS = AppSettings(system_prompt="", temperature=0.7)
ADMIN = Actor("", admin=True)
ALICE = Actor("https://id.example|alice", admin=False, signed_in=True)
REPLY = "Hello **there**! How can I help?"


def chat_for(sessions: sessionmaker[Session], server: StandInGroq, owner: str = "") -> Turns:
    turns = Turns(sessions, Providers(server.api_key, server.base_url), owner=owner)
    turns.guard = Guard(sessions, owner, ModelLimits(sessions, key_id(server.base_url, server.api_key)))
    return turns


def setup(model: ModelInfo = BIG, **settings: object) -> TurnSetup:
    return TurnSetup(model, replace(SETTINGS, **settings), fallbacks=CATALOGUE)  # type: ignore[arg-type]


def finish(reply: Reply) -> Reply:
    for _ in reply:
        pass
    return reply


def stored(sessions: sessionmaker[Session], message_id: str | None) -> Message:
    with sessions() as s:
        found = s.get(Message, message_id)
        assert found is not None
        s.expunge(found)
        return found


# --- prices and cost ------------------------------------------------------------------------


def test_cost_arithmetic_against_hand_computed_figures() -> None:
    table = builtin_table()
    big = table.price("groq", "openai/gpt-oss-120b")
    # 400 uncached at $0.15/M + 600 cached at $0.075/M + 200 out at $0.60/M
    assert reply_cost(big, 1000, 200, 600).usd == Decimal("0.000225")
    assert reply_cost(big, 1000, 200).usd == Decimal("0.00027")  # no cache: all at $0.15/M
    small = table.price("groq", "openai/gpt-oss-20b")
    assert reply_cost(small, 2_000_000, 1_000_000, 1_000_000).usd == Decimal("0.4125")  # .075 + .0375 + .30
    stopped = reply_cost(big, 1000, 50, estimated=True)  # a Stop: the app's estimate, said as such
    assert stopped.usd == Decimal("0.00018") and stopped.estimated
    assert reply_cost(table.price("groq", "llama-3.1-8b-instant"), 10, 10).usd is None  # unknown, not 0
    qwen = table.price("groq", "qwen/qwen3.8-27b")
    assert reply_cost(qwen, 100, 10, 50).usd is None  # no cached-input price for it: unknown
    assert reply_cost(table.price("local", "anything"), 10_000, 10_000).usd == 0  # runs here, free
    assert audio_cost(table.price("groq", "whisper-large-v3-turbo"), 90).usd == Decimal("0.001")  # 90 s at $0.04/h
    assert audio_cost(table.price("groq", "whisper-large-v3"), 3600).usd == Decimal("0.111")
    orpheus = table.price("groq", "canopylabs/orpheus-v1-english")
    assert speech_cost(orpheus, 1000).usd == Decimal("0.022")  # 1,000 characters at $22/M
    assert audio_cost(table.price("groq", "no-such-whisper"), 10).usd is None
    assert table.source and table.as_of
    amounts = ("0", "0.000225", "0.0412345", "12.345", "0.000001", "0.5", "1234.5")
    assert [usd(Decimal(x)) for x in amounts] == [
        "$0",
        "$0.000225",
        "$0.04123",
        "$12.35",
        "$0.000001",
        "$0.50",
        "$1,234.50",
    ]


def test_cached_prompt_tokens_are_stored_and_priced_at_the_discount(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    groq_server.cached_tokens = 6
    chat = chat_for(sessions, groq_server)
    reply = finish(chat.send(None, "Tell me something about prompt caching, please", setup()))
    message = stored(sessions, reply.message_id)
    assert message.cached_tokens == 6 and message.prompt_tokens and message.prompt_tokens > 6
    assert message.completion_tokens == len(tokenize(REPLY))
    uncached = Decimal(message.prompt_tokens - 6)
    expected = (uncached * Decimal("0.15") + 6 * Decimal("0.075") + message.completion_tokens * Decimal("0.60")) / (
        10**6
    )
    cost = Costs(sessions, "", builtin_table()).conversation(reply.conversation_id)
    assert cost.usd == expected and cost.cached_tokens == 6
    turn = chat_turn(sessions, reply)
    assert turn.cached_tokens == 6 and turn.provider == "groq"


def chat_turn(sessions: sessionmaker[Session], reply: Reply):  # type: ignore[no-untyped-def]
    from chatbot.conversation import ConversationService

    assert reply.message_id
    return ConversationService(sessions, "").turns(reply.conversation_id, [reply.message_id])[0]


def test_a_conversation_costs_the_sum_of_its_replies_and_unknown_prices_stay_unknown(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    chat = chat_for(sessions, groq_server)
    first = finish(chat.send(None, "First question", setup()))
    second = finish(chat.send(first.conversation_id, "Second question", setup(SMALL)))
    costs = Costs(sessions, "", builtin_table())
    each = [
        by_hand(m.model, m.prompt_tokens, m.completion_tokens, m.cached_tokens)
        for m in (stored(sessions, first.message_id), stored(sessions, second.message_id))
    ]
    total = costs.conversation(first.conversation_id)
    assert total.usd == sum(each, Decimal(0)) and total.usd > 0
    finish(chat.send(first.conversation_id, "Third, on a model without a price", setup(LLAMA)))
    total = costs.conversation(first.conversation_id)
    assert total.usd is None and total.unknown == 1 and total.known == sum(each, Decimal(0))
    rows = costs.by_day_and_model(utcnow() - timedelta(days=1))
    assert {r.model: r.cost.usd is None for r in rows} == {BIG.id: False, SMALL.id: False, LLAMA.id: True}
    assert costs.since(utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)).unknown == 1


def test_a_stopped_reply_is_priced_on_estimated_tokens_marked_as_such(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    groq_server.tokens_per_second = 50
    groq_server.reply = " ".join(["word"] * 200)
    chat = chat_for(sessions, groq_server)
    reply = chat.send(None, "Write a long answer", setup())
    for n, _ in enumerate(reply):
        if n > 3:
            break
    reply.close()
    message = stored(sessions, reply.message_id)
    assert message.status == "stopped" and message.tokens_estimated
    cost = Costs(sessions, "", builtin_table()).conversation(reply.conversation_id)
    assert cost.estimated and cost.usd is not None and cost.usd > 0


def test_admins_override_prices_others_are_refused(sessions: sessionmaker[Session]) -> None:
    prices = Prices(sessions)
    assert prices.table().price("groq", LLAMA.id) is None
    prices.set_price(ADMIN, LLAMA.id, {"input": "0.05", "output": "0.08"})
    price = prices.table().price("groq", LLAMA.id)
    assert price is not None and price.input == Decimal("0.05") and price.cached_input is None
    prices.set_price(ADMIN, BIG.id, {"output": "1.00"})  # one field: the others stay the file's
    big = prices.table().price("groq", BIG.id)
    assert big is not None and big.output == Decimal("1.00") and big.input == Decimal("0.15")
    with pytest.raises(AdminOnly):
        prices.set_price(ALICE, BIG.id, {"output": "0"})
    with pytest.raises(InvalidInput) as bad:
        prices.set_price(ADMIN, BIG.id, {"output": "-1"})
    assert "100,000" in t(bad.value.key, **bad.value.values) or "100000" in t(bad.value.key, **bad.value.values)
    prices.set_price(ADMIN, LLAMA.id, {})  # all empty: back to the file's (none)
    assert prices.table().price("groq", LLAMA.id) is None


# --- budgets ---------------------------------------------------------------------------------


def test_a_used_up_budget_refuses_before_anything_is_sent_and_keeps_the_question(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    chat = chat_for(sessions, groq_server)
    budgets = Budgets(sessions)
    first = finish(chat.send(None, "Hello", setup()))
    spent = Costs(sessions, "", builtin_table()).since(None).known
    budgets.set_limits(ADMIN, daily=str(spent / Decimal("0.9")), monthly="")  # 90% used: a warning
    (day,) = budgets.status("", builtin_table())
    assert day.warn and not day.reached
    budgets.set_limits(ADMIN, daily=str(spent), monthly="")
    sent = len(groq_server.chat_requests)
    refused = finish(chat.send(first.conversation_id, "Is this sent?", setup()))
    assert isinstance(refused.error, BudgetReached) and len(groq_server.chat_requests) == sent
    assert refused.error.actions == ("settings", "switch_model")
    with sessions() as s:
        questions = s.scalars(select(Message.content).where(Message.role == "user")).all()
    assert "Is this sent?" in questions  # kept, to resend when the budget allows
    english = t(refused.error.key, **refused.error.values)
    assert usd(spent) in english and "day" in english.lower()
    again = restore(refused.error.key, dict(stored(sessions, refused.message_id).params["error_values"]))
    set_language("zh-CN")
    chinese = t(again.key, **again.values)
    set_language("en")
    assert usd(spent) in chinese and chinese != english
    with pytest.raises(BudgetReached):  # until midnight UTC, whatever is asked
        budgets.check("", builtin_table())
    budgets.set_limits(ADMIN, daily="", monthly="")  # an admin lifts it: sent again
    assert finish(chat.regenerate(first.conversation_id, setup(), refused.message_id)).complete
    assert groq_server.chat_requests[-1]["json"]["messages"][-1]["content"] == "Is this sent?"


def test_budgets_are_per_person_and_set_by_admins(sessions: sessionmaker[Session]) -> None:
    budgets = Budgets(sessions)
    budgets.set_limits(ADMIN, daily="1", monthly="20")
    budgets.set_limits(ADMIN, daily="5", monthly="", owner=ALICE.owner)
    assert budgets.limits_for("someone|else").monthly == Decimal(20)
    alice = budgets.limits_for(ALICE.owner)
    assert alice.daily == Decimal(5) and alice.monthly is None
    with pytest.raises(AdminOnly):
        budgets.set_limits(ALICE, daily="100", monthly="100", owner=ALICE.owner)
    with pytest.raises(InvalidInput):
        budgets.set_limits(ADMIN, daily="lots", monthly="")


# --- limits per model, fallback ------------------------------------------------------------


def test_limits_are_kept_per_model_and_count_down(sessions: sessionmaker[Session], groq_server: StandInGroq) -> None:
    groq_server.model_limits = {BIG.id: (3, 8000), SMALL.id: (50, 6000)}
    chat = chat_for(sessions, groq_server)
    first = finish(chat.send(None, "One", setup()))
    finish(chat.send(first.conversation_id, "Two", setup()))
    finish(chat.send(first.conversation_id, "Three", setup(SMALL)))
    limits = ModelLimits(sessions, key_id(groq_server.base_url, groq_server.api_key))
    seen = limits.all()
    assert (seen[BIG.id].limit_requests, seen[BIG.id].remaining_requests) == (3, 1)
    assert (seen[SMALL.id].limit_requests, seen[SMALL.id].remaining_requests, seen[SMALL.id].limit_tokens) == (
        50,
        49,
        6000,
    )
    assert seen[BIG.id].tokens_reset_at is not None and seen[BIG.id].seen_at is not None
    finish(chat.send(first.conversation_id, "Four", setup()))  # the last one today
    assert limits.all()[BIG.id].daily_reached(utcnow())
    assert chat.guard is not None and chat.guard.daily_reached(BIG)
    # Another key's limits are its own.
    assert ModelLimits(sessions, key_id(groq_server.base_url, "gsk_other")).all() == {}


def test_a_daily_429_offers_the_closest_model_with_quota_and_the_resend_reaches_it(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    groq_server.model_limits = {BIG.id: (1, 8000), SMALL.id: (40, 8000), QWEN.id: (900, 8000)}
    chat = chat_for(sessions, groq_server)
    first = finish(chat.send(None, "Warm up", setup()))
    finish(chat.send(first.conversation_id, "and the small one", setup(SMALL)))
    finish(chat.send(first.conversation_id, "and qwen", setup(QWEN)))
    failed = finish(chat.send(first.conversation_id, "Which model answers this?", setup()))
    assert isinstance(failed.error, RateLimited) and failed.error.limit == "RPD"
    assert "requests per day" in t(failed.error.key, **failed.error.values)
    assert isinstance(failed.next_step, Nothing)  # a day is not waited out
    # Same family first, although qwen has more requests left; unseen llama last.
    assert [(o.model.id, o.requests_left) for o in failed.offers] == [(SMALL.id, 39), (QWEN.id, 899), (LLAMA.id, None)]
    seen = ModelLimits(sessions, key_id(groq_server.base_url, groq_server.api_key)).all()[BIG.id]
    assert seen.limited_window == "RPD" and seen.limited_until and seen.limited_until > utcnow()
    resent = finish(chat.regenerate(first.conversation_id, setup(failed.offers[0].model), failed.message_id))
    assert resent.complete
    asked = groq_server.chat_requests[-1]["json"]
    assert asked["model"] == SMALL.id and asked["messages"][-1]["content"] == "Which model answers this?"
    assert stored(sessions, resent.message_id).model == SMALL.id  # labelled with who answered


def test_automatic_fallback_resends_on_the_closest_model(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    groq_server.model_limits = {BIG.id: (1, 8000)}
    chat = chat_for(sessions, groq_server)
    first = finish(chat.send(None, "Warm up", setup(auto_fallback=True)))
    failed = finish(chat.send(first.conversation_id, "Go on by yourself", setup(auto_fallback=True)))
    assert failed.next_step == FallBack(SMALL)
    answered = finish(chat.retry(failed))
    assert answered.complete and groq_server.chat_requests[-1]["json"]["model"] == SMALL.id
    assert stored(sessions, answered.message_id).model == SMALL.id


def test_a_per_minute_429_still_counts_down_on_the_same_model(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    groq_server.fail_next("429", window="RPM", retry_after=3)
    chat = chat_for(sessions, groq_server)
    reply = finish(chat.send(None, "Busy minute", setup(auto_fallback=True)))
    assert isinstance(reply.next_step, WaitThenRetry) and reply.offers == []
    assert reply.next_step.seconds == 3  # the retry-after Groq sent
    again = finish(chat.retry(reply))  # the count-down over: the same model, not another
    assert again.complete and [r["json"]["model"] for r in groq_server.chat_requests] == [BIG.id, BIG.id]


def test_offers_rank_family_then_size_then_context_then_quota() -> None:
    now = datetime(2026, 11, 26, 12, tzinfo=utcnow().tzinfo)
    from chatbot.model_limits import SeenLimits

    seen = {
        SMALL.id: SeenLimits(SMALL.id, 1000, 0, now + timedelta(hours=3)),  # none left today
        QWEN.id: SeenLimits(QWEN.id, 1000, 10),
        LLAMA.id: SeenLimits(LLAMA.id, 14400, 14000),
    }
    found = offers(BIG, CATALOGUE, seen, now)
    assert [o.model.id for o in found] == [QWEN.id, LLAMA.id]  # 27b is closer to 120b than 8b
    local = ModelInfo("qwen2.5-0.5b", "local")
    assert offers(BIG, (*CATALOGUE, local), seen, now)[-1].model == local  # another provider last


# --- service tier ----------------------------------------------------------------------------


def test_flex_tier_is_sent_and_its_498_is_explained_then_on_demand_answers(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    groq_server.flex_at_capacity = True
    chat = chat_for(sessions, groq_server)
    failed = finish(chat.send(None, "Cheap and flexible", setup(service_tier="flex")))
    assert groq_server.chat_requests[-1]["json"]["service_tier"] == "flex"
    assert isinstance(failed.error, FlexCapacity)
    assert "on demand" in t(failed.error.key, **failed.error.values).lower()
    again = finish(chat.regenerate(failed.conversation_id, setup(service_tier="on_demand"), failed.message_id))
    assert again.complete and "service_tier" not in groq_server.chat_requests[-1]["json"]


# --- answer cache ----------------------------------------------------------------------------


def test_cached_answer_makes_no_request_is_per_person_and_ask_again_sends_one(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    chat = chat_for(sessions, groq_server)
    cached = setup(temperature=0.0, answer_cache=True)
    first = finish(chat.send(None, "What is 2 + 2?", cached))
    assert len(groq_server.chat_requests) == 1
    hit = finish(chat.send(None, "What is 2 + 2?", cached))  # a new conversation, same request
    assert len(groq_server.chat_requests) == 1 and hit.complete and hit.text == first.text
    message = stored(sessions, hit.message_id)
    assert message.params and message.params.get("from_cache") is True
    assert (message.prompt_tokens, message.completion_tokens, message.tokens_estimated) == (0, 0, False)
    assert Costs(sessions, "", builtin_table()).conversation(hit.conversation_id).usd == 0
    other = chat_for(sessions, groq_server, owner="https://id.example|bob")
    finish(other.send(None, "What is 2 + 2?", cached))
    assert len(groq_server.chat_requests) == 2  # never shared between people
    fresh = finish(chat.regenerate(hit.conversation_id, replace(cached, fresh=True)))
    assert len(groq_server.chat_requests) == 3 and fresh.complete
    finish(chat.send(None, "What is 2 + 2?", setup(temperature=0.7, answer_cache=True)))
    assert len(groq_server.chat_requests) == 4  # not at temperature 0: a new answer each time
    finish(chat.send(None, "What is 2 + 2?", setup(temperature=0.0)))
    assert len(groq_server.chat_requests) == 5  # the cache is off
    AnswerCache(sessions, "").clear()
    finish(chat.send(None, "What is 2 + 2?", cached))
    assert len(groq_server.chat_requests) == 6


def test_cached_answers_expire(sessions: sessionmaker[Session]) -> None:
    request = ChatRequest(BIG.id, [ChatMessage("user", "hi")], GenerationParams(temperature=0.0))
    key = request_key("groq", request)
    assert key is not None
    assert request_key("groq", replace(request, params=GenerationParams(temperature=0.2))) is None
    system = replace(request, messages=[ChatMessage("system", "Be terse."), ChatMessage("user", "hi")])
    assert request_key("groq", system) != key  # the system prompt is part of the request
    picture = ImagePart("image/png", b"\x89PNG one", 1, 1)
    with_image = replace(request, messages=[ChatMessage("user", "hi", (picture,))])
    other_image = replace(request, messages=[ChatMessage("user", "hi", (replace(picture, data=b"\x89PNG two"),))])
    assert len({key, request_key("groq", with_image), request_key("groq", other_image)}) == 3
    assert request_key("groq", replace(request, tools=("browser_search",))) is None  # live answers
    later = utcnow() + timedelta(hours=2)
    AnswerCache(sessions, "", hours=1).keep(key, "groq", BIG.id, "Hello!", None)
    assert AnswerCache(sessions, "", hours=1).find(key) is not None
    assert AnswerCache(sessions, "", hours=1, clock=lambda: later).find(key) is None
    assert AnswerCache(sessions, "someone|else", hours=1).find(key) is None


def test_voice_input_is_priced_per_hour_of_audio(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        s.add(AudioUsage(owner="", model="whisper-large-v3-turbo", seconds=90.0))
        s.add(AudioUsage(owner="someone|else", model="whisper-large-v3-turbo", seconds=3600.0))
    (row,) = Costs(sessions, "", builtin_table()).audio(utcnow() - timedelta(days=1))
    assert (row.model, row.cost.usd) == ("whisper-large-v3-turbo", Decimal("0.001"))
