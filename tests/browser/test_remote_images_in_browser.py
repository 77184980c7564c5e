"""Remote images in messages make the browser fetch nothing: a loopback listener counts every
request that would leak (issue 11, "Markdown images make the browser fetch any URL")."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import (
    AppServer,
    click_and_wait,
    keyed,
    message_texts,
    messages,
    open_app,
    press_and_wait,
    reload,
    send_message,
    sidebar,
    wait_for_idle,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


class Listener:
    """An HTTP server on a free 127.0.0.1 port that answers every request and counts it."""

    def __init__(self) -> None:
        seen = self.requests = []  # type: list[str]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

            do_HEAD = do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.stop()


def every_form(url: str, where: str) -> str:
    """Each way Markdown has to show an image, each with its own path to tell them apart."""
    return (
        f"Code stays as written: `![code]({url}/{where}/code)`\n\n"
        f"Inline ![inline]({url}/{where}/inline?d=secret) and "
        f"reference ![ref][r-{where}] and shortcut ![r-{where}] and "
        f"in a link [![linked]({url}/{where}/in-link)](http://example.invalid/) and "
        f"split !\n[not an image]({url}/{where}/split) "
        f':color[x]{{background="red;background-image:url({url}/{where}/css)"}}\n\n'
        f"```\n![fenced]({url}/{where}/fenced)\n```\n\n"
        f"[r-{where}]: {url}/{where}/reference"
    )


def assert_no_request(page: Page, listener: Listener, when: str) -> None:
    chat = page.get_by_test_id("stAppViewContainer")
    remote = chat.locator(f"img[src^='{listener.url}'], video[src^='{listener.url}'], audio[src^='{listener.url}']")
    expect(remote).to_have_count(0)
    # An image starts loading as soon as it is in the DOM: a request the browser makes after
    # that (another tab's, to the same listener) has arrived, so one of the page's would have too.
    control = page.context.new_page()
    control.goto(f"{listener.url}/control")
    control.close()
    own = ("/control", "/favicon.ico")  # the other tab's, not the page's
    fetched = [path for path in listener.requests if path not in own]
    assert fetched == [], f"{when}: the browser fetched {fetched}"
    listener.requests.clear()


def test_remote_images_are_never_loaded(
    page: Page, app_server: AppServer, stand_in: StandInGroq, listener: Listener, tmp_path: Path
) -> None:
    prompt = every_form(listener.url, "user")
    stand_in.reply = "You wrote: " + every_form(listener.url, "reply")  # the model echoes them
    stand_in.reasoning = "Thinking: " + every_form(listener.url, "reasoning")
    stand_in.tokens_per_second = 400  # streamed in many chunks: `!` and `[` arrive apart
    open_app(page, app_server.url)

    send_message(page, prompt)
    assert_no_request(page, listener, "sending and streaming")
    assert len(stand_in.chat_requests) == 1
    expect(messages(page, "assistant")).to_have_count(1)
    user_text = message_texts(page, "user")[0]
    assert "![code](" in user_text and "![fenced](" in user_text, "code must be shown as written"
    assert "\\!" not in user_text
    assert f"{listener.url}/user/code" in user_text
    # The image became a link labelled with its alt text, one click away.
    link = messages(page, "user").get_by_role("link", name="inline")
    expect(link).to_have_attribute("href", f"{listener.url}/user/inline?d=secret")
    thinking = messages(page, "assistant").get_by_test_id("stExpander")
    expect(thinking).to_have_count(1)  # the reasoning was drawn (and checked above)

    reload(page)  # drawn from the database this time
    expect(messages(page)).to_have_count(2)
    click_and_wait(page, thinking.first.locator("summary"))  # open the Thinking section
    expect(thinking.first).to_contain_text("Thinking")
    assert_no_request(page, listener, "reloading")

    search = keyed(page, "sidebar_search").locator("input")
    search.fill("inline")
    search.press("Enter")
    hits = sidebar(page).locator("[class*='st-key-hit_']")
    expect(hits.first).to_be_visible()
    wait_for_idle(page)
    assert_no_request(page, listener, "searching in the sidebar")
    assert sidebar(page).get_by_role("link").count() == 0, "a URL in a title or snippet became a link"

    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", level=1, name="History")).to_be_visible()
    wait_for_idle(page)
    main = page.get_by_test_id("stMain")
    assert main.locator(f"a[href^='{listener.url}']").count() == 0, "a URL in a title became a link"
    query = keyed(page, "history_query").get_by_role("textbox")
    query.fill("reference")
    press_and_wait(page, query, "Enter")
    assert_no_request(page, listener, "the History page and its search")
    assert main.locator(f"a[href^='{listener.url}']").count() == 0

    # --- the HTML export, opened in the browser -------------------------------------------------
    query.fill("")
    press_and_wait(page, query, "Enter")
    click_and_wait(page, main.locator("[class*='st-key-pick_'] label").first)
    keyed(page, "export_format").click()
    # Waited for: the download must be made in the new format, not the one before the rerun.
    click_and_wait(page, page.get_by_role("option", name="HTML"))
    with page.expect_download() as download_info:
        keyed(page, "bulk_export").get_by_role("button").click()
    exported = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(exported)
    assert exported.suffix == ".html"
    html = exported.read_text(encoding="utf-8")
    assert f"{listener.url}/reply/inline" in html  # the export holds the text ...
    page.goto(exported.as_uri())
    page.wait_for_load_state("load")
    assert_no_request(page, listener, "opening the HTML export")  # ... and loads nothing
    assert page.page_errors == []
