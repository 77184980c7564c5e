"""Living with history in a real browser: a new chat named by the model, rename, search, open a
hit (at that message, even far back), export a conversation as a file, import it elsewhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from chatbot.exporting import SCHEMA_VERSION
from chatbot.store import repo
from chatbot.store.db import open_database
from tests.browser.harness import (
    AppServer,
    conversation_id,
    keyed,
    message_texts,
    messages,
    open_app,
    send_message,
    sidebar,
    wait_for_idle,
    with_title,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

QUESTION = "Plan a trip to Lisbon"
ANSWER = "Lisbon in three days: Alfama, Belém, Sintra."
MODEL_TITLE = "Lisbon Weekend Plan"  # the stand-in's answer to the app's title request
RENAMED = "Lisbon in May"
LONG_TURNS = 30  # 60 messages: more than the 30 the chat page draws at first (pages/chat.py OPENING_MESSAGES)
WINDOW = 30
# Words asked about in one question each: the first far above the 30 newest messages, the
# second among them but neither at the top nor at the bottom of the page.
HITS = {1: "quokka", 20: "wombat"}


def seed_long_conversation(server: AppServer) -> tuple[str, dict[str, str]]:
    """A long conversation written straight into the server's database (chatting 60 messages
    would only make the test slow): its id, and the id of the question asking about each word."""
    engine, sessions = open_database(f"sqlite:///{server.data_dir / 'chat.db'}")
    try:
        with sessions.begin() as s:
            conv = repo.create_conversation(s, "", "groq", "openai/gpt-oss-20b", title="A long walk")
            parent, hits = None, {}
            for i in range(LONG_TURNS):
                topic = f"Where do {HITS[i]}s live?" if i in HITS else f"Step {i}: what comes next?"
                question = repo.add_message(s, conv.id, role="user", content=topic, parent_id=parent)
                if i in HITS:
                    hits[HITS[i]] = question.id
                answer = repo.add_message(
                    s, conv.id, role="assistant", content=f"Answer {i}.\n\n" + "More. " * 40, parent_id=question.id
                )
                parent = answer.id
            conv.current_message_id = parent
            return conv.id, hits
    finally:
        engine.dispose()


def query_param(page: Page, name: str) -> str | None:
    values = parse_qs(urlsplit(page.url).query).get(name)
    return values[0] if values else None


def marked(target: Locator) -> str:
    """The highlight the chat page gives an opened search hit (its CSS animation's name)."""
    return str(target.get_by_test_id("stChatMessage").first.evaluate("el => getComputedStyle(el).animationName"))


def then(page: Page, *outcomes: Locator) -> None:
    """Wait until what an action shows is there, then until the page's run is over.

    Waiting for what the user would see, not (as click_and_wait does) for the run counter: on
    a busy machine click_and_wait timed out here on pages that had switched and were idle (a
    short run the counter never saw, it seems).
    """
    for outcome in outcomes:
        expect(outcome).to_be_visible()
    wait_for_idle(page)


def enter(box: Locator, text: str) -> None:
    box.fill(text)
    box.press("Enter")


def go_to_history(page: Page) -> None:
    page.get_by_role("link", name="History").click()
    then(page, page.get_by_role("heading", level=1, name="History"))


def open_history_hit(page: Page, word: str, conversation: str) -> Locator:
    """Search the History page for ``word``, open ``conversation``'s result: the marked message."""
    go_to_history(page)
    enter(keyed(page, "history_query").get_by_role("textbox"), word)
    then(page, page.get_by_text("1 conversation matches"))
    keyed(page, f"go_{conversation}").get_by_role("button").click()
    found = keyed(page, "found_message")
    then(page, found)
    assert conversation_id(page) == conversation
    expect(found).to_contain_text(f"Where do {word}s live?")
    return found


def test_rename_search_open_export_and_import_in_another_server(
    page: Page, app_servers: Callable[..., AppServer], stand_in: StandInGroq, tmp_path: Path
) -> None:
    first_server = app_servers(extra_env={"GROQ_CHAT_AUTO_TITLE": "1"})  # the default; tests turn it off

    # --- a new chat is named by the model's answer to the title request -----------------------
    stand_in.reply = with_title(MODEL_TITLE, ANSWER)
    open_app(page, first_server.url)
    send_message(page, QUESTION)
    lisbon = conversation_id(page)
    assert lisbon
    entry = keyed(page, f"open_{lisbon}").get_by_role("button")
    expect(entry).to_have_text(MODEL_TITLE)
    title_request = stand_in.chat_requests[-1]["json"]
    assert QUESTION in title_request["messages"][-1]["content"] and len(stand_in.chat_requests) == 2

    stand_in.reply = "Use a list comprehension."
    keyed(page, "new_chat").get_by_role("button").click()
    then(page, page.get_by_role("heading", level=1, name="What can I help with?"))
    send_message(page, "How do I square numbers in Python?")
    assert conversation_id(page) not in (None, lisbon)

    # --- rename from the sidebar --------------------------------------------------------------
    keyed(page, f"menu_{lisbon}").get_by_role("button").click()
    title_box = keyed(page, f"title_{lisbon}").get_by_role("textbox")
    then(page, title_box)
    enter(title_box, RENAMED)
    wait_for_idle(page)
    keyed(page, f"rename_{lisbon}").get_by_role("button").click()
    expect(entry).to_have_text(RENAMED)
    page.keyboard.press("Escape")  # close the menu
    wait_for_idle(page)

    # --- sidebar search: the hit opens its conversation ---------------------------------------
    search = keyed(page, "sidebar_search").locator("input")
    enter(search, "Sintra")
    hits = sidebar(page).locator("[class*='st-key-hit_']")
    then(page, hits)
    expect(hits).to_have_count(1)
    expect(hits.get_by_role("button")).to_have_text(RENAMED)
    expect(sidebar(page)).to_contain_text("Sintra")  # the snippet
    hits.get_by_role("button").click()
    found = keyed(page, "found_message")
    then(page, found)
    assert conversation_id(page) == lisbon
    assert message_texts(page) == [QUESTION, ANSWER]
    expect(found).to_have_count(1)
    expect(found).to_contain_text(ANSWER)
    expect(found).to_be_in_viewport()
    enter(search, "")  # the sidebar lists the conversations again
    then(page, entry)

    # --- History search in a long conversation: the page scrolls to the hit and marks it ------
    long_id, hits_in_long = seed_long_conversation(first_server)
    found = open_history_hit(page, "wombat", long_id)
    assert query_param(page, "m") == hits_in_long["wombat"]
    assert len(message_texts(page)) == WINDOW
    expect(found).to_be_in_viewport()  # the page is scrolled to the hit, once it has settled
    assert marked(found) == "found-message"
    expect(messages(page).last).not_to_be_in_viewport()  # not left at the newest message
    expect(messages(page).first).not_to_be_in_viewport()  # nor at the top

    # --- a hit older than the drawn window: the window grows back to it -----------------------
    found = open_history_hit(page, "quokka", long_id)
    assert query_param(page, "m") == hits_in_long["quokka"]
    assert len(message_texts(page)) == 2 * (LONG_TURNS - 1)  # from the hit's question to the newest
    assert message_texts(page)[0] == "Where do quokkas live?"
    expect(found).to_be_in_viewport()
    assert marked(found) == "found-message"
    expect(messages(page).last).not_to_be_in_viewport()

    # --- export the renamed conversation as JSON (a real download) ----------------------------
    entry.click()
    expect(messages(page)).to_have_count(2)
    wait_for_idle(page)
    expect(keyed(page, "found_message")).to_have_count(0)  # opened from the list: no hit to mark
    with page.expect_download() as download_info:
        sidebar(page).get_by_role("button", name="JSON").click()
    download = download_info.value
    exported = tmp_path / download.suggested_filename
    download.save_as(exported)
    assert exported.suffix == ".json"
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert document["schema"] == "groq-chat.export" and document["schema_version"] == SCHEMA_VERSION
    [conversation] = document["conversations"]
    assert conversation["title"] == RENAMED
    assert [(m["role"], m["content"]) for m in conversation["messages"]] == [
        ("user", QUESTION),
        ("assistant", ANSWER),
    ]

    # --- import it into another server (its own, empty database) ------------------------------
    second_server = app_servers()
    open_app(page, second_server.url)
    listed = sidebar(page).locator("[class*='st-key-open_']").get_by_role("button")
    expect(listed).to_have_count(0)
    go_to_history(page)
    main = page.get_by_test_id("stMainBlockContainer")
    import_file(page, exported)
    then(
        page,
        main.get_by_text(
            "Found 1 new conversation, 0 conversations with new messages and 0 to skip: 2 messages to import."
        ),
    )
    keyed(page, "import_run").get_by_role("button").click()
    then(
        page, main.get_by_text("Imported 1 new conversation and added messages to 0 conversations: 2 messages in all.")
    )
    expect(listed).to_have_text([RENAMED])
    listed.click()
    expect(messages(page)).to_have_count(2)
    wait_for_idle(page)
    assert message_texts(page) == [QUESTION, ANSWER]

    # --- the same file again changes nothing, and says so -------------------------------------
    go_to_history(page)
    import_file(page, exported)
    then(
        page,
        main.get_by_text(
            "Found 0 new conversations, 0 conversations with new messages and 1 to skip: 0 messages to import."
        ),
    )
    expect(main).to_contain_text("Already here, nothing new")
    expect(keyed(page, "import_run").get_by_role("button")).to_be_disabled()
    expect(main).to_contain_text("1 conversation")
    expect(listed).to_have_text([RENAMED])
    assert page.page_errors == []


def import_file(page: Page, path: Path) -> None:
    """Open the import section (if closed) and give its uploader the file."""
    section = page.get_by_test_id("stExpander").filter(has_text="Import conversations")
    uploader = section.get_by_test_id("stFileUploaderDropzone")
    if not uploader.is_visible():  # its content is in the page, closed, until opened
        section.locator("summary").click()
    expect(uploader).to_be_visible()
    section.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
