"""One chat turn in a real browser: streamed reply, reload, a second turn with history."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import (
    REPLY,
    AppServer,
    conversation_id,
    message_texts,
    messages,
    open_app,
    reload,
    send_message,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

REPLY_TEXT = "Hello there! How can I help?"  # REPLY as rendered Markdown


def test_chat_turn_survives_reload_and_history_reaches_the_model(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    open_app(page, app_server.url)
    expect(page.get_by_test_id("stMainBlockContainer")).to_contain_text("What can I help with?")

    send_message(page, "What is the capital of France?")

    assert message_texts(page, "user") == ["What is the capital of France?"]
    assert message_texts(page, "assistant") == [REPLY_TEXT]
    expect(messages(page, "assistant").locator("strong")).to_have_text("there")  # Markdown rendered
    cid = conversation_id(page)
    assert cid, f"no ?c= in {page.url}"

    reload(page)
    assert conversation_id(page) == cid
    assert message_texts(page, "user") == ["What is the capital of France?"]
    assert message_texts(page, "assistant") == [REPLY_TEXT]

    stand_in.reply = "Paris, still."
    send_message(page, "And of Italy?")
    assert message_texts(page, "user") == ["What is the capital of France?", "And of Italy?"]
    assert message_texts(page, "assistant") == [REPLY_TEXT, "Paris, still."]
    assert conversation_id(page) == cid

    chats = stand_in.chat_requests
    assert len(chats) == 2
    sent = [(m["role"], m["content"]) for m in chats[-1]["json"]["messages"] if m["role"] != "system"]
    assert sent == [
        ("user", "What is the capital of France?"),
        ("assistant", REPLY),
        ("user", "And of Italy?"),
    ]
    assert chats[-1]["json"]["stream"] is True
    assert page.page_errors == []
