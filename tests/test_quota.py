"""Per-person budgets on the server's shared key, counted from the database.

Through the real ``groq`` SDK against the stand-in, on SQLite and PostgreSQL: a signed-in person
gets their budget of requests or tokens, then a refusal that names the budget, its limit and
when it frees up (English and Chinese), before anything reaches Groq; another person on the
same database is not affected; the window moves on and the requests are allowed again. In the
app (AppTest, sign-in on): an ordinary person is refused and told why; an admin and someone
using their own key are not limited.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot import access, quota
from chatbot.errors import QuotaExceeded, restore
from chatbot.i18n import set_language, t
from chatbot.providers import Providers
from chatbot.providers.base import ModelInfo
from chatbot.quota import Budget, Limits
from chatbot.settings import AppSettings
from chatbot.store.models import Message, utcnow
from chatbot.turns import Turns
from tests.pages import ISSUER, new_app, sign_in
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")

BOB, CAROL = f"{ISSUER}|bob-0002", f"{ISSUER}|carol-0003"
MODEL = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=65536)
SETTINGS = AppSettings(system_prompt="")
NONE = Limits(0, 0, 0, 0)


class Clock:
    """The budget's idea of now, moved on by the test instead of waiting."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def chat_for(
    sessions: sessionmaker[Session], server: StandInGroq, owner: str, limits: Limits, clock: Clock | None = None
) -> Turns:
    budget = Budget(sessions, owner, limits, clock or Clock())
    return Turns(sessions, Providers(server.api_key, server.base_url, budget), owner=owner)


def ask(chat: Turns, text: str, conversation_id: str | None = None) -> str:
    pending = chat.start_turn(conversation_id, text, MODEL, SETTINGS)
    list(chat.stream_reply(pending))
    return pending.conversation_id


def refused(chat: Turns, text: str, conversation_id: str | None = None) -> QuotaExceeded:
    pending = chat.start_turn(conversation_id, text, MODEL, SETTINGS)
    with pytest.raises(QuotaExceeded) as caught:
        list(chat.stream_reply(pending))
    return caught.value


def in_both_languages(error: QuotaExceeded) -> tuple[str, str]:
    english = t(error.key, **error.values)
    set_language("zh-CN")
    chinese = t(error.key, **error.values)
    set_language("en")
    return english, chinese


def test_requests_per_minute_refused_before_groq_and_free_again_a_minute_later(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    clock = Clock()
    bob = chat_for(sessions, groq_server, BOB, Limits(requests_per_minute=2, requests_per_day=0, **_no_tokens()), clock)
    cid = ask(bob, "One")
    ask(bob, "Two", cid)
    assert len(groq_server.chat_requests) == 2

    error = refused(bob, "Three", cid)
    assert len(groq_server.chat_requests) == 2  # nothing was sent
    assert error.key == "error.quota_requests_minute" and error.values["limit"] == 2
    assert 0 < (error.retry_after or 0) <= 60  # short: the chat page waits it out and retries
    english, chinese = in_both_languages(error)
    assert "requests per minute (2)" in english and "每分钟请求数（2）" in chinese
    assert f"{error.values['seconds']} s" in english and f"{error.values['seconds']} 秒" in chinese

    # The refusal is kept with the reply, explained the same way after a reload.
    with sessions() as s:
        saved = s.scalars(select(Message).where(Message.error_code == error.key)).one()
        assert saved.status == "error" and saved.params is not None
        stored = restore(saved.error_code or "", saved.params.get("error_values"))
    assert t(stored.key, **stored.values) == english and "settings" in stored.actions

    # Carol, on the same database and key, has her own budget.
    carol = chat_for(sessions, groq_server, CAROL, Limits(requests_per_minute=2, requests_per_day=0, **_no_tokens()))
    ask(carol, "Mine")
    assert len(groq_server.chat_requests) == 3

    # A minute on, Bob's oldest requests have left the window (the refused one never counted).
    clock.offset = timedelta(seconds=61)
    ask(bob, "Four", cid)
    ask(bob, "Five", cid)
    assert len(groq_server.chat_requests) == 5


def test_a_used_up_day_names_the_day_even_when_the_minute_is_used_up_too(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    bob = chat_for(sessions, groq_server, BOB, Limits(requests_per_minute=1, requests_per_day=1, **_no_tokens()))
    cid = ask(bob, "One")
    error = refused(bob, "Two", cid)
    assert error.key == "error.quota_requests_day"
    assert 24 * 3600 - 120 < (error.retry_after or 0) <= 24 * 3600  # frees up when the first one is a day old
    english, chinese = in_both_languages(error)
    assert "requests per day (1 in 24 hours)" in english and "每天请求数" in chinese and " h " in english


def test_tokens_per_day_counted_from_the_replies_usage(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    clock = Clock()
    bob = chat_for(sessions, groq_server, BOB, Limits(0, 0, 0, tokens_per_day=1), clock)
    cid = ask(bob, "Hello there")
    with sessions() as s:
        used = s.scalars(select(Message).where(Message.role == "assistant")).one()
        spent = (used.prompt_tokens or 0) + (used.completion_tokens or 0)
    assert spent > 1  # what the stand-in reported, saved with the reply

    # A budget just above what was spent still lets one more request through ...
    roomy = chat_for(sessions, groq_server, BOB, Limits(0, 0, 0, tokens_per_day=spent + 1), clock)
    ask(roomy, "Again", cid)
    assert len(groq_server.chat_requests) == 2
    # ... and one at exactly what is spent now is used up.
    error = refused(chat_for(sessions, groq_server, BOB, Limits(0, 0, 0, tokens_per_day=spent), clock), "More", cid)
    assert error.key == "error.quota_tokens_day" and error.values["limit"] == spent
    assert len(groq_server.chat_requests) == 2
    english, chinese = in_both_languages(error)
    assert f"tokens per day ({spent} in 24 hours)" in english and f"{spent} 个" in chinese
    # Both replies were made within the last few seconds: it frees up in about a day.
    assert 24 * 3600 - 120 < (error.retry_after or 0) <= 24 * 3600

    clock.offset = timedelta(days=1, seconds=1)
    ask(bob, "Tomorrow", cid)
    assert len(groq_server.chat_requests) == 3


def test_tokens_per_minute(sessions: sessionmaker[Session], groq_server: StandInGroq) -> None:
    bob = chat_for(sessions, groq_server, BOB, Limits(0, 0, tokens_per_minute=1, tokens_per_day=0))
    cid = ask(bob, "Hello")
    error = refused(bob, "Again", cid)
    assert error.key == "error.quota_tokens_minute" and 0 < (error.retry_after or 0) <= 60


def test_who_has_a_budget() -> None:
    person = access.Actor(BOB, admin=False, signed_in=True)
    admin = access.Actor(CAROL, admin=True, signed_in=True)
    secrets: dict[str, object] = {"limits": {"requests_per_day": 3}}
    maker: sessionmaker[Session] = sessionmaker()
    budget = quota.budget_for(person, True, secrets, maker)
    assert budget is not None and budget.limits == Limits(requests_per_day=3)  # the rest: defaults
    assert quota.budget_for(person, False, secrets, maker) is None  # their own key
    assert quota.budget_for(admin, True, secrets, maker) is None
    assert quota.budget_for(access.LOCAL, True, secrets, maker) is None  # single-user app
    off = {"limits": {f: 0 for f in ("requests_per_minute", "requests_per_day", "tokens_per_minute", "tokens_per_day")}}
    assert quota.budget_for(person, True, off, maker) is None
    # A bad value never means "no limit": the default stays.
    assert quota.limits_from({"limits": {"requests_per_day": -1, "tokens_per_day": "lots"}}) == Limits()


def _no_tokens() -> dict[str, int]:
    return {"tokens_per_minute": 0, "tokens_per_day": 0}


# --------------------------------------------------------------------------- the app
LIMITS = {"requests_per_minute": 0, "requests_per_day": 1, "tokens_per_minute": 0, "tokens_per_day": 0}


def signed_in(sub: str, email: str) -> AppTest:
    at = sign_in(new_app(), {"is_logged_in": True, "sub": sub, "iss": ISSUER, "email": email, "email_verified": True})
    at.secrets["admins"] = {"emails": ["ops@example.com"]}
    at.secrets["limits"] = LIMITS
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def send(at: AppTest, text: str) -> None:
    at.chat_input[0].set_value(text).run()
    assert not at.exception, [e.value for e in at.exception]


def test_app_an_ordinary_person_is_refused_and_told_why(app: AppTest, groq_server: StandInGroq) -> None:
    bob = signed_in("bob-0002", "bob@example.com")
    send(bob, "First")
    assert not bob.error and len(groq_server.chat_requests) == 1
    send(bob, "Second")
    assert len(groq_server.chat_requests) == 1
    shown = [e.value for e in bob.error]
    assert len(shown) == 1 and shown[0].startswith(t("error.quota_requests_day").split("{")[0])
    assert "requests per day (1 in 24 hours)" in shown[0]
    assert t("action.open_settings") in [link.label for link in bob.get("page_link")]  # the way forward


def test_app_admins_and_own_keys_have_no_budget(app: AppTest, groq_server: StandInGroq) -> None:
    ops = signed_in("ops-0001", "ops@example.com")
    for text in ("One", "Two", "Three"):
        send(ops, text)
    assert not ops.error and len(groq_server.chat_requests) == 3

    # Bob with a key pasted in his session (the stand-in's own: the value matters not, where it came from does).
    bob = signed_in("bob-0002", "bob@example.com")
    bob.session_state["api_key"] = groq_server.api_key
    bob.run()
    for text in ("One", "Two"):
        send(bob, text)
    assert not bob.error and len(groq_server.chat_requests) == 5
