"""Stop while a reply streams: the partial reply stays, is marked stopped, the upstream is closed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import (
    AppServer,
    conversation_id,
    database,
    message_captions,
    message_texts,
    messages,
    newest_reply,
    open_app,
    reload,
    type_message,
    wait_for_idle,
    wait_for_streamed_text,
    wait_until,
)
from tests.stand_in_groq import StandInGroq, make_reply

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

STOPPED = "Stopped: the reply above is partial."


def words(text: str) -> str:
    return " ".join(text.split())


def test_stop_keeps_the_partial_reply_and_closes_the_stream(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    full_reply = make_reply(3000)  # ~60 s at 50 tokens/s: still streaming at the Stop, even on a busy machine
    full = words(full_reply)
    stand_in.reply = full_reply
    stand_in.tokens_per_second = 50
    open_app(page, app_server.url)

    before = type_message(page, "Tell me a long story")
    wait_for_streamed_text(page, 60)  # ~12 tokens: mid-stream, far from the end
    stop = page.get_by_test_id("stChatInputStopButton")
    expect(stop).to_be_visible()
    stop.click()
    wait_for_idle(page, since=before)  # how fast is no test's business: timings belong in benchmarks/
    assert wait_until(lambda: stand_in.closed_early >= 1), "the upstream stream was not closed"
    assert len(stand_in.chat_requests) == 1
    # The page draws the reply as saved by itself (pages/_chat_view.html presses "show_final"
    # once the stopped run has ended): the Stopped mark says that redraw is done.
    reply = messages(page, "assistant").last
    expect(reply.get_by_text(STOPPED)).to_be_visible()

    shown = message_texts(page, "assistant")
    assert len(shown) == 1 and shown[0], f"partial reply not visible after stop: {shown}"
    partial = words(shown[0])
    assert full.startswith(partial) and len(partial) < len(full), partial
    assert wait_until(lambda: conversation_id(page) is not None, page=page), f"no ?c= in {page.url}"
    cid = conversation_id(page) or ""
    # The reply saved as stopped, and exactly that on the page: nothing more can reach it.
    with database(f"sqlite:///{app_server.data_dir / 'chat.db'}") as sessions:
        assert wait_until(lambda: (newest_reply(sessions, cid) or ("",))[0] == "stopped"), newest_reply(sessions, cid)
        assert words((newest_reply(sessions, cid) or ("", ""))[1]) == partial, "the screen is not the saved text"
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()

    reload(page)
    assert conversation_id(page) == cid
    assert message_texts(page, "user") == ["Tell me a long story"]
    saved = [words(t) for t in message_texts(page, "assistant")]
    assert len(saved) == 1
    assert saved[0] == partial and len(saved[0]) < len(full), saved  # what was saved is what was shown
    assert STOPPED in message_captions(page, "assistant")[0]
    assert len(stand_in.chat_requests) == 1  # reloading does not ask the model again
    assert page.page_errors == []
