"""The Batch page in AppTest: prompts pasted, the run's progress, its rows, a refusal said."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.i18n import t
from tests.pages import texts, wire
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")
DEADLINE = 120.0  # a deadline, not a duration: runs end in seconds on a quiet machine


def batch_page(app: AppTest) -> AppTest:
    app.run()
    app.switch_page("pages/batch.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value == t("batch.title")
    return app


def run_batch(app: AppTest, text: str) -> AppTest:
    app.text_area(key="batch_text").input(text)
    next(b for b in app.button if b.label == t("batch.run")).click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_pasted_prompts_run_and_the_page_shows_them_done(app: AppTest, groq_server: StandInGroq) -> None:
    run_batch(batch_page(app), "Name a fruit\n\nName a tree\nName a river")
    end = time.monotonic() + DEADLINE

    # The progress bar's text is in its message to the browser (AppTest has no progress element).
    # The run is marked finished just after its last row is saved: both are waited for.
    def finished() -> bool:
        return "3 done, 0 failed, 0 remaining of 3" in wire(app) and t("batch.state.finished") in " ".join(texts(app))

    while not finished() and time.monotonic() < end:
        time.sleep(0.1)
        app.run()
    assert "3 done, 0 failed, 0 remaining of 3" in wire(app)
    assert t("batch.state.finished") in " ".join(texts(app))
    assert sorted(r["json"]["messages"][-1]["content"] for r in groq_server.chat_requests) == [
        "Name a fruit",
        "Name a river",
        "Name a tree",
    ]
    assert app.query_params.get("run")  # a reload opens the same run
    frame = app.dataframe[0].value
    assert list(frame[t("batch.col.reply")]) == ["Hello **there**! How can I help?"] * 3


def test_pasting_nothing_is_refused_with_a_clear_message(app: AppTest, groq_server: StandInGroq) -> None:
    run_batch(batch_page(app), "  \n\n")
    assert t("batch.empty") in [e.value for e in app.error]
    assert groq_server.chat_requests == []
