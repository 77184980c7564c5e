"""The Markdown and HTML exports show each reply's own system prompt and model, as it was sent,
not the conversation's settings of today."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from chatbot import exporting
from chatbot.conversation import ConversationService
from chatbot.providers.groq_api import GroqProvider
from chatbot.records import conversation_record
from chatbot.reply import TurnSetup
from chatbot.settings import AppSettings
from chatbot.store import repo
from chatbot.turns import Turns
from tests.stand_in_groq import StandInGroq
from tests.test_usage_estimates import MODEL


def test_each_reply_keeps_the_prompt_and_model_it_was_sent_with(
    sessions: sessionmaker[Session], groq_server: StandInGroq
) -> None:
    turns = Turns(sessions, lambda name: GroqProvider(groq_server.api_key, groq_server.base_url, timeout=20))
    first = turns.send(None, "Question one", TurnSetup(MODEL, AppSettings(system_prompt="Answer like a pirate.")))
    list(first)
    cid = first.conversation_id
    ConversationService(sessions).update_options(cid, "Answer like a poet.", {})
    other = replace(MODEL, id="llama-3.1-8b-instant")
    list(turns.send(cid, "Question two", TurnSetup(other, AppSettings())))
    ConversationService(sessions).update_options(cid, "Today's prompt, never sent.", {})

    with sessions() as s:
        conv = repo.get_conversation(s, "", cid)
        assert conv is not None
        record = conversation_record(conv, repo.all_messages(s, cid), [])
    md = exporting.export([record], "md").data.decode("utf-8")
    html = exporting.export([record], "html").data.decode("utf-8")
    for text in (md, html):
        assert "Today's prompt" not in text and "Today&#x27;s prompt" not in text
        pirate, poet = text.index("Answer like a pirate."), text.index("Answer like a poet.")
        assert pirate < text.index("Question one", pirate) < poet < text.index("Question two", poet)
        assert text.index("openai/gpt-oss-20b", pirate) < poet < text.index("llama-3.1-8b-instant", poet)
