"""The Voice service: a recording heard as the user's settings say, counted for that user only."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chatbot.errors import InvalidInput, VoiceNeedsKey
from chatbot.providers import Providers
from chatbot.settings import AppSettings, validate
from chatbot.voice import Voice, joined
from tests.stand_in_groq import StandInGroq
from tests.test_audio import make_wav


def test_heard_text_follows_what_was_typed_and_the_review_setting(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    groq_server.transcript = " Hello there."
    providers = Providers(groq_server.api_key, groq_server.base_url)
    alice, bob = Voice(sessions, "alice", providers), Voice(sessions, "bob", providers)

    heard = alice.hear("a.wav", make_wav(2.0), "  Typed.  ", AppSettings(), "zh-CN")
    assert (heard.text, heard.review) == ("Typed.\n\nHello there.", True)
    assert groq_server.audio_requests[-1]["language"] == "zh"  # the app's language as the hint

    at_once = alice.hear("a.wav", make_wav(1.0), "", AppSettings(voice_review=False), "en")
    assert (at_once.text, at_once.review) == ("Hello there.", False)
    [day] = alice.seconds_by_day(30)
    assert day.transcriptions == 2 and day.seconds == pytest.approx(3.0, abs=0.1)
    assert bob.seconds_by_day(30) == []  # counted for the one who spoke


def test_translating_sends_no_language_hint(groq_server: StandInGroq, sessions: sessionmaker[Session]) -> None:
    voice = Voice(sessions, "", Providers(groq_server.api_key, groq_server.base_url))
    voice.hear("a.wav", make_wav(1.0), "", AppSettings(voice_translate=True), "zh-CN")
    request = groq_server.audio_requests[-1]
    assert request["path"].endswith("/translations") and request["model"] == "whisper-large-v3"
    assert request["language"] is None


def test_without_a_key_nothing_is_uploaded(groq_server: StandInGroq, sessions: sessionmaker[Session]) -> None:
    with pytest.raises(VoiceNeedsKey):
        Voice(sessions, "", Providers(None, groq_server.base_url)).hear("a.wav", make_wav(), "", AppSettings(), "en")
    assert groq_server.audio_requests == []


def test_only_groqs_whisper_models_are_settings() -> None:
    with pytest.raises(InvalidInput):
        validate(AppSettings(voice_model="gpt-4o-transcribe"))
    assert AppSettings.from_stored({"voice_model": "nope"}).voice_model == "whisper-large-v3-turbo"
    with pytest.raises(InvalidInput):
        validate(AppSettings(speech_voice="alloy"))  # an OpenAI voice, not one of Orpheus's
    assert validate(AppSettings(speech_voice="troy")).speech_voice == "troy"


def test_joined_keeps_either_part_alone() -> None:
    assert joined("", " heard ") == "heard" and joined("typed", "") == "typed"
