"""Cost and limits in the browser: the cost under each reply and the conversation's sum in the
sidebar; a daily limit's "Continue with" button resending the same question on another model;
the budget's warning at 80% and its refusal at 100%; the automatic fallback; the answer cache.

Budgets and settings are written to the server's database through the core services (as the
Settings page does) once the app has made its schema, and the page is loaded again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from chatbot.access import LOCAL
from chatbot.budgets import Budgets
from chatbot.costs import Costs
from chatbot.preferences import Preferences
from chatbot.pricing import builtin_table, usd
from chatbot.settings import AppSettings
from chatbot.store.models import Message
from tests.browser.harness import (
    AppServer,
    chat_input,
    click_and_wait,
    database,
    message_captions,
    message_texts,
    open_app,
    reload,
    send_message,
    sidebar,
    type_message,
    wait_for_idle,
    wait_until,
)
from tests.priced_by_hand import by_hand
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

BIG, SMALL = "openai/gpt-oss-120b", "openai/gpt-oss-20b"


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, app_servers: Callable[..., AppServer]) -> Iterator[tuple[AppServer, str]]:
    """A fresh server and its database's URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        server = app_servers()
        yield server, f"sqlite:///{server.data_dir / 'chat.db'}"
        return
    name, url = request.getfixturevalue("postgres_databases").take()
    try:
        yield app_servers({"DATABASE_URL": url}), url
    finally:  # the app may still hold connections: the drop ends them
        request.getfixturevalue("postgres_server").drop_database(name)


def test_costs_add_up_and_a_daily_limit_continues_on_another_model(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.model_limits = {BIG: (2, 8000)}  # two requests today on the default model
    stand_in.cached_tokens = 3
    open_app(page, app_server.url)
    send_message(page, "First question")
    send_message(page, "Second question")
    with database(f"sqlite:///{app_server.data_dir / 'chat.db'}") as sessions, sessions() as s:
        rows = s.scalars(select(Message).where(Message.role == "assistant").order_by(Message.created_at)).all()
        costs = [by_hand(m.model, m.prompt_tokens, m.completion_tokens, m.cached_tokens) for m in rows]
    assert len(costs) == 2 and all(c > 0 for c in costs)
    total = sum(costs, Decimal(0))
    conversation_line = sidebar(page).get_by_text(f"This conversation so far: {usd(total)}")
    expect(conversation_line).to_be_visible()  # updated as the second reply ended
    reload(page)  # drawn from the history: every reply's line and the sidebar's sum
    expect(conversation_line).to_be_visible()
    shown = [c for captions in message_captions(page, "assistant") for c in captions if c.startswith("Cost $")]
    assert [line.split(" · ")[0] for line in shown] == [f"Cost {usd(c)}" for c in costs if c is not None]

    send_message(page, "Third question")  # 429: requests per day on the default model
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_text(f"{BIG} has no requests left today.")).to_be_visible()
    asked = len(stand_in.chat_requests)
    click_and_wait(page, main.get_by_role("button", name=f"Continue with {SMALL}").first)
    assert wait_until(lambda: len(stand_in.chat_requests) == asked + 1, page=page)
    resent = stand_in.chat_requests[-1]["json"]
    assert resent["model"] == SMALL and resent["messages"][-1]["content"] == "Third question"
    wait_for_idle(page)
    newest = message_captions(page, "assistant")[-1]
    assert any(SMALL in line for line in newest), newest  # the new reply labelled with who answered


def test_a_budget_warns_at_80_percent_and_refuses_at_100_before_sending(
    page: Page, served: tuple[AppServer, str], stand_in: StandInGroq
) -> None:
    server, url = served
    open_app(page, server.url)
    send_message(page, "Spend a little")
    with database(url) as sessions:
        spent = Costs(sessions, "", builtin_table()).since(None).known
        assert spent > 0
        budget = spent * Decimal("1.25")
        Budgets(sessions).set_limits(LOCAL, daily=str(budget), monthly="")
    reload(page)
    warned = f"You have used 80% of today's budget: {usd(spent)} of {usd(budget)}."
    expect(sidebar(page).get_by_text(warned)).to_be_visible()

    with database(url) as sessions:
        Budgets(sessions).set_limits(LOCAL, daily="0.000001", monthly="")
    reload(page)
    sent = len(stand_in.chat_requests)
    wait_for_idle(page, since=type_message(page, "Is this sent?"))
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_text("spending budget of $0.000001 is used up", exact=False)).to_be_visible()
    assert len(stand_in.chat_requests) == sent  # refused before anything was sent
    assert message_texts(page, "user")[-1] == "Is this sent?"  # the question is kept, to resend later
    reload(page)
    assert message_texts(page, "user")[-1] == "Is this sent?"
    assert len(stand_in.chat_requests) == sent


def test_automatic_fallback_answers_the_same_question_on_the_offered_model(
    page: Page, served: tuple[AppServer, str], stand_in: StandInGroq
) -> None:
    server, url = served
    open_app(page, server.url)  # the app makes its schema
    with database(url) as sessions:
        Preferences(sessions).save_settings(AppSettings(auto_fallback=True))
    stand_in.model_limits = {BIG: (1, 8000)}  # one request today on the default model
    reload(page)
    send_message(page, "The last one today")
    send_message(page, "And this one?")  # a daily 429 on the default model, then the closest one
    assert wait_until(lambda: len(stand_in.chat_requests) == 3, page=page)
    assert [r["json"]["model"] for r in stand_in.chat_requests] == [BIG, BIG, SMALL]
    assert stand_in.chat_requests[-1]["json"]["messages"][-1]["content"] == "And this one?"
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_text(f"{BIG} has no requests left today: asking {SMALL} instead.")).to_be_visible()
    with database(url) as sessions, sessions() as s:
        answered = s.scalars(select(Message).where(Message.role == "assistant").order_by(Message.created_at)).all()
        assert (answered[-1].model, answered[-1].status) == (SMALL, "complete")
    reload(page)  # labelled with the model that answered, from the history too
    labels = [c for captions in message_captions(page, "assistant") for c in captions]
    assert any(SMALL in line for line in labels), labels


def test_a_cached_answer_sends_nothing_and_ask_again_sends_one(
    page: Page, served: tuple[AppServer, str], stand_in: StandInGroq
) -> None:
    server, url = served
    open_app(page, server.url)  # the app makes its schema
    with database(url) as sessions:
        Preferences(sessions).save_settings(AppSettings(temperature=0.0, answer_cache=True))
    reload(page)
    send_message(page, "What is 2 + 2?")
    assert len(stand_in.chat_requests) == 1
    first = message_texts(page, "assistant")[-1]
    open_app(page, server.url)  # a new chat, the same question
    expect(chat_input(page)).to_be_visible()
    send_message(page, "What is 2 + 2?")
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_text("From this app's answer cache: answered at once, no tokens used.")).to_be_visible()
    assert message_texts(page, "assistant")[-1] == first
    assert len(stand_in.chat_requests) == 1  # nothing reached the stand-in
    click_and_wait(page, main.get_by_role("button", name="Ask the model again"))
    assert wait_until(lambda: len(stand_in.chat_requests) == 2, page=page)
    assert stand_in.chat_requests[-1]["json"]["messages"][-1]["content"] == "What is 2 + 2?"
