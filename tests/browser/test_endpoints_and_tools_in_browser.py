"""In Chromium: a llama.cpp server as an OpenAI-compatible endpoint (its model chosen in the
sidebar, a streamed multi-turn chat, its death mid-reply explained with the partial kept), and
Groq's web search and code run with their sources and code shown under the reply, as data,
after a reload too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from chatbot.providers.local import find_model_file
from chatbot.store.models import Message
from tests.browser.harness import (
    WAIT_MS,
    AppServer,
    click_and_wait,
    conversation_id,
    database,
    message_texts,
    messages,
    newest_reply,
    open_app,
    reload,
    script_runs,
    send_message,
    sidebar,
    type_message,
    wait_for_idle,
    wait_until,
)
from tests.stand_in_groq import StandInGroq
from tests.test_builtin_tools import HOSTILE
from tests.test_openai_endpoints import ALIAS, KEY, LlamaServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def choose_model(page: Page, label: str) -> None:
    box = sidebar(page).get_by_test_id("stSelectbox").filter(has_text="Model").first
    box.click()
    option = page.get_by_role("option").filter(has_text=label).first
    expect(option).to_be_visible()
    before = script_runs(page)
    option.click()
    wait_for_idle(page, since=before)


def test_a_llama_cpp_endpoint_chats_and_its_death_is_explained(
    page: Page, app_servers: Callable[..., AppServer]
) -> None:
    llama = LlamaServer()
    try:
        endpoints = {"llama": {"base_url": llama.base_url, "api_key_env": "LLAMA_API_KEY"}}
        app = app_servers({"GROQ_CHAT_ENDPOINTS": json.dumps(endpoints), "LLAMA_API_KEY": KEY})
        open_app(page, app.url)
        choose_model(page, f"{ALIAS} · llama")

        send_message(page, "Name a colour.")
        send_message(page, "And another one?")
        replies = message_texts(page, "assistant")
        assert len(replies) == 2 and all(r.strip() for r in replies), replies

        before = type_message(page, "Write a very long story about a ship and its crew.")
        # The third reply, mid-stream (the earlier replies already have text of their own).
        assert wait_until(lambda: len(streamed := message_texts(page, "assistant")) == 3 and len(streamed[-1]) >= 20)
        os.kill(llama.process.pid, signal.SIGKILL)
        wait_for_idle(page, since=before)
    finally:
        llama.stop()

    last = messages(page, "assistant").last
    expect(last.get_by_text("The reply was cut off before it finished.", exact=False).first).to_be_visible()
    partial = message_texts(page, "assistant")[-1]
    assert partial.strip()
    cid = conversation_id(page)
    assert cid
    with database(f"sqlite:///{app.data_dir / 'chat.db'}") as sessions:
        status, content = newest_reply(sessions, cid) or ("", "")
    assert status == "interrupted" and content.strip()
    reload(page)  # the partial reply stays, marked
    assert message_texts(page, "assistant")[-1].strip() == content.strip()


def test_web_search_and_code_are_shown_under_the_reply_as_data(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.search_results = HOSTILE
    stand_in.reply = "It is there 【0†L1-L3】, and 2 + 2 is 4【1†L4-L9】."  # gpt-oss's citation marks
    open_app(page, app_server.url)  # the default model is gpt-oss: the switches are offered
    click_and_wait(page, sidebar(page).get_by_text("Search the web", exact=True))
    click_and_wait(page, sidebar(page).get_by_text("Run code", exact=True))
    send_message(page, "Find it and compute 2 + 2")
    sent = stand_in.chat_requests[-1]["json"]
    assert sent["tools"] == [{"type": "browser_search"}, {"type": "code_interpreter"}]

    for attempt in ("as streamed", "after a reload"):
        section = messages(page, "assistant").last.get_by_test_id("stExpander").filter(has_text="Tools used")
        section.get_by_text("Tools used").click()
        link = section.locator("a[href^='https://evil.example/page']")
        expect(link).to_be_visible(timeout=WAIT_MS)
        assert link.get_attribute("target") == "_blank", attempt
        assert "noopener" in (link.get_attribute("rel") or "") and "noreferrer" in (link.get_attribute("rel") or "")
        assert "<img src=x onerror=alert(1)>" in link.inner_text(), attempt  # the title, as text
        assert section.locator("img").count() == 0, attempt  # nothing from a result loads an image
        assert section.locator("a[href^='javascript:']").count() == 0, attempt
        expect(section.get_by_text("print(2 + 2)")).to_be_visible()
        expect(section.get_by_test_id("stCode").filter(has_text="4").last).to_be_visible()
        # The marks' numbers are not documented to match the listed sources: removed, cleanly.
        assert message_texts(page, "assistant")[-1].startswith("It is there, and 2 + 2 is 4."), attempt
        if attempt == "as streamed":
            reload(page)
    assert wait_until(lambda: conversation_id(page) is not None, page=page)


def test_the_built_in_provider_runs_a_gguf_file_of_ones_own(
    page: Page, app_servers: Callable[..., AppServer], tmp_path: Path
) -> None:
    own = tmp_path / "My-Own-Model-Q4.gguf"
    shutil.copyfile(find_model_file(), own)  # the only GGUF model at hand, under another name
    app = app_servers({"GROQ_CHAT_LOCAL_MODEL": str(own)})
    open_app(page, app.url)
    choose_model(page, "My-Own-Model-Q4")
    expect(sidebar(page).get_by_text("is a tiny demo", exact=False)).to_have_count(0)
    send_message(page, "Say hello.")
    assert message_texts(page, "assistant")[-1].strip()
    cid = conversation_id(page)
    assert cid
    with database(f"sqlite:///{app.data_dir / 'chat.db'}") as sessions, sessions() as s:
        model = s.scalars(select(Message.model).where(Message.role == "assistant")).one()
    assert model == "My-Own-Model-Q4"
