"""The chat surface in a real browser: the page goes to the newest message after every action
that adds to the bottom and follows the stream, a jump button when it is not at the bottom, the
final state after Stop drawn at once, copy, and thumbs that are stored, shown again and exported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import (
    WAIT_MS,
    AppServer,
    chat_input,
    click_and_wait,
    conversation_id,
    database,
    message_captions,
    message_texts,
    messages,
    newest_reply,
    open_app,
    reload,
    script_runs,
    type_message,
    wait_for_idle,
    wait_for_streamed_text,
    wait_until,
)
from tests.browser.test_open_in_browser import seed
from tests.stand_in_groq import StandInGroq, make_reply

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

# The last message's foot is on screen, above the chat input.
LAST_IN_VIEW = """() => {
  const all = document.querySelectorAll("[data-testid='stMain'] [data-testid='stChatMessage']");
  const last = all[all.length - 1];
  if (!last) return false;
  const box = last.getBoundingClientRect();
  const input = document.querySelector("[data-testid='stBottom']");
  const limit = input ? input.getBoundingClientRect().top : innerHeight;
  return box.bottom > 0 && box.bottom <= limit + 2;
}"""
# ... while a reply is still streaming (the script run is going on): the page follows it.
STREAMING_IN_VIEW = f"""() => document.querySelector("[data-testid='stApp']")
  .getAttribute("data-test-script-state") === "running" && ({LAST_IN_VIEW})()"""
JUMP = "Jump to the newest message"
# Resolves after ``n`` animation frames: a count of the page's own steps, not a pause.
FRAMES = "(n) => new Promise(done => { const f = () => n-- > 0 ? requestAnimationFrame(f) : done(); f(); })"
GAP = "() => { const el = document.getElementById('stMain'); return el.scrollHeight - el.clientHeight - el.scrollTop; }"


def scroll_up(page: Page) -> None:
    """The reader scrolls up with the wheel, far from the newest message."""
    page.mouse.move(700, 400)
    page.mouse.wheel(0, -200_000)
    page.wait_for_function(f"() => ({GAP})() > 1500", timeout=WAIT_MS)


def stop(page: Page) -> None:
    """Stop the reply (a sent message's), or let it end (a button's run offers no Stop)."""
    before = script_runs(page)
    button = page.get_by_test_id("stChatInputStopButton")
    if button.count():
        button.click()
    wait_for_idle(page, since=before)


def send(page: Page, text: str) -> int:
    """Type and send ``text`` once the chat input takes it (not while a run goes on); the run
    count before, for wait_for_idle."""
    expect(chat_input(page)).to_be_enabled()
    before = type_message(page, text)
    expect(messages(page, "user").last).to_contain_text(text)
    return before


def long_slow_reply(stand_in: StandInGroq) -> None:
    stand_in.reply = make_reply(3000)  # a minute at 50 tokens/s: still streaming while the page is checked
    stand_in.tokens_per_second = 50
    stand_in.limit_tokens = 1_000_000  # a long conversation and its replies fit the tokens-per-minute limit


def test_every_action_that_adds_to_the_bottom_brings_the_page_there(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    conversation = seed(app_server, turns=20)
    open_app(page, f"{app_server.url}/?c={conversation}")
    page.wait_for_function(LAST_IN_VIEW, timeout=WAIT_MS)  # opened at its newest message

    # Scrolled up: a button to jump back, which works.
    jump = page.get_by_role("button", name=JUMP)
    expect(jump).to_be_hidden()
    scroll_up(page)
    expect(jump).to_be_visible()
    jump.click()
    page.wait_for_function(LAST_IN_VIEW, timeout=WAIT_MS)
    expect(jump).to_be_hidden()

    # Sending while scrolled up: the question and the streaming reply are followed.
    long_slow_reply(stand_in)
    scroll_up(page)
    send(page, "Tell me a long story")
    page.wait_for_function(STREAMING_IN_VIEW, timeout=WAIT_MS)
    stop(page)
    expect(messages(page, "assistant").last.get_by_text("Stopped", exact=False)).to_be_visible()

    # Continue, from up the page (the click brings its button into view, not the page's bottom).
    scroll_up(page)
    page.get_by_role("button", name="Continue this reply").last.click()
    page.wait_for_function(STREAMING_IN_VIEW, timeout=WAIT_MS)
    stop(page)

    scroll_up(page)
    page.get_by_role("button", name="Regenerate (the current answer is kept)").last.click()
    page.wait_for_function(STREAMING_IN_VIEW, timeout=WAIT_MS)
    stop(page)

    # An error reply (a daily limit: not retried by itself) is at the bottom, in view; so is Retry's reply.
    stand_in.fail_next("429", window="RPD", limit_type="requests", retry_after=3600)
    scroll_up(page)
    before = send(page, "And another one")
    wait_for_idle(page, since=before)
    page.wait_for_function(LAST_IN_VIEW, timeout=WAIT_MS)
    retry = page.get_by_role("button", name="Retry").last
    expect(retry).to_be_visible()
    scroll_up(page)
    retry.click()
    page.wait_for_function(STREAMING_IN_VIEW, timeout=WAIT_MS)

    # Scrolling up during the stream stops the following: the page stays where the reader is.
    scroll_up(page)
    wait_for_streamed_text(page, 400)
    assert page.evaluate(GAP) > 1500
    expect(jump).to_be_visible()
    stop(page)
    assert page.page_errors == []


def test_a_message_brought_into_view_without_the_wheel_stays_in_view(page: Page, app_server: AppServer) -> None:
    """Find in page, Tab to a button and screen readers scroll the page themselves: the page must
    stay where they put it, not be pulled back to the newest message."""
    conversation = seed(app_server, turns=20)
    open_app(page, f"{app_server.url}/?c={conversation}")
    page.wait_for_function(LAST_IN_VIEW, timeout=WAIT_MS)
    first = messages(page).first
    first.scroll_into_view_if_needed()  # as the browser does for a find-in-page match
    expect(page.get_by_role("button", name=JUMP)).to_be_visible()
    # Many frames later (the script looks every frame), the first message is still on screen.
    page.evaluate(FRAMES, 30)
    expect(first).to_be_in_viewport()
    assert page.evaluate(GAP) > 1500
    assert page.page_errors == []


def test_after_stop_the_reply_is_drawn_as_saved_without_any_other_action(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    long_slow_reply(stand_in)
    open_app(page, app_server.url)
    type_message(page, "Tell me a long story")
    wait_for_streamed_text(page, 60)
    page.get_by_test_id("stChatInputStopButton").click()

    reply = messages(page, "assistant").last
    # At once, with nothing pressed: the mark, Continue and Regenerate, usage (estimated: ≈).
    expect(reply.get_by_text("Stopped: the reply above is partial.")).to_be_visible()
    expect(reply.get_by_role("button", name="Continue this reply")).to_be_visible()
    expect(reply.get_by_role("button", name="Regenerate (the current answer is kept)")).to_be_visible()
    expect(reply.get_by_text("≈", exact=False).first).to_be_visible()
    assert wait_until(lambda: stand_in.closed_early >= 1, page=page)
    cid = conversation_id(page) or ""
    with database(f"sqlite:///{app_server.data_dir / 'chat.db'}") as sessions:
        assert wait_until(lambda: (newest_reply(sessions, cid) or ("",))[0] == "stopped", page=page)
        saved = (newest_reply(sessions, cid) or ("", ""))[1]
    # Exactly the saved text: not a few tokens short of it.
    shown = " ".join(message_texts(page, "assistant")[-1].split())
    assert shown == " ".join(saved.split()) and shown
    assert any("≈" in c for c in message_captions(page, "assistant")[-1])
    assert page.page_errors == []


def test_copy_and_feedback(page: Page, app_server: AppServer, stand_in: StandInGroq) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_server.url)
    stand_in.reply = "Hello **there**! See `code`."
    open_app(page, app_server.url)
    before = type_message(page, "Hi")
    wait_for_idle(page, since=before)
    reply = messages(page, "assistant").last
    expect(reply.get_by_text("Hello there!", exact=False)).to_be_visible()

    # Copy: the Markdown source, not the text drawn from it.
    reply.get_by_role("button", name="Copy the message (its Markdown)").click()
    assert wait_until(
        lambda: page.evaluate("() => navigator.clipboard.readText()") == "Hello **there**! See `code`.", page=page
    )
    messages(page, "user").last.get_by_role("button", name="Copy the message (its Markdown)").click()
    assert wait_until(lambda: page.evaluate("() => navigator.clipboard.readText()") == "Hi", page=page)

    # Thumbs down: stored, shown again after a reload, in the export.
    cid = conversation_id(page) or ""
    click_and_wait(page, reply.get_by_role("radio", name="Thumbs down"))
    with database(f"sqlite:///{app_server.data_dir / 'chat.db'}") as sessions:
        from sqlalchemy import select

        from chatbot.store.models import Message

        def stored() -> list[int | None]:
            with sessions() as s:
                return list(s.scalars(select(Message.feedback).where(Message.role == "assistant")))

        assert wait_until(lambda: stored() == [-1], page=page), stored()
    reload(page)
    assert conversation_id(page) == cid
    reply = messages(page, "assistant").last
    expect(reply.get_by_role("radio", name="Thumbs down")).to_have_attribute("aria-checked", "true")
    expect(reply.get_by_role("radio", name="Thumbs up")).to_have_attribute("aria-checked", "false")
    # Drawn again from the database, the copy buttons still copy each message's own source.
    messages(page, "user").last.get_by_role("button", name="Copy the message (its Markdown)").click()
    assert wait_until(lambda: page.evaluate("() => navigator.clipboard.readText()") == "Hi", page=page)
    reply.get_by_role("button", name="Copy the message (its Markdown)").click()
    assert wait_until(
        lambda: page.evaluate("() => navigator.clipboard.readText()") == "Hello **there**! See `code`.", page=page
    )

    with page.expect_download(timeout=WAIT_MS) as download:
        page.get_by_test_id("stSidebar").get_by_role("button", name="JSON").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    [conversation] = exported["conversations"]
    assert [m["feedback"] for m in conversation["messages"] if m["role"] == "assistant"] == [-1]
    assert page.page_errors == []
