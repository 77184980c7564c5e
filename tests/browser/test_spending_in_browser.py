"""Cost and limits in the browser: the cost under each reply and the conversation's sum in the
sidebar; a daily limit's "Continue with" button resending the same question on another model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from chatbot.pricing import builtin_table, reply_cost, usd
from chatbot.store.models import Message
from tests.browser.harness import (
    AppServer,
    click_and_wait,
    database,
    message_captions,
    open_app,
    reload,
    send_message,
    sidebar,
    wait_until,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

BIG, SMALL = "openai/gpt-oss-120b", "openai/gpt-oss-20b"


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
        table = builtin_table()
        costs = [
            reply_cost(table.price("groq", m.model), m.prompt_tokens, m.completion_tokens, m.cached_tokens).usd
            for m in rows
        ]
    assert len(costs) == 2 and all(c is not None and c > 0 for c in costs)
    total = sum((c for c in costs if c is not None), Decimal(0))
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
    expect(main.get_by_text(SMALL, exact=False).last).to_be_visible()  # labelled with who answered
