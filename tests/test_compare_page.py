"""The chat page's blind comparison of three models, in AppTest: the replies are "Reply A", "B",
"C" with no model named until the user ranks them, in the order they streamed, also in a new
session (a reload: nothing of the first kept); the ranking is stored with each reply's model and
then reveals them."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.compare import Compare
from chatbot.providers import Providers
from chatbot.providers.base import ModelInfo
from chatbot.reply import TurnSetup
from chatbot.settings import AppSettings
from chatbot.turns import Turns
from chatbot.votes import Votes
from tests.pages import new_app, texts
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")

MODELS = [ModelInfo(m, "groq") for m in ("llama-3.1-8b-instant", "openai/gpt-oss-20b", "qwen/qwen3.8-27b")]
ANSWERS = {"llama-3.1-8b-instant": "One.", "openai/gpt-oss-20b": "Two.", "qwen/qwen3.8-27b": "Three."}


def letters(at: AppTest) -> dict[str, str]:
    """Each "Reply X" heading and the answer drawn under it (the next answer on the page)."""
    out: dict[str, str] = {}
    heading = None
    for text in texts(at):
        if text.startswith("**Reply"):
            heading = text
        elif heading is not None and text in ANSWERS.values():
            out.setdefault(heading, text)
            heading = None
    return out


def test_a_blind_ranking_of_three_is_stored_and_reveals_the_models(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    groq_server.reply = lambda body: ANSWERS[body["model"]]
    providers = Providers(groq_server.api_key, groq_server.base_url)
    compare = Compare(Turns(sessions, providers), sessions)
    done = compare.send(None, "Rank us", [TurnSetup(m, AppSettings(system_prompt="")) for m in MODELS], blind=True)
    assert done.join(60)
    shown = [lane.message_id or "" for lane in done.lanes]  # in the shuffled order the page shows

    streamed = {f"**Reply {label}**": ANSWERS[lane.model.id] for label, lane in zip("ABC", done.lanes, strict=True)}
    at: AppTest = new_app(c=done.conversation_id)  # a session that never saw the round stream
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    page = texts(at)
    assert {"**Reply A**", "**Reply B**", "**Reply C**"} <= set(page)
    assert not any(m.id in text for m in MODELS for text in page if text.startswith("**Reply"))
    assert {"One.", "Two.", "Three."} <= set(page)
    assert not [c.value for c in at.caption if c.value.startswith("Cost ")]  # "no price for <model>" would tell
    assert letters(at) == streamed  # each reply under the letter it streamed under
    again: AppTest = new_app(c=done.conversation_id)  # a reload: still hidden, the same letters
    again.run()
    assert not again.exception, [e.value for e in again.exception]
    assert letters(again) == streamed
    assert not any(m.id in text for m in MODELS for text in texts(again) if text.startswith("**Reply"))

    # C best, A and B tied behind it.
    for mid, rank in zip(shown, (2, 2, 1), strict=True):
        at.selectbox(key=f"compare_rank_{mid}").set_value(rank)
    at.button(key="compare_vote_ranking").click().run()
    assert not at.exception, [e.value for e in at.exception]

    ballots = Votes(sessions).ballots()
    models = [lane.model.key for lane in done.lanes]
    assert [b.ranks for b in ballots] == [dict(zip(models, (2, 2, 1), strict=True))]
    revealed = list(dict.fromkeys(text for text in texts(at) if text.startswith("**Reply")))
    costs = [c.value for c in at.caption if c.value.startswith("Cost ")]
    assert len(costs) == 3  # what each reply cost (or that its price is unknown), under it, once revealed
    assert revealed == [f"**Reply {label}: {lane.model.id}**" for label, lane in zip("ABC", done.lanes, strict=True)]
