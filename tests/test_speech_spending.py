"""Read-aloud priced on the Usage page: the characters sent to Groq's text-to-speech are kept with
each clip and priced per million (the price table's ``speech_million_chars``), per day.

Through the real SDK against the stand-in's /audio/speech; storage on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot import speech
from chatbot.costs import Costs
from chatbot.pricing import builtin_table
from chatbot.providers import Providers
from chatbot.store.models import SpeechClip, utcnow
from tests.stand_in_groq import StandInGroq
from tests.test_speech import LONG_REPLY, reply


def test_speech_is_priced_per_million_characters_sent(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    message_id = reply(sessions, "alice", LONG_REPLY)
    alice = speech.Speech(sessions, "alice", Providers(groq_server.api_key, groq_server.base_url))
    alice.read_aloud(message_id, LONG_REPLY)
    alice.read_aloud(message_id, LONG_REPLY)  # a replay: no request, nothing more to pay
    sent = sum(len(r["input"]) for r in groq_server.speech_requests)
    assert sent > 200  # more than one piece
    with sessions() as s:
        assert list(s.scalars(select(SpeechClip.characters))) == [sent]
    bobs = reply(sessions, "bob", "Hello there.")
    speech.Speech(sessions, "bob", Providers(groq_server.api_key, groq_server.base_url)).read_aloud(
        bobs, "Hello there."
    )

    costs = Costs(sessions, "alice", builtin_table())
    (row,) = costs.speech(utcnow() - timedelta(days=1), speech.MODEL)  # bob's clip is not alice's
    assert (row.day, row.model) == (utcnow().date().isoformat(), speech.MODEL)
    assert row.cost.usd == sent * Decimal(22) / 1_000_000  # Orpheus English: $22 per million characters
    assert costs.speech(utcnow() - timedelta(days=1), "no/such-voice-model")[0].cost.usd is None  # unknown, not $0


def test_clips_from_before_the_count_was_kept_cost_nothing_known(sessions: sessionmaker[Session]) -> None:
    message_id = reply(sessions, "alice", "Hi.")
    with sessions.begin() as s:
        s.add(SpeechClip(owner="alice", message_id=message_id, voice="autumn", text_hash="x", audio=b"", size=0))
    assert Costs(sessions, "alice", builtin_table()).speech(utcnow() - timedelta(days=1), speech.MODEL) == []
