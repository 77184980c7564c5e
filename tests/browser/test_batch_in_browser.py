"""The Batch page in Chromium: three pasted prompts run while the progress bar moves by itself,
the CSV download holds every reply, and a reload shows the same run."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import REPLY, AppServer, click_and_wait, keyed, open_app, reload
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
