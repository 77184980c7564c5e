"""The chat, Models, Usage and Settings pages with costs and limits (AppTest, SQLite, the stand-in).

What a person sees: the cost under a reply; a daily 429 offering the model with requests left,
whose button resends the same question there (checked at the stand-in); a used-up budget refused
before anything is sent, the question kept; each model's limits on the Models page; the month's
cost on the Usage page; the Spending section of Settings saving the service tier, which is then
sent with the next request.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.access import LOCAL
from chatbot.budgets import Budgets
from chatbot.costs import Costs
from chatbot.i18n import t, t_md
from chatbot.preferences import Preferences
from chatbot.pricing import builtin_table, usd
from chatbot.settings import AppSettings
from chatbot.store.models import Message
from tests.pages import send, texts
from tests.priced_by_hand import by_hand
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")

DEFAULT = "openai/gpt-oss-120b"  # the page's default model when the stand-in lists it
SMALL = "openai/gpt-oss-20b"


def replies(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as s:
        return list(s.scalars(select(Message).where(Message.role == "assistant").order_by(Message.created_at)))


def test_cost_under_a_reply(app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]) -> None:
    groq_server.cached_tokens = 4
    app.run()
    send(app, "What does this cost?")
    (reply,) = replies(sessions)
    cost = by_hand(reply.model, reply.prompt_tokens, reply.completion_tokens, reply.cached_tokens)
    assert cost > 0 and reply.cached_tokens == 4
    line = t_md("cost.reply", cost=usd(cost)) + " · " + t_md("cost.cached_tokens", count=4)
    assert line in texts(app)
    app.run()  # drawn again from the history: the same line
    assert line in texts(app)
    assert t_md("cost.conversation", cost=usd(cost)) in texts(app)  # the conversation's, in the sidebar


def test_a_daily_limit_offers_the_closest_model_and_its_button_resends_there(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    groq_server.model_limits = {DEFAULT: (1, 8000), SMALL: (30, 8000)}
    app.run()
    send(app, "First, the last one today")
    assert t_md("limits.daily_reached", model=DEFAULT) in texts(app)  # the headers said 0 left: in the sidebar
    send(app, "Which model answers this?")
    assert groq_server.chat_requests[-1]["json"]["model"] == DEFAULT  # refused there: 429 RPD
    failed = replies(sessions)[-1]
    assert failed.error_code == "error.rate_limit_wait"
    assert t_md("limits.daily_reached", model=DEFAULT) in texts(app)
    offer = next(b for b in app.button if b.key == f"offer_{failed.id}_groq:{SMALL}")
    assert offer.label == t_md("limits.continue_with_unknown", model=SMALL)  # not seen yet: no number
    offer.click().run()
    assert not app.exception, [e.value for e in app.exception]
    asked = groq_server.chat_requests[-1]["json"]
    assert asked["model"] == SMALL and asked["messages"][-1]["content"] == "Which model answers this?"
    answered = replies(sessions)[-1]
    assert (answered.model, answered.status) == (SMALL, "complete")
    assert any(text.startswith(SMALL) for text in texts(app))  # labelled with the model that answered


def test_a_used_up_budget_is_refused_before_sending(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    app.run()
    send(app, "Spend a little")
    spent = Costs(sessions, "", builtin_table()).since(None).known
    Budgets(sessions).set_limits(LOCAL, daily=str(spent * Decimal("1.25")), monthly="")
    app.run()
    warned = t_md("budget.day_warn", spent=usd(spent), budget=usd(spent * Decimal("1.25")), share=80)
    assert warned in [w.value for w in app.warning]  # 80% of today's budget: said in the sidebar
    Budgets(sessions).set_limits(LOCAL, daily="0.000001", monthly="")
    sent = len(groq_server.chat_requests)
    send(app, "Is this sent?")
    assert len(groq_server.chat_requests) == sent
    shown = [e.value for e in app.error]
    assert any("spending budget of \\$0.000001 is used up" in value for value in shown), shown
    assert "Is this sent?" in texts(app)  # the question stays, to resend later


def test_models_usage_and_settings_pages(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    groq_server.model_limits = {DEFAULT: (1000, 8000)}
    app.run()
    send(app, "Fill the pages")
    (reply,) = replies(sessions)
    app.switch_page("pages/models.py").run()
    assert not app.exception
    (table,) = app.dataframe
    row = table.value[table.value[t("models.id")] == DEFAULT].iloc[0]
    assert row[t("limits.requests_left")] == "999 / 1,000"
    assert row[t("limits.tokens_left")].endswith("/ 8,000")
    app.switch_page("pages/usage.py").run()
    assert not app.exception
    month = {m.label: m.value for m in app.metric}
    assert month[t("cost.month_to_date")] == usd(
        by_hand(reply.model, reply.prompt_tokens, reply.completion_tokens, reply.cached_tokens)
    )
    app.switch_page("pages/settings.py").run()
    assert not app.exception
    tier = next(s for s in app.selectbox if s.label == t("spending.service_tier"))
    tier.set_value("flex")
    next(b for b in app.button if b.label == t("spending.save")).click().run()
    app.switch_page("pages/chat.py").run()
    send(app, "On flex, please")
    assert groq_server.chat_requests[-1]["json"]["service_tier"] == "flex"


def test_a_cached_answer_sends_nothing_and_ask_again_sends_one(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    Preferences(sessions).save_settings(AppSettings(temperature=0.0, answer_cache=True))
    app.run()
    send(app, "What is 2 + 2?")
    assert len(groq_server.chat_requests) == 1
    app.button(key="new_chat").click().run()
    send(app, "What is 2 + 2?")
    assert len(groq_server.chat_requests) == 1  # answered from the cache: nothing reached Groq
    cached = replies(sessions)[-1]
    assert cached.content == replies(sessions)[0].content and cached.prompt_tokens == 0
    assert t("cost.from_cache") in texts(app)
    app.button(key=f"ask_again_{cached.id}").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(groq_server.chat_requests) == 2  # asked again: one request
    assert replies(sessions)[-1].prompt_tokens


def test_automatic_fallback_answers_on_the_closest_model(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    Preferences(sessions).save_settings(AppSettings(auto_fallback=True))
    groq_server.model_limits = {DEFAULT: (1, 8000)}
    app.run()
    send(app, "The last one today")
    send(app, "And this one?")
    assert [r["json"]["model"] for r in groq_server.chat_requests] == [DEFAULT, DEFAULT, SMALL]
    assert groq_server.chat_requests[-1]["json"]["messages"][-1]["content"] == "And this one?"
    assert t_md("limits.falling_back", old=DEFAULT, model=SMALL) in texts(app)
    assert (replies(sessions)[-1].model, replies(sessions)[-1].status) == (SMALL, "complete")
