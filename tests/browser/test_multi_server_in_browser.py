"""Two app servers on one PostgreSQL database, a browser page on each (a load balancer would
send two people, or one person's two tabs, to different servers).

- a conversation written through server A is listed in server B's sidebar and opens there,
  whole, as soon as B's page runs again (a reload, a click);
- a reply streaming on A is visible on B while it streams (B reads A's periodic flushes:
  its text grows from one reload to the next) and, once done, the same as on A;
- B writes the next turn into the same conversation and A shows it.

The database is a fresh one on the session's throwaway PostgreSQL server (tests/conftest.py);
the test is skipped, with the reason, where PostgreSQL cannot run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.browser.harness import (
    IDLE_TRACKER,
    WAIT_MS,
    AppServer,
    click_and_wait,
    conversation_id,
    database,
    keyed,
    message_captions,
    message_texts,
    newest_reply,
    open_app,
    reload,
    send_message,
    type_message,
    wait_for_idle,
    wait_for_streamed_text,
    wait_until,
)
from tests.conftest import FreshDatabases
from tests.postgres import PostgresServer
from tests.stand_in_groq import StandInGroq, make_reply

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture
def shared_database(postgres_server: PostgresServer, postgres_databases: FreshDatabases) -> Iterator[str]:
    name, url = postgres_databases.take()
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def stored(shared_database: str) -> Iterator[sessionmaker[Session]]:
    """The shared database, read by the test to know when A's flushes have reached it."""
    with database(shared_database) as sessions:
        yield sessions


@pytest.fixture
def second_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    context.add_init_script(IDLE_TRACKER)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_two_servers_on_one_database_share_conversations_and_streams(
    page: Page,
    second_page: Page,
    app_servers: Callable[..., AppServer],
    stand_in: StandInGroq,
    shared_database: str,
    stored: sessionmaker[Session],
) -> None:
    env = {"DATABASE_URL": shared_database}
    server_a, server_b = app_servers(env), app_servers(env)  # own data dirs: nothing shared but the database
    page_a, page_b = page, second_page
    open_app(page_a, server_a.url)
    open_app(page_b, server_b.url)

    # Written through A ...
    stand_in.reply = "Lisbon in three days: Alfama, Belém, Sintra."
    send_message(page_a, "Plan a trip to Lisbon")
    cid = conversation_id(page_a)
    assert cid
    # ... listed by B at its next run, and opened there whole.
    reload(page_b)
    entry = keyed(page_b, f"open_{cid}").get_by_role("button")
    expect(entry).to_have_text("Plan a trip to Lisbon")
    click_and_wait(page_b, entry)
    assert conversation_id(page_b) == cid
    assert message_texts(page_b) == ["Plan a trip to Lisbon", "Lisbon in three days: Alfama, Belém, Sintra."]

    # A reply streaming on A (about 20 s: still streaming when B looks, on a busy machine too) ...
    full = make_reply(400)
    stand_in.reply, stand_in.tokens_per_second = full, 20
    type_message(page_a, "And a long story about the trams, please")
    wait_for_streamed_text(page_a, 40)

    def saved() -> tuple[str, str]:
        """(status, text) of the newest reply in the database, as A's flushes (every second) leave it."""
        return newest_reply(stored, cid) or ("", "")

    assert wait_until(lambda: saved()[0] == "streaming" and saved()[1] != ""), "A never flushed the reply"
    # ... is on B, partly, while it streams: its text grows from one reload to the next.
    page_b.goto(f"{server_b.url}/?c={cid}")
    wait_for_idle(page_b)
    first_look = message_texts(page_b)
    assert first_look[:3] == [
        "Plan a trip to Lisbon",
        "Lisbon in three days: Alfama, Belém, Sintra.",
        "And a long story about the trams, please",
    ]
    partial = first_look[3]
    assert partial and full.startswith(partial[:20]) and len(partial) < len(full)
    assert "Still being written…" in message_captions(page_b)[3]  # not "interrupted": A is alive
    assert wait_until(lambda: len(saved()[1]) > len(partial)), "no later flush reached the database"
    reload(page_b)
    assert len(message_texts(page_b)[3]) > len(partial)  # later flushes arrived

    # Once done on A, B shows the same reply, complete.
    wait_for_idle(page_a)
    shown_on_a = message_texts(page_a)
    assert len(shown_on_a) == 4 and shown_on_a[3].split() == full.split()
    reload(page_b)
    assert message_texts(page_b) == shown_on_a

    # B writes the next turn into the same conversation; A shows it after its next run.
    stand_in.reply, stand_in.tokens_per_second = "Tram 28 starts at Martim Moniz.", None
    send_message(page_b, "Where does tram 28 start?")
    assert conversation_id(page_b) == cid
    reload(page_a)
    assert message_texts(page_a)[-2:] == ["Where does tram 28 start?", "Tram 28 starts at Martim Moniz."]
    assert conversation_id(page_a) == cid
