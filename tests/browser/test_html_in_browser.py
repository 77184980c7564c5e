"""Text that looks like HTML is shown as text: nothing from a message runs in the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import WAIT_MS, AppServer, message_texts, messages, open_app, reload, send_message
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>window.__x=1</script>"

# An image of the same broken source, put in the page now: its error handler runs after those
# of any image the page already held (the same failed request, made earlier).
PROBE = """() => {
  window.__probed = false;
  const probe = new Image();
  probe.onerror = probe.onload = () => { window.__probed = true; };
  probe.src = "x";
}"""


def assert_nothing_ran(page: Page) -> None:
    page.evaluate(PROBE)  # an onerror handler would fire after the failed image load
    page.wait_for_function("() => window.__probed", timeout=WAIT_MS)
    assert page.dialogs == [], f"a dialog was opened: {page.dialogs}"
    assert page.evaluate("() => typeof window.__x") == "undefined"
    chat = page.get_by_test_id("stMainBlockContainer")
    expect(chat.locator("img[src='x'], img[onerror]")).to_have_count(0)
    # No script element but the page's own static ones (open at the newest message, show a
    # search hit), each in its keyed container.
    own = ".st-key-chat_view script, .st-key-found_message_script script"
    assert chat.locator("script").count() == chat.locator(own).count()
    assert chat.get_by_test_id("stChatMessage").locator("script").count() == 0


def test_html_in_messages_is_text_not_markup(page: Page, app_server: AppServer, stand_in: StandInGroq) -> None:
    # The model echoes it back too, so both the user's and the assistant's rendering are covered.
    stand_in.reply = f"You wrote {IMG} and {SCRIPT}"
    open_app(page, app_server.url)

    send_message(page, IMG)
    assert_nothing_ran(page)
    send_message(page, SCRIPT)
    assert_nothing_ran(page)

    user = message_texts(page, "user")
    assert user == [IMG, SCRIPT], f"the text was not shown as typed: {user}"
    for reply in message_texts(page, "assistant"):
        assert reply == f"You wrote {IMG} and {SCRIPT}"
    assert [r["json"]["messages"][-1]["content"] for r in stand_in.chat_requests] == [IMG, SCRIPT]

    reload(page)  # from the database this time
    assert message_texts(page, "user") == [IMG, SCRIPT]
    expect(messages(page, "assistant")).to_have_count(2)
    assert_nothing_ran(page)
    assert page.page_errors == []
