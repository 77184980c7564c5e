"""Opening a long conversation in a real browser: the page shows its newest message at once,
not after a scroll animated down from the top, and leaves the scrolling to the user after."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from chatbot.store import repo
from chatbot.store.db import open_database
from tests.browser.harness import WAIT_MS, AppServer, messages, open_app, wait_for_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# Every position the page's scroll container takes, from the first paint on, with the page's
# height and the view's at that moment.
SCROLL_RECORDER = """
(() => {
  window.__scrolls = [];
  document.addEventListener("scroll", (event) => {
    const el = event.target;
    if (el.id === "stMain") {
      window.__scrolls.push([Math.round(el.scrollTop), el.scrollHeight, el.clientHeight]);
    }
  }, true);
})();
"""


def seed(server: AppServer, turns: int) -> str:
    engine, sessions = open_database(f"sqlite:///{server.data_dir / 'chat.db'}")
    try:
        with sessions.begin() as s:
            conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-20b", title="Long answers")
            parent = None
            for i in range(turns):
                question = repo.add_message(s, conv.id, role="user", content=f"Question {i}?", parent_id=parent)
                paragraphs = "\n\n".join(f"Point {i}.{p}: " + "a rather long sentence " * 12 for p in range(6))
                parent = repo.add_message(
                    s, conv.id, role="assistant", content=f"Answer {i}.\n\n{paragraphs}", parent_id=question.id
                ).id
            conv.current_message_id = parent
            return conv.id
    finally:
        engine.dispose()


AT_BOTTOM = """() => {
  const el = document.getElementById("stMain");
  return !!el && el.scrollHeight - el.clientHeight - el.scrollTop <= 1;
}"""


def in_view(page: Page) -> bool:
    return bool(
        messages(page).last.evaluate(
            "el => { const b = el.getBoundingClientRect(); return b.bottom > 0 && b.top < innerHeight; }"
        )
    )


def test_a_long_conversation_opens_at_its_newest_message(page: Page, app_server: AppServer) -> None:
    conversation = seed(app_server, turns=60)
    page.add_init_script(SCROLL_RECORDER)
    open_app(page, f"{app_server.url}/?c={conversation}")
    assert "Answer 59." in messages(page).last.inner_text()
    container = page.locator("#stMain")
    height, view = container.evaluate("el => [el.scrollHeight, el.clientHeight]")
    assert height > 3 * view  # several screens of text: an animated scroll would take a while
    # At the bottom: a scroll there, animated or not, has ended (every position on its way recorded).
    page.wait_for_function(AT_BOTTOM, timeout=WAIT_MS)
    assert in_view(page)
    # From the top to the bottom in a jump. An animation moves the page a step a frame while its
    # height stays the same, dozens of steps short of the bottom. Keeping to the bottom while the
    # messages are drawn moves it only as the page grows: however slowly the browser draws
    # (a busy machine), those steps are not counted. The page may take a few before the jump.
    scrolls = page.evaluate("() => window.__scrolls")
    animated = [
        top
        for (top, high, seen), (_, before, _) in zip(scrolls[1:], scrolls, strict=False)
        if high == before and 0 < top < high - seen - 5
    ]
    assert len(animated) < 10, scrolls

    # Later runs leave the scrolling to the user: scrolled up, a rerun does not pull the page down.
    container.evaluate("el => { el.scrollTop = 0; }")
    page.mouse.move(640, 300)
    page.mouse.wheel(0, -2000)
    # Two frames drawn since the wheel: the page (and Streamlit's stick-to-bottom) have handled it.
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert not page.evaluate(AT_BOTTOM)
    load_earlier = page.get_by_role("button", name="earlier")
    load_earlier.click()
    wait_for_idle(page, settle_ms=600)
    assert not in_view(page)
