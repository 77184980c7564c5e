"""The sidebar as people meet it: the open conversation highlighted after a reload and from a
link, a link to a missing conversation said so, rows one line high on a phone (nothing wider than
the screen, the drawer closed after a pick), and the conversation settings dialog, whose Apply
confirms and whose preset is remembered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.harness import (
    IDLE_TRACKER,
    WAIT_MS,
    AppServer,
    click_and_wait,
    conversation_id,
    keyed,
    open_app,
    reload,
    script_runs,
    send_message,
    sidebar,
    wait_for_idle,
    with_title,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

LONG_TITLE = "Planning a three-week rail journey through Portugal, Spain and the south of France"


def entry(page: Page, conversation: str) -> object:
    return keyed(page, f"open_{conversation}").get_by_role("button")


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A 390×844 touch screen (an iPhone-sized window, mobile browser)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="en-US", has_touch=True, is_mobile=True, device_scale_factor=2
    )
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(IDLE_TRACKER)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_open_conversation_is_highlighted_after_a_reload_and_from_a_link(
    page: Page, browser: Browser, app_server: AppServer, stand_in: StandInGroq
) -> None:
    open_app(page, app_server.url)
    send_message(page, "Plan a trip to Lisbon")
    first = conversation_id(page)
    click_and_wait(page, keyed(page, "new_chat").get_by_role("button"))
    send_message(page, "Square numbers in Python")
    second = conversation_id(page)
    assert first and second and first != second

    reload(page)  # a new browser session, the URL naming the second
    expect(entry(page, second)).to_have_attribute("kind", "primary")
    expect(entry(page, first)).to_have_attribute("kind", "tertiary")

    link = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    link.add_init_script(IDLE_TRACKER)
    try:
        other = link.new_page()
        open_app(other, f"{app_server.url}/?c={first}")  # a shared or bookmarked link
        expect(entry(other, first)).to_have_attribute("kind", "primary")
        expect(entry(other, second)).to_have_attribute("kind", "tertiary")
    finally:
        link.close()


def test_a_link_to_a_missing_conversation_says_so(page: Page, app_server: AppServer) -> None:
    open_app(page, f"{app_server.url}/?c=0123456789abcdef0123456789abcdef")
    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_test_id("stAlertContentWarning")).to_contain_text("was not found")
    assert conversation_id(page) is None  # the URL no longer names it
    expect(sidebar(page).locator("button[kind='primary']")).to_have_count(0)


def test_the_settings_dialog_applies_confirms_and_remembers_the_preset(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    open_app(page, app_server.url)
    send_message(page, "Sort a list")
    conv = conversation_id(page)
    assert conv

    click_and_wait(page, keyed(page, f"options_open_{conv}").get_by_role("button"))
    dialog = page.get_by_test_id("stDialog").get_by_role("dialog")
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    assert box and box["width"] > 700, box  # wide enough for its form, not the sidebar's width
    preset = dialog.get_by_role("combobox", name="Preset")
    expect(preset).to_have_value("No preset")
    preset.click()
    page.get_by_role("option", name="Concise assistant").click()
    # The form takes the preset's values (a run of the dialog alone).
    expect(dialog.get_by_role("textbox", name="System prompt")).to_have_value(concise_prompt())
    apply = dialog.get_by_role("button", name="Apply")
    apply.scroll_into_view_if_needed()
    apply.click()

    expect(page.get_by_test_id("stDialog")).to_have_count(0)  # closed
    wait_for_idle(page)
    expect(page.get_by_test_id("stToast")).to_contain_text("Conversation settings applied.")
    chip = keyed(page, "conversation_chip")
    expect(chip).to_contain_text("Concise assistant")

    reload(page)
    expect(keyed(page, "conversation_chip")).to_contain_text("Concise assistant")
    click_and_wait(page, keyed(page, f"options_open_{conv}").get_by_role("button"))
    dialog = page.get_by_test_id("stDialog").get_by_role("dialog")
    expect(dialog.get_by_role("combobox", name="Preset")).to_have_value("Concise assistant")

    stand_in.reply = "Done."
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("stDialog")).to_have_count(0)
    send_message(page, "And another")
    assert stand_in.chat_requests[-1]["json"]["messages"][0]["content"] == concise_prompt()
    assert stand_in.chat_requests[-1]["json"]["temperature"] == 0.5


def concise_prompt() -> str:
    from chatbot.presets import builtin_presets

    return next(p.system_prompt for p in builtin_presets() if p.id == "builtin:concise")


ROW_HEIGHTS = """() => [...document.querySelectorAll("[data-testid='stSidebar'] [class*='st-key-open_'] button")]
  .filter(b => b.offsetParent !== null)
  .map(b => {
    const text = b.querySelector("[data-testid='stMarkdownContainer'] p") || b;
    const line = parseFloat(getComputedStyle(text).lineHeight);
    const row = b.closest("[class*='st-key-conv_row_']");  // the title and its menu
    const heights = [text, b, row].map(e => e.getBoundingClientRect().height);
    return [heights[0], line, heights[1], heights[2]];
  })"""

TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  // Cut off inside a box that is itself on the screen (a long label's ellipsis): not too wide.
  const clipped = el => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      const r = a.getBoundingClientRect();
      if (getComputedStyle(a).overflowX !== "visible" && r.left >= -1 && r.right <= width + 1) return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.closest("[data-testid='stSidebar'][data-collapsed='true']")) continue;
    if ((r.right > width + 1 || r.left < -1) && !clipped(el)) {
      wide.push(`${el.tagName}.${el.className} ${r.left}..${r.right} ${el.textContent.slice(0, 30)}`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
}"""


def test_on_a_phone_rows_are_one_line_nothing_is_too_wide_and_a_pick_closes_the_drawer(
    phone: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.reply = with_title(LONG_TITLE, "Start in Lisbon.")
    open_app(phone, app_server.url)
    send_message(phone, "A three-week rail trip, please")
    first = conversation_id(phone)
    stand_in.reply = with_title(LONG_TITLE + " (second)", "Then Madrid.")
    open_app(phone, app_server.url)  # a new chat (the sidebar, with New chat, starts closed here)
    send_message(phone, "And a second one")
    assert first

    for view in ("chat", "sidebar"):
        if view == "sidebar":
            phone.get_by_test_id("stExpandSidebarButton").click()
            expect(sidebar(phone)).to_have_attribute("data-collapsed", "false")
            expect(entry(phone, first)).to_be_in_viewport()
            phone.wait_for_function(  # it slides in: measured once in place
                "() => document.querySelector(\"[data-testid='stSidebar']\").getBoundingClientRect().left >= 0"
            )
        measured = phone.evaluate(TOO_WIDE)
        assert measured["scroll"] <= measured["width"] and not measured["wide"], (view, measured)

    heights = phone.evaluate(ROW_HEIGHTS)
    assert len(heights) == 2
    for text_height, line_height, button_height, row_height in heights:
        assert text_height < 1.5 * line_height, heights  # the title on one line, not two or three
        assert row_height < 1.5 * button_height, heights  # and its menu beside it, not under it
    # No keyboard shortcut hint on a touch screen.
    expect(keyed(phone, "new_chat").get_by_label("Shortcut", exact=False)).to_be_hidden()

    before = script_runs(phone)
    entry(phone, first).click()  # type: ignore[attr-defined]
    wait_for_idle(phone, since=before)
    assert conversation_id(phone) == first
    expect(sidebar(phone)).to_have_attribute("data-collapsed", "true")  # the drawer closed


def test_on_a_phone_history_shows_results_first_and_keeps_the_selection_bar_in_view(
    phone: Page, app_server: AppServer
) -> None:
    from chatbot.store import repo
    from tests.browser.harness import database

    open_app(phone, f"{app_server.url}/history")
    with database(f"sqlite:///{app_server.data_dir / 'chat.db'}") as sessions, sessions.begin() as s:
        for i in range(20):
            repo.create_conversation(s, "", "groq", "llama-3.1-8b-instant", title=f"Conversation number {i}")
    reload(phone)
    # The filters start collapsed: the first result is on the first screen.
    main = phone.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_text("Conversation number 19")).to_be_in_viewport()
    expect(main.get_by_text("Last active between")).to_be_hidden()

    far = phone.get_by_test_id("stCheckbox").nth(15)
    far.scroll_into_view_if_needed()
    click_and_wait(phone, far.locator("label"))
    expect(main.get_by_text("1 selected")).to_be_in_viewport()  # the bar stuck to the top
    expect(keyed(phone, "bulk_delete").get_by_role("button")).to_be_in_viewport()
    measured = phone.evaluate(TOO_WIDE)
    assert measured["scroll"] <= measured["width"] and not measured["wide"], measured
