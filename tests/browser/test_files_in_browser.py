"""Files as context, attached in the chat input: their text goes into the message under their
names; a file that cannot be read is refused with the reason and the typed text kept; files
too long for one message can be sent in part."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import (
    AppServer,
    attach_files,
    chat_input,
    message_texts,
    open_app,
    reload,
    wait_for_idle,
    wait_until,
)
from tests.pdf_files import pdf
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def send(page: Page, text: str) -> None:
    chat_input(page).fill(text)
    chat_input(page).press("Enter")


def sent(stand_in: StandInGroq) -> str:
    return str(stand_in.chat_requests[-1]["json"]["messages"][-1]["content"])


def test_attached_files_go_into_the_message_under_their_names(
    page: Page, app_server_each_db: AppServer, stand_in: StandInGroq
) -> None:
    app_server = app_server_each_db
    open_app(page, app_server.url)
    attach_files(
        page,
        ("sort.py", "text/x-python", b"def sort(xs):\n    return sorted(xs)\n"),
        ("paper.pdf", "application/pdf", pdf("Groq serves open models.")),
    )
    send(page, "What do these say?")
    assert wait_until(lambda: bool(stand_in.chat_requests), page=page)
    wait_for_idle(page)
    message = sent(stand_in)
    assert message.startswith("What do these say?\n\nsort.py\n\n```python\ndef sort(xs):")
    assert "paper.pdf\n\n```\nGroq serves open models.\n```" in message
    assert "sort.py" in message_texts(page, "user")[-1]  # shown as sent
    reload(page)  # and saved so: read back from the database
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text("sort.py")
    assert "paper.pdf" in message_texts(page, "user")[-1]


def test_a_file_that_is_not_text_is_refused_and_the_typed_text_kept(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    open_app(page, app_server.url)
    attach_files(page, ("scan.pdf", "application/pdf", pdf("")))
    send(page, "Read my scan")
    expect(page.get_by_test_id("stAlert")).to_contain_text("has no text to read")
    expect(chat_input(page)).to_have_value("Read my scan")
    assert stand_in.chat_requests == []


def test_files_too_long_for_one_message_can_be_sent_in_part(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    open_app(page, app_server.url)
    attach_files(page, ("log.txt", "text/plain", b"line of a long log\n" * 8_000))  # 152,000 characters
    send(page, "Any errors?")
    expect(page.get_by_test_id("stAlert")).to_contain_text("152,000 characters")
    expect(chat_input(page)).to_have_value("Any errors?")
    assert stand_in.chat_requests == []
    page.get_by_role("button", name="Send the first part").click()
    assert wait_until(lambda: bool(stand_in.chat_requests), page=page)
    wait_for_idle(page)
    message = sent(stand_in)
    assert message.startswith("Any errors?\n\nlog.txt\n\n```\nline of a long log")
    assert message.rstrip().endswith("of 152,000 characters]") and len(message) <= 100_000
    expect(chat_input(page)).to_have_value("")
