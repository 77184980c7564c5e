"""Screenshots for the README: the app against the stand-in Groq server, in headless Chromium.

python -m docs.make_screenshots
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect, sync_playwright

from chatbot.history import TITLE_PROMPT
from tests.browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE_TRACKER,
    chat_input,
    click_and_wait,
    open_app,
    script_runs,
    send_message,
    sidebar,
    start_app_server,
    wait_for_idle,
    with_title,
)
from tests.stand_in_groq import StandInGroq

OUT = Path(__file__).parent / "screenshots"
REPLY = """Groq serves open models on its own LPU chips, so replies stream at hundreds of tokens per second.

```python
from groq import Groq

client = Groq()
stream = client.chat.completions.create(
    model="openai/gpt-oss-20b",
    messages=[{"role": "user", "content": "Hello"}],
    stream=True,
)
for chunk in stream:
    print(chunk.choices[0].delta.content or "", end="")
```

The **timings** under each reply come from `x_groq.usage`."""
TITLE = "Streaming Groq replies in Python"  # the stand-in's answer to the app's title request
VISION = "qwen/qwen3.8-27b"
COMPARED = {
    "llama-3.1-8b-instant": "An LPU is a chip Groq built for inference: the model's weights stay in on-chip "
    "memory, so each token is computed without waiting for external memory.",
    "openai/gpt-oss-20b": "Groq's Language Processing Unit runs a model as one fixed, compiled pipeline. "
    "Because the schedule is known in advance, latency is predictable and tokens stream quickly.",
}
SEEN = "A sunset over the sea, in orange and violet bands. `sort.py` returns a sorted copy of a list."


def compared_or_seen(body: dict[str, Any]) -> str:
    """Each compared model's answer, a title for the title request, else the vision answer."""
    if (body.get("messages") or [{}])[0].get("content") == TITLE_PROMPT:
        return "A picture and sort.py" if "picture" in str(body["messages"][1:]) else "What an LPU is"
    return COMPARED.get(body["model"], SEEN)


def new_page(browser: Browser, **options: Any) -> Page:
    page = browser.new_page(**{"viewport": {"width": 1280, "height": 860}, "locale": "en-US", **options})
    page.add_init_script(IDLE_TRACKER)
    return page


def sunset() -> bytes:
    """A small picture to attach (drawn here: nothing is downloaded)."""
    picture = Image.new("RGB", (640, 400))
    draw = ImageDraw.Draw(picture)
    for y in range(400):
        draw.line([(0, y), (640, y)], fill=(255 - y // 3, 120 + y // 5, 80 + y // 3))
    draw.ellipse((250, 150, 390, 290), fill=(255, 210, 90))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def attachments(page: Page, url: str) -> None:
    """A question with a picture and a code file, on a vision model; the reply read aloud."""
    open_app(page, url)
    sidebar(page).get_by_test_id("stSelectbox").filter(has_text="Model").first.click()
    before = script_runs(page)
    page.get_by_role("option").filter(has_text=VISION).first.click()
    wait_for_idle(page, since=before)
    box = page.get_by_test_id("stChatInput")
    box.locator("[data-testid='stChatInputFileUploadButton'] input[type='file']").set_input_files(
        [
            {"name": "sunset.png", "mimeType": "image/png", "buffer": sunset()},
            {"name": "sort.py", "mimeType": "text/x-python", "buffer": b"def sort(xs):\n    return sorted(xs)\n"},
        ]
    )
    expect(box.get_by_test_id("stFileChipIconSpinner")).to_have_count(0)
    chat_input(page).fill("What is in this picture, and what does sort.py do?")
    before = script_runs(page)
    chat_input(page).press("Enter")
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text("sorted copy")
    wait_for_idle(page, since=before)
    click_and_wait(page, page.get_by_role("button", name="Read aloud").last)
    expect(page.get_by_test_id("stAudio")).to_have_count(1)


def comparison(page: Page, url: str) -> None:
    """Two models answering one question side by side."""
    open_app(page, url)
    for model in COMPARED:
        box = sidebar(page).get_by_test_id("stMultiSelect")
        box.locator("input").click()
        box.locator("input").fill(model)
        before = script_runs(page)
        page.get_by_role("option").filter(has_text=model).first.click()
        wait_for_idle(page, since=before)
        page.keyboard.press("Escape")
    chat_input(page).fill("What is an LPU, in two sentences?")
    chat_input(page).press("Enter")
    for answer in COMPARED.values():
        expect(page.get_by_test_id("stMain").get_by_text(answer[:40])).to_be_visible()
    wait_for_idle(page)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        StandInGroq(
            reply=with_title(TITLE, REPLY), reasoning="The user asks how to stream; show the SDK loop."
        ) as stand_in,
    ):
        server = start_app_server(stand_in, Path(tmp) / "app")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="en-US")
                page.add_init_script(IDLE_TRACKER)
                open_app(page, server.url)
                send_message(page, "How do I stream a reply from Groq in Python?")
                page.screenshot(path=str(OUT / "chat.png"))
                chat_url = page.url
                open_app(page, f"{server.url}/history")
                page.screenshot(path=str(OUT / "history.png"))
                dark = browser.new_page(viewport={"width": 1280, "height": 860}, locale="en-US", color_scheme="dark")
                dark.add_init_script(IDLE_TRACKER)
                open_app(dark, chat_url)  # the theme follows the system's until one is chosen in the menu
                dark.screenshot(path=str(OUT / "chat-dark.png"))
                phone = browser.new_page(
                    viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True, has_touch=True
                )
                phone.add_init_script(IDLE_TRACKER)
                open_app(phone, chat_url)
                phone.screenshot(path=str(OUT / "phone.png"))
                zh = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
                zh.add_init_script(IDLE_TRACKER)
                open_app(zh, server.url)
                zh.screenshot(path=str(OUT / "chat-zh.png"))

                stand_in.reply = compared_or_seen
                comparing = new_page(browser)
                comparison(comparing, server.url)
                comparing.screenshot(path=str(OUT / "compare.png"))
                attached = new_page(browser)
                attachments(attached, server.url)
                attached.screenshot(path=str(OUT / "attachments.png"))
                browser.close()
        finally:
            server.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
