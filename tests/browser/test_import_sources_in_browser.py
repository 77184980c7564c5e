"""History from other chat apps, imported through the History page: one export of each source,
then a conversation of each opened on its current branch; ChatGPT's web-search citations are
links to their sources, also after our own export of that conversation is imported elsewhere."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from chatbot.importing import read
from chatbot.importing.sources import Upload
from chatbot.records import ConversationRecord
from tests.browser.harness import (
    AppServer,
    click_and_wait,
    keyed,
    message_texts,
    messages,
    open_app,
    sidebar,
    wait_for_idle,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SOURCES = Path(__file__).parent.parent / "fixtures" / "sources"
FILES = [
    "claude-conversations.json",
    "open-webui-chats.json",
    "librechat-flat.json",
    "lobechat-config.json",
    "chatbot-ui-export.json",
    "chatgpt-citations.json",
]


def first_conversation(name: str) -> ConversationRecord:
    """What the importer makes of the file's first conversation (its id is the stored one)."""
    return read([Upload(name, (SOURCES / name).read_bytes())]).records[0]


def words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text))


def import_file(page: Page, path: Path) -> None:
    main = page.get_by_test_id("stMainBlockContainer")
    section = page.get_by_test_id("stExpander").filter(has_text="Import conversations")
    uploader = section.get_by_test_id("stFileUploaderDropzone")
    if not uploader.is_visible():
        section.locator("summary").click()
    expect(uploader).to_be_visible()
    section.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(main.get_by_text("Found ", exact=False).first).to_be_visible()  # the preview
    run = keyed(page, "import_run").get_by_role("button")
    expect(run).to_be_enabled()
    # Until the import's own run is over: a result on screen may be an earlier import's.
    click_and_wait(page, run)
    expect(main.get_by_test_id("stAlertContentSuccess")).to_contain_text("Imported ")


def opens_on_its_current_branch(page: Page, app_server: AppServer, name: str) -> None:
    """The file's first conversation, opened by its link, shows its current branch."""
    record = first_conversation(name)
    branch = [m for m in record.current_branch() if m.role in ("user", "assistant")]
    open_app(page, f"{app_server.url}/?c={record.id}")
    earlier = page.get_by_role("button", name=re.compile("earlier message"))
    # A very long message opens with few others: the rest comes on request.
    assert wait_until(lambda: messages(page).count() == len(branch) or earlier.is_visible(), page=page)
    if earlier.is_visible():
        earlier.click()
    expect(messages(page)).to_have_count(len(branch))
    wait_for_idle(page)
    shown = message_texts(page)
    first_question = next(m.content for m in branch if m.role == "user")
    assert words(first_question)[:40] in words(shown[[m.role for m in branch].index("user")]), name
    assert words(branch[-1].content)[:40] in words(shown[-1]), name


def test_one_export_of_each_source_imports_and_opens_on_its_current_branch(page: Page, app_server: AppServer) -> None:
    for name in FILES:
        open_app(page, f"{app_server.url}/history")
        import_file(page, SOURCES / name)

    for name in FILES:
        opens_on_its_current_branch(page, app_server, name)

    shows_citations_as_links(page, app_server)
    assert page.page_errors == []  # type: ignore[attr-defined]


def shows_citations_as_links(page: Page, app_server: AppServer) -> None:
    """ChatGPT's web-search markers are links to the sources the answer cites."""
    record = first_conversation("chatgpt-citations.json")
    open_app(page, f"{app_server.url}/?c={record.id}")
    links = messages(page, "assistant").locator("a[href^='https://']")
    expect(links.first).to_be_visible()
    wait_for_idle(page)
    hrefs = set(links.evaluate_all("els => els.map(e => e.href)"))
    cited = set(re.findall(r"\((https://[^)\s]+)\)", "\n".join(m.content for m in record.current_branch())))
    assert cited and cited <= hrefs
    assert "†source" not in " ".join(message_texts(page))


def test_citations_stay_links_after_our_export_is_imported_elsewhere(
    page: Page, app_servers: Callable[..., AppServer], tmp_path: Path
) -> None:
    first = app_servers()
    open_app(page, f"{first.url}/history")
    import_file(page, SOURCES / "chatgpt-citations.json")
    shows_citations_as_links(page, first)

    with page.expect_download() as download_info:  # the open conversation, as our JSON
        sidebar(page).get_by_role("button", name="JSON").click()
    exported = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(exported)

    second = app_servers()  # its own, empty database
    open_app(page, f"{second.url}/history")
    import_file(page, exported)
    shows_citations_as_links(page, second)
    assert page.page_errors == []  # type: ignore[attr-defined]
