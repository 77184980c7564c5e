"""Screenshots for the README: the app against the stand-in Groq server, in headless Chromium.

python -m docs.make_screenshots
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE_TRACKER,
    open_app,
    send_message,
    start_app_server,
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
                browser.close()
        finally:
            server.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
