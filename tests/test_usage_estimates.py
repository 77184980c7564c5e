"""Stopped and cut replies count in the usage: the provider sent no counts, so the app estimates
them (the request as sent, the text received), marks them, and keeps them apart from reported
counts on the Usage page ("≈"), in the database and in the JSON export."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot import context_budget, exporting
from chatbot.config import database_url
from chatbot.conversation import ConversationService
from chatbot.i18n import set_language, t
from chatbot.importing import ours
from chatbot.preferences import Preferences
from chatbot.providers.base import ChatMessage, ModelInfo, TextDelta
from chatbot.providers.groq_api import GroqProvider
from chatbot.records import conversation_record
from chatbot.reply import TurnSetup
from chatbot.settings import AppSettings
from chatbot.store import repo
from chatbot.store.db import open_database
from chatbot.turns import Turns, estimated_usage
from tests.stand_in_groq import StandInGroq, make_reply

pytestmark = pytest.mark.usefixtures("english")

MODEL = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=65536)
SETUP = TurnSetup(MODEL, AppSettings(system_prompt="Be brief."))


@pytest.fixture
def slow_groq(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInGroq]:
    """A long reply at 50 tokens/s: a test stops it long before its end."""
    with StandInGroq(reply=make_reply(2000), tokens_per_second=50) as server:
        monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
        monkeypatch.setenv("GROQ_API_KEY", server.api_key)
        yield server


def turns_for(sessions: sessionmaker[Session], server: StandInGroq) -> Turns:
    return Turns(sessions, lambda name: GroqProvider(server.api_key, server.base_url, timeout=20))


def stop_after(turns: Turns, text: str, deltas: int) -> str:
    """Send ``text``, read ``deltas`` text deltas of the reply, then Stop (as the page does)."""
    reply = turns.send(None, text, SETUP)
    seen = 0
    with reply:
        for event in reply:
            if isinstance(event, TextDelta):
                seen += 1
                if seen >= deltas:
                    break
    return reply.conversation_id


# --------------------------------------------------------------------------- the estimate


def test_the_estimate_counts_the_request_as_sent_and_the_text_received() -> None:
    request = [ChatMessage("system", "Be brief."), ChatMessage("user", "x" * 400)]
    usage = estimated_usage(request, "y" * 80 + "你好")
    assert usage.prompt_tokens == context_budget.estimate_messages(request)
    assert usage.prompt_tokens > 100  # 400 ASCII characters are about 100 tokens
    assert usage.completion_tokens == 20 + 2  # 4 ASCII characters a token; one a CJK character


def test_a_stopped_reply_saves_an_estimate_marked_as_one(
    sessions: sessionmaker[Session], slow_groq: StandInGroq
) -> None:
    cid = stop_after(turns_for(sessions, slow_groq), "Tell me a long story " * 20, deltas=5)
    reply = ConversationService(sessions).recent_messages(cid).turns[-1]
    assert reply.status == "stopped"
    assert reply.content  # something was received before the Stop
    assert reply.tokens_estimated
    assert reply.completion_tokens == context_budget.estimate_tokens(reply.content)
    assert reply.prompt_tokens and reply.prompt_tokens > 100

    usage = Preferences(sessions).usage()
    assert len(usage) == 1
    assert (usage[0].prompt_tokens, usage[0].completion_tokens) == (0, 0)  # nothing reported
    assert usage[0].estimated_prompt_tokens == reply.prompt_tokens
    assert usage[0].estimated_completion_tokens == reply.completion_tokens


def test_a_complete_reply_keeps_the_reported_counts(sessions: sessionmaker[Session], groq_server: StandInGroq) -> None:
    reply = turns_for(sessions, groq_server).send(None, "Hello", SETUP)
    for _ in reply:
        pass
    turn = ConversationService(sessions).recent_messages(reply.conversation_id).turns[-1]
    assert turn.status == "complete"
    assert not turn.tokens_estimated
    usage = Preferences(sessions).usage()
    assert usage[0].completion_tokens == turn.completion_tokens and usage[0].estimated == 0


def test_thinking_time_is_saved_for_a_reply_with_reasoning(sessions: sessionmaker[Session]) -> None:
    with StandInGroq(reply="The answer is 4.", reasoning="Two plus two " * 20, tokens_per_second=100) as server:
        reply = turns_for(sessions, server).send(None, "2+2?", SETUP)
        for _ in reply:
            pass
    turn = ConversationService(sessions).recent_messages(reply.conversation_id).turns[-1]
    assert turn.reasoning
    assert turn.thinking_time is not None and turn.thinking_time > 0


def test_the_json_export_keeps_the_flag_and_older_files_still_import(
    sessions: sessionmaker[Session], slow_groq: StandInGroq
) -> None:
    cid = stop_after(turns_for(sessions, slow_groq), "Tell me a story", deltas=3)
    with sessions() as s:
        conv = repo.get_conversation(s, "", cid)
        assert conv is not None
        record = conversation_record(conv, repo.all_messages(s, cid), [])
    document = json.loads(exporting.export([record], "json").data.decode("utf-8"))
    exported = document["conversations"][0]["messages"][-1]
    assert exported["tokens_estimated"] is True
    assert ours.parse(document)[0].messages[-1].tokens_estimated is True

    for message in document["conversations"][0]["messages"]:  # a file from before the field
        del message["tokens_estimated"], message["thinking_time"]
    older = ours.parse(document)[0].messages[-1]
    assert older.tokens_estimated is False and older.completion_tokens == exported["completion_tokens"]


# --------------------------------------------------------------------------- the Usage page


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_usage_page_counts_a_stopped_reply_as_an_estimate(
    app: AppTest, slow_groq: StandInGroq, language: str
) -> None:
    engine, sessions = open_database(database_url())  # the database the app opens
    try:
        stop_after(turns_for(sessions, slow_groq), "Tell me a long story", deltas=5)
        [row] = Preferences(sessions).usage()
    finally:
        engine.dispose()
    app.run()
    app.switch_page("pages/settings.py").run()
    if language != "en":
        form = next(f for f in app.form if f.proto.form.form_id == "settings_form")
        next(s for s in form.selectbox if s.label == t("settings.language")).set_value(language)
        form.form_submit_button[0].click()
        app.run()
    set_language(language)
    app.switch_page("pages/usage.py").run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics[t("usage.estimated_total")] == f"≈ {row.estimated:,}"
    assert metrics[t("usage.completion_total")] == "0"  # nothing reported, nothing made up
    table = app.dataframe[0].value.to_dict("records")
    assert table[0][t("usage.estimated_completion")] == f"≈ {row.estimated_completion_tokens:,}"
    assert table[0][t("usage.completion")] == "0"
    assert t("usage.estimated_note") in [c.value for c in app.caption]
    # Every day of the period is on the chart's axis: one day with data is one bar of 30.
    assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")
