"""The sidebar: "New chat" starts an empty chat; earlier conversations are listed and reopen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import (
    AppServer,
    click_and_wait,
    conversation_id,
    keyed,
    message_texts,
    messages,
    open_app,
    reload,
    send_message,
    sidebar,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

EMPTY_TITLE = "What can I help with?"


def test_new_chat_then_reopen_an_earlier_conversation(page: Page, app_server: AppServer, stand_in: StandInGroq) -> None:
    open_app(page, app_server.url)
    stand_in.reply = "Lisbon in three days: Alfama, Belém, Sintra."
    send_message(page, "Plan a trip to Lisbon")
    first = conversation_id(page)
    assert first
    first_entry = keyed(page, f"open_{first}").get_by_role("button")
    expect(first_entry).to_have_text("Plan a trip to Lisbon")
    expect(first_entry).to_have_attribute("kind", "primary")  # the open conversation is highlighted

    click_and_wait(page, keyed(page, "new_chat").get_by_role("button"))
    assert conversation_id(page) is None
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_role("heading", level=1)).to_have_text(EMPTY_TITLE)
    expect(messages(page)).to_have_count(0)
    expect(first_entry).to_be_visible()
    expect(first_entry).to_have_attribute("kind", "tertiary")

    stand_in.reply = "Use a list comprehension."
    send_message(page, "How do I square numbers in Python?")
    second = conversation_id(page)
    assert second and second != first
    assert message_texts(page) == ["How do I square numbers in Python?", "Use a list comprehension."]
    entries = sidebar(page).locator("[class*='st-key-open_']")
    expect(entries).to_have_count(2)
    expect(entries.first).to_have_text("How do I square numbers in Python?")  # newest first

    click_and_wait(page, first_entry)
    assert message_texts(page) == ["Plan a trip to Lisbon", "Lisbon in three days: Alfama, Belém, Sintra."]
    expect(main.get_by_role("heading", level=1, name=EMPTY_TITLE)).to_have_count(0)
    expect(first_entry).to_have_attribute("kind", "primary")
    assert len(stand_in.chat_requests) == 2
    assert page.page_errors == []


def test_conversation_opened_from_the_sidebar_is_in_the_url_and_survives_reload(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    """st.switch_page clears query params unless given them: ?c= must survive opening a chat."""
    open_app(page, app_server.url)
    send_message(page, "Plan a trip to Lisbon")
    first = conversation_id(page)
    click_and_wait(page, keyed(page, "new_chat").get_by_role("button"))
    click_and_wait(page, keyed(page, f"open_{first}").get_by_role("button"))
    expect(messages(page)).to_have_count(2)
    assert conversation_id(page) == first, "the URL does not name the open conversation"

    reload(page)
    assert message_texts(page, "user") == ["Plan a trip to Lisbon"], "reload lost the conversation"
    assert conversation_id(page) == first


def test_a_long_title_is_cut_on_one_line_beside_its_menu(page: Page, app_server: AppServer) -> None:
    open_app(page, app_server.url)
    send_message(page, "Please compare the long-term maintenance costs of three database engines for a small team")
    first = conversation_id(page)

    def beside_its_menu() -> None:
        entry = keyed(page, f"open_{first}").get_by_role("button")
        menu = keyed(page, f"menu_{first}").get_by_role("button")
        title, options = entry.bounding_box(), menu.bounding_box()
        assert title and options
        assert abs((title["y"] + title["height"] / 2) - (options["y"] + options["height"] / 2)) < 4
        assert options["x"] > title["x"] + title["width"] - 4  # to its right, not under it
        assert title["height"] < 48  # one line

    beside_its_menu()  # open: the highlighted entry
    click_and_wait(page, keyed(page, "new_chat").get_by_role("button"))
    beside_its_menu()  # and as one of the others
