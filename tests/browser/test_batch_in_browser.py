"""The Batch page in Chromium: three pasted prompts run while the progress bar moves by itself,
the CSV download holds every reply, and a reload shows the same run."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from chatbot.store.models import BatchRow
from tests.browser.harness import (
    REPLY,
    WAIT_MS,
    AppServer,
    click_and_wait,
    database,
    keyed,
    open_app,
    reload,
    start_app_server,
    wait_until,
)
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
PROMPTS = ["Name a fruit", "=SUM(A1:A2)", "Name a river"]


def test_a_three_prompt_batch_runs_with_progress_and_downloads_as_csv(
    page: Page, app_server: AppServer, stand_in: StandInGroq, tmp_path: Path
) -> None:
    stand_in.tokens_per_second = 2  # each reply takes about five seconds: the run is seen going
    open_app(page, f"{app_server.url}/batch")
    keyed(page, "batch_text").locator("textarea").fill("\n".join(PROMPTS))
    main = page.get_by_test_id("stMainBlockContainer")
    click_and_wait(page, main.get_by_role("button", name="Run batch"))

    # No click from here on: the page refreshes by itself while the run goes.
    expect(main.get_by_text("Running", exact=True)).to_be_visible()
    expect(main.get_by_text("0 failed, 0 remaining of 3", exact=False)).to_be_visible()
    expect(main.get_by_text("Finished", exact=True)).to_be_visible()
    assert sorted(r["json"]["messages"][-1]["content"] for r in stand_in.chat_requests) == sorted(PROMPTS)

    with page.expect_download() as download_info:
        main.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert saved.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert [r["prompt"] for r in rows] == ["Name a fruit", "'=SUM(A1:A2)", "Name a river"]
    assert {r["reply"] for r in rows} == {REPLY} and {r["status"] for r in rows} == {"done"}
    assert all(int(r["completion_tokens"]) > 0 for r in rows)

    reload(page)  # the run is in the URL: the same run, at rest, nothing sent again
    expect(main.get_by_text("3 done, 0 failed, 0 remaining of 3", exact=False)).to_be_visible()
    expect(main.get_by_text("Finished", exact=True)).to_be_visible()
    assert len(stand_in.chat_requests) == 3


def test_stop_then_resume_after_a_reload_sends_only_the_rows_not_done(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.tokens_per_second = 1.5  # about seven seconds a reply: Stop comes while the first ones are under way
    open_app(page, f"{app_server.url}/batch")
    keyed(page, "batch_text").locator("textarea").fill("\n".join(f"Question {n}" for n in range(1, 9)))
    main = page.get_by_test_id("stMainBlockContainer")
    click_and_wait(page, main.get_by_role("button", name="Run batch"))
    expect(main.get_by_text("Running", exact=True)).to_be_visible()
    main.get_by_role("button", name="Stop").click()

    # Those under way finish and are kept; no more are sent.
    expect(main.get_by_text("Stopped.", exact=False)).to_be_visible()
    counts = main.get_by_text(re.compile(r"\d done, 0 failed, \d remaining of 8"))
    done, remaining = map(int, re.findall(r"(\d) done, 0 failed, (\d) remaining", counts.inner_text())[0])
    assert remaining > 0 and done + remaining == 8
    assert len(stand_in.chat_requests) == done

    reload(page)
    expect(main.get_by_text(f"{done} done, 0 failed, {remaining} remaining of 8", exact=False)).to_be_visible()
    click_and_wait(page, main.get_by_role("button", name="Resume"))
    expect(main.get_by_text("8 done, 0 failed, 0 remaining of 8", exact=False)).to_be_visible()
    expect(main.get_by_text("Finished", exact=True)).to_be_visible()
    sent = [r["json"]["messages"][-1]["content"] for r in stand_in.chat_requests]
    assert sorted(sent) == sorted(f"Question {n}" for n in range(1, 9))  # each once: none sent twice


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment that names the app's database: none for SQLite (in the data dir), or a
    fresh PostgreSQL database, the same for a server started again."""
    if request.param == "sqlite":
        yield {}
        return
    name, url = request.getfixturevalue("postgres_databases").take()
    try:
        yield {"DATABASE_URL": url}
    finally:  # the app may still hold connections: the drop ends them
        request.getfixturevalue("postgres_server").drop_database(name)


@pytest.mark.timeout(900)
def test_200_prompts_under_a_requests_a_minute_limit_survive_a_killed_server_and_resume_without_paying_twice(
    page: Page,
    app_servers: Callable[..., AppServer],
    stand_in: StandInGroq,
    database_env: dict[str, str],
    request: pytest.FixtureRequest,
) -> None:
    limit = 100  # requests a minute: the run meets it half way, and a 429 must not fail a row
    stand_in.limit_requests_per_minute = limit
    prompts = [f"Prompt {n}" for n in range(1, 201)]
    first = app_servers(database_env)
    db_url = database_env.get("DATABASE_URL") or f"sqlite:///{first.data_dir / 'chat.db'}"
    open_app(page, f"{first.url}/batch")
    keyed(page, "batch_text").locator("textarea").fill("\n".join(prompts))
    main = page.get_by_test_id("stMainBlockContainer")
    click_and_wait(page, main.get_by_role("button", name="Run batch"))
    expect(main.get_by_text("Running", exact=True)).to_be_visible()
    run_url = page.url
    assert "run=" in run_url

    # Half way the limit is met (Groq says 429 with a retry-after): the server is killed then.
    assert wait_until(lambda: stand_in.answered_429 > 0, timeout_ms=4 * WAIT_MS, page=page)
    first.kill()
    with database(db_url) as sessions, sessions() as s:
        statuses = dict(s.execute(select(BatchRow.prompt, BatchRow.status)).tuples().all())
    done_before = {p for p, status in statuses.items() if status == "done"}
    assert "failed" not in statuses.values()
    assert limit // 2 <= len(done_before) <= limit < len(prompts)

    # The same data dir and database, a new process: the run reads as cut off, and Resume
    # sends the rest.
    second = start_app_server(stand_in, first.workdir, database_env)
    request.node._app_servers.append(second)  # stopped at teardown, its log in a failure report
    open_app(page, run_url.replace(first.url, second.url))
    click_and_wait(page, main.get_by_role("button", name="Resume"))
    # A 429 pauses the run (the page counts the wait down) and never fails a row.
    expect(main.get_by_text("200 done, 0 failed, 0 remaining of 200", exact=False)).to_be_visible(timeout=4 * WAIT_MS)
    expect(main.get_by_text("Finished", exact=True)).to_be_visible()

    answered = Counter(body["messages"][-1]["content"] for body in stand_in.admitted_chats)
    assert set(answered) == set(prompts)
    # A row saved before the kill was never sent again; only the few under way when the process
    # died (answered, not yet saved) may have been paid for twice.
    assert {p: answered[p] for p in done_before} == dict.fromkeys(done_before, 1)
    assert sum(answered.values()) <= len(prompts) + 16
    with database(db_url) as sessions, sessions() as s:
        rows = s.execute(select(BatchRow.status, BatchRow.content)).tuples().all()
    assert len(rows) == 200 and {status for status, _ in rows} == {"done"} and {c for _, c in rows} == {REPLY}


def test_a_batch_sent_through_groqs_batch_api_shows_its_status_and_fills_the_same_table(
    page: Page, app_server: AppServer, stand_in: StandInGroq, tmp_path: Path
) -> None:
    open_app(page, f"{app_server.url}/batch")
    keyed(page, "batch_text").locator("textarea").fill("\n".join(PROMPTS))
    main = page.get_by_test_id("stMainBlockContainer")
    keyed(page, "batch_groq_api").get_by_text("Send through Groq's Batch API", exact=False).click()
    click_and_wait(page, main.get_by_role("button", name="Run batch"))

    # The page asks Groq by itself until the batch is done, then shows the same table.
    expect(main.get_by_text("Groq Batch API: Completed: the results are in the table.")).to_be_visible()
    expect(main.get_by_text("3 done, 0 failed, 0 remaining of 3", exact=False)).to_be_visible()
    assert stand_in.chat_requests == [] and len(stand_in.batch_lines) == 3
    assert sorted(body["messages"][-1]["content"] for body in stand_in.batch_lines) == sorted(PROMPTS)

    with page.expect_download() as download_info:
        main.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert {r["reply"] for r in rows} == {REPLY} and {r["status"] for r in rows} == {"done"}
    assert all(int(r["completion_tokens"]) > 0 for r in rows)


def test_a_groq_batch_cancelled_from_the_page_leaves_its_rows_for_resume(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.batch_hold = True  # Groq keeps the batch in progress until it is cancelled
    open_app(page, f"{app_server.url}/batch")
    keyed(page, "batch_text").locator("textarea").fill("\n".join(PROMPTS))
    main = page.get_by_test_id("stMainBlockContainer")
    keyed(page, "batch_groq_api").get_by_text("Send through Groq's Batch API", exact=False).click()
    click_and_wait(page, main.get_by_role("button", name="Run batch"))
    expect(main.get_by_text("Groq is answering the rows", exact=False)).to_be_visible()
    expect(main.get_by_role("button", name="Resume")).to_have_count(0)  # Groq holds the rows

    main.get_by_role("button", name="Cancel Groq batch").click()
    expect(main.get_by_text("Groq Batch API: Cancelled.", exact=False)).to_be_visible()
    expect(main.get_by_text("0 done, 0 failed, 3 remaining of 3", exact=False)).to_be_visible()
    click_and_wait(page, main.get_by_role("button", name="Resume"))
    expect(main.get_by_text("3 done, 0 failed, 0 remaining of 3", exact=False)).to_be_visible()
    expect(main.get_by_text("Finished", exact=True)).to_be_visible()
    assert stand_in.batch_lines == []
    assert sorted(r["json"]["messages"][-1]["content"] for r in stand_in.chat_requests) == sorted(PROMPTS)
