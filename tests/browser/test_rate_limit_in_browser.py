"""A short rate limit in the browser: which limit, a visible countdown, then the reply."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import AppServer, message_texts, open_app, type_message, wait_for_idle
from tests.stand_in_groq import StandInGroq

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_a_short_rate_limit_counts_down_and_then_answers(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    open_app(page, app_server.url)
    # Requests per minute, reset in 3 s; x-should-retry false: the SDK leaves it to the app.
    stand_in.fail_next("429", limit_type="requests", window="RPM", retry_after=3, should_retry=False)
    before = type_message(page, "Hello after a limit")

    main = page.get_by_test_id("stMainBlockContainer")
    expect(main.get_by_text("requests per minute", exact=False).first).to_be_visible()
    expect(main.get_by_text("retrying in", exact=False).first).to_be_visible()

    wait_for_idle(page, since=before)
    assert message_texts(page, "assistant")[-1] == "Hello there! How can I help?"
    expect(main.get_by_text("retrying in", exact=False)).to_have_count(0)
    assert len(stand_in.chat_requests) == 2  # the refused one and the retry after the countdown
