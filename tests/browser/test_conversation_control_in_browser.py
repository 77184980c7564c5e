"""Regenerate with paging, edit-and-branch and the Thinking section, in a real browser.

Driven as a user drives them: the refresh button under the last reply, the pager's arrows,
a message's actions button and its edit form; checked by what the page shows (before and
after a reload) and by what the stand-in received.

Each step waits for what the user would see next (``shows``), not only for a script run to
end: a run that starts and ends while the browser is starved of CPU can reach the page in
one render, and then no run is seen to end at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.harness import (
    AppServer,
    conversation_id,
    message_texts,
    messages,
    open_app,
    reload,
    type_message,
    wait_for_idle,
    wait_until,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

T = TypeVar("T")


def numbered_replies(stand_in: StandInGroq) -> None:
    """Each answer names its question and how often that question was asked: "Answer 2 to hi".

    Keyed by the request's last message, so a request the app makes by itself (a title for
    the new chat) does not shift the numbers of the answers the user sees.
    """
    asked: dict[str, int] = {}

    def reply(body: dict[str, Any]) -> str:
        question = str(body["messages"][-1]["content"])
        asked[question] = asked.get(question, 0) + 1
        return f"Answer {asked[question]} to {question}"

    stand_in.reply = reply


def requests_ending_with(stand_in: StandInGroq, question: str) -> list[list[tuple[str, str]]]:
    """The (role, content) messages of each chat completion that asked ``question`` last."""
    return [
        [(m["role"], m["content"]) for m in r["json"]["messages"] if m["role"] != "system"]
        for r in stand_in.chat_requests
        if r["json"]["messages"][-1]["content"] == question
    ]


def shows(page: Page, read: Callable[[], T], want: T) -> T:
    """What ``read`` finds on the page once it is ``want``, or what it found last (for the
    assertion's message) when it never got there; then the app is let finish its run."""
    found = [read()]

    def there() -> bool:
        found[0] = read()
        return found[0] == want

    wait_until(there, page=page)
    wait_for_idle(page)
    return found[0]


def button(message: Locator, key_prefix: str) -> Locator:
    """The button of a widget keyed ``<key_prefix><message id>`` inside one message (Streamlit
    draws a button with a tooltip twice, one copy hidden: the visible one is what a user clicks)."""
    return message.locator(f"[class*='st-key-{key_prefix}'] button:visible")


def press(target: Locator) -> None:
    """Click, then move the pointer away as a user's hand does: a button's tooltip left open
    under the pointer covers the buttons just above it (the pager above Regenerate)."""
    target.click()
    target.page.mouse.move(0, 0)


def pager(message: Locator) -> str:
    """The "i / n" counter of a message's alternatives ("" when it has none)."""
    found = [c for c in message.get_by_test_id("stCaptionContainer").all_inner_texts() if " / " in c]
    return found[0].strip() if found else ""


def conversation(page: Page) -> tuple[list[str], list[str]]:
    """The questions and the answers shown, in order."""
    return message_texts(page, "user"), message_texts(page, "assistant")


def ask(page: Page, question: str, shown: tuple[list[str], list[str]]) -> None:
    type_message(page, question)
    assert shows(page, lambda: conversation(page), shown) == shown


# --------------------------------------------------------------------------- regenerate


def test_regenerated_answers_stay_as_alternatives_to_page_through(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    numbered_replies(stand_in)
    open_app(page, app_server.url)
    ask(page, "Hi", (["Hi"], ["Answer 1 to Hi"]))
    # The second reply is drawn as it streamed in (not by a full run): its buttons work too.
    ask(page, "Name a colour", (["Hi", "Name a colour"], ["Answer 1 to Hi", "Answer 1 to Name a colour"]))
    assert pager(messages(page, "assistant").last) == ""  # one answer: nothing to page through

    def last_reply() -> tuple[str, str]:
        """The last reply's text and its "i / n" counter, as the user sees them."""
        return message_texts(page, "assistant")[-1], pager(messages(page, "assistant").last)

    def click(key_prefix: str, want: tuple[str, str]) -> None:
        press(button(messages(page, "assistant").last, key_prefix))
        assert shows(page, last_reply, want) == want

    click("regen_", ("Answer 2 to Name a colour", "2 / 2"))
    click("regen_", ("Answer 3 to Name a colour", "3 / 3"))
    # Each regenerated request is the same history: earlier answers to it are not sent back.
    history = [("user", "Hi"), ("assistant", "Answer 1 to Hi"), ("user", "Name a colour")]
    assert requests_ending_with(stand_in, "Name a colour") == [history] * 3

    # Back to the first answer, one step at a time, then forward again.
    click("prev_", ("Answer 2 to Name a colour", "2 / 3"))
    click("prev_", ("Answer 1 to Name a colour", "1 / 3"))
    expect(button(messages(page, "assistant").last, "prev_")).to_be_disabled()
    click("next_", ("Answer 2 to Name a colour", "2 / 3"))
    # Paging changes that one reply: the rest of the conversation stays as it was.
    assert conversation(page) == (["Hi", "Name a colour"], ["Answer 1 to Hi", "Answer 2 to Name a colour"])

    # A reload opens the answer last looked at, with all three still there.
    cid = conversation_id(page)
    reload(page)
    assert conversation_id(page) == cid
    assert shows(page, last_reply, ("Answer 2 to Name a colour", "2 / 3")) == ("Answer 2 to Name a colour", "2 / 3")
    click("next_", ("Answer 3 to Name a colour", "3 / 3"))
    expect(button(messages(page, "assistant").last, "next_")).to_be_disabled()
    assert len(requests_ending_with(stand_in, "Name a colour")) == 3  # paging asks the model nothing

    # An older reply regenerates too: a new answer to its question, on a branch of its own.
    press(button(messages(page, "assistant").first, "regen_"))
    regenerated = (["Hi"], ["Answer 2 to Hi"])
    assert shows(page, lambda: conversation(page), regenerated) == regenerated
    assert pager(messages(page, "assistant").first) == "2 / 2"
    assert requests_ending_with(stand_in, "Hi")[-1] == [("user", "Hi")]
    press(button(messages(page, "assistant").first, "prev_"))  # the old branch, whole
    whole = (["Hi", "Name a colour"], ["Answer 1 to Hi", "Answer 3 to Name a colour"])
    assert shows(page, lambda: conversation(page), whole) == whole
    assert page.page_errors == []


# --------------------------------------------------------------------------- edit


def test_editing_a_question_branches_and_the_old_branch_stays_reachable(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    numbered_replies(stand_in)
    open_app(page, app_server.url)
    ask(page, "What is 2+2?", (["What is 2+2?"], ["Answer 1 to What is 2+2?"]))
    old_branch = (["What is 2+2?", "And 3+3?"], ["Answer 1 to What is 2+2?", "Answer 1 to And 3+3?"])
    ask(page, "And 3+3?", old_branch)

    question = messages(page, "user").first
    press(button(question, "edit_"))
    editor = question.get_by_test_id("stTextArea").locator("textarea")
    expect(editor).to_have_value("What is 2+2?")
    wait_for_idle(page)
    editor.fill("What is 2+5?")
    press(button(question, "resend_"))
    new_branch = (["What is 2+5?"], ["Answer 1 to What is 2+5?"])
    assert shows(page, lambda: conversation(page), new_branch) == new_branch  # the later exchange is gone
    # The edited request holds the history up to the edit point only: nothing after it.
    assert requests_ending_with(stand_in, "What is 2+5?") == [[("user", "What is 2+5?")]]

    def first_question() -> tuple[str, str]:
        return message_texts(page, "user")[0], pager(messages(page, "user").first)

    assert first_question() == ("What is 2+5?", "2 / 2")

    # The earlier branch, whole: the original question, its answer and the exchange after it.
    press(button(messages(page, "user").first, "prev_"))
    assert shows(page, first_question, ("What is 2+2?", "1 / 2")) == ("What is 2+2?", "1 / 2")
    assert conversation(page) == old_branch

    press(button(messages(page, "user").first, "next_"))
    assert shows(page, lambda: conversation(page), new_branch) == new_branch
    cid = conversation_id(page)
    reload(page)
    assert conversation_id(page) == cid
    assert shows(page, lambda: conversation(page), new_branch) == new_branch
    assert first_question() == ("What is 2+5?", "2 / 2")

    # The new branch goes on from the edit: its history is the edited exchange.
    ask(page, "And 4+4?", (["What is 2+5?", "And 4+4?"], ["Answer 1 to What is 2+5?", "Answer 1 to And 4+4?"]))
    assert requests_ending_with(stand_in, "And 4+4?") == [
        [("user", "What is 2+5?"), ("assistant", "Answer 1 to What is 2+5?"), ("user", "And 4+4?")]
    ]
    assert page.page_errors == []


# --------------------------------------------------------------------------- thinking

REASONING = "The user greets me. A short, friendly answer fits best."
ANSWER = "Hi! What shall we talk about?"
REASONING_2 = "Now they ask about the weather; I cannot know it."
ANSWER_2 = "I cannot see the weather, sorry."


def check_thinking(reply: Locator, reasoning: str, answer: str) -> None:
    """One "Thinking" section holding the reasoning (opened as a user would), the answer apart."""
    section = reply.get_by_test_id("stExpander")
    expect(section).to_have_count(1)
    summary = section.locator("summary")
    label = summary.get_by_test_id("stMarkdownContainer")
    expect(label).to_have_text(re.compile(r"^Thinking( · .+)?$"))  # the label (and how long), not its icon
    if section.locator("details").get_attribute("open") is None:
        summary.click()  # collapsed: the user opens it
    expect(section.get_by_test_id("stExpanderDetails")).to_have_text(reasoning)
    outside = reply.evaluate(
        """m => [...m.querySelectorAll("[data-testid='stMarkdownContainer']")]
            .filter(e => !e.closest("[data-testid='stExpander']")).map(e => e.innerText.trim())"""
    )
    assert answer in outside, outside
    assert not any(reasoning in text for text in outside), outside


def test_a_reasoning_model_shows_its_thinking_apart_from_the_answer(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.reasoning = REASONING
    stand_in.reply = ANSWER
    open_app(page, app_server.url)
    ask(page, "Hello", (["Hello"], [ANSWER]))  # a new chat: drawn again by the run that lists it
    assert stand_in.chat_requests[-1]["json"]["model"].startswith("openai/gpt-oss")  # a reasoning model
    check_thinking(messages(page, "assistant").last, REASONING, ANSWER)

    stand_in.reasoning, stand_in.reply = REASONING_2, ANSWER_2
    ask(page, "How is the weather?", (["Hello", "How is the weather?"], [ANSWER, ANSWER_2]))  # drawn as it streamed
    check_thinking(messages(page, "assistant").last, REASONING_2, ANSWER_2)

    reload(page)
    assert shows(page, lambda: message_texts(page, "assistant"), [ANSWER, ANSWER_2]) == [ANSWER, ANSWER_2]
    first, second = messages(page, "assistant").all()
    check_thinking(first, REASONING, ANSWER)
    check_thinking(second, REASONING_2, ANSWER_2)
    # The reasoning is its own field: not part of the history sent back to the model.
    history = requests_ending_with(stand_in, "How is the weather?")[0]
    assert ("assistant", ANSWER) in history and all(REASONING not in text for _, text in history)
    assert page.page_errors == []
