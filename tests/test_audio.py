"""Voice input: a recording is checked before any upload, transcribed by the real groq SDK against
the stand-in's Whisper, and its seconds are counted per person and day."""

from __future__ import annotations

import io
import math
import struct
import wave
from datetime import timedelta

import groq
import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from chatbot import audio
from chatbot.errors import ChatError, InvalidInput, VoiceNeedsKey
from chatbot.i18n import LANGUAGES, catalogue, set_language, t
from chatbot.store.models import utcnow
from tests.stand_in_groq import StandInGroq

AUDIO_PATHS = ("/openai/v1/audio/transcriptions", "/openai/v1/audio/translations")


def make_wav(seconds: float = 1.0, rate: int = 16_000, amplitude: int = 8000, width: int = 2) -> bytes:
    """A mono sine tone (amplitude 0: digital silence) written by the stdlib ``wave`` module."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        frames = int(seconds * rate)
        if width == 1:
            out.writeframes(bytes(128 + int(amplitude * math.sin(i / 8)) for i in range(frames)))
        else:
            out.writeframes(b"".join(struct.pack("<h", int(amplitude * math.sin(i / 8))) for i in range(frames)))
    return buffer.getvalue()


pytestmark = pytest.mark.usefixtures("english")


def audio_requests_seen(server: StandInGroq) -> list[dict[str, object]]:
    return [r for r in server.requests if r["path"] in AUDIO_PATHS]


def said(error: ChatError, language: str) -> str:
    set_language(language)
    try:
        return t(error.key, **error.values)
    finally:
        set_language("en")


# --------------------------------------------------------------------------- transcription


def test_a_recording_becomes_the_stand_ins_text_and_seconds(groq_server: StandInGroq) -> None:
    groq_server.transcript = "What is the capital of France?"
    clip = audio.check_audio("recording.wav", make_wav(2.0))
    assert (clip.format, clip.duration_seconds) == ("wav", 2.0)
    result = audio.transcribe(audio.groq_client(groq_server.api_key), clip, language=audio.language_hint("zh-CN"))
    assert result == audio.Transcript("What is the capital of France?", 2.0, "whisper-large-v3-turbo", False)
    (request,) = groq_server.audio_requests
    assert request["path"] == "/openai/v1/audio/transcriptions"
    assert request["model"] == "whisper-large-v3-turbo"
    assert request["language"] == "zh"
    assert request["response_format"] == "verbose_json"
    assert (request["filename"], request["size"]) == ("recording.wav", len(clip.data))


def test_the_setting_model_and_no_hint(groq_server: StandInGroq) -> None:
    clip = audio.check_audio("memo.wav", make_wav(1.0))
    result = audio.transcribe(audio.groq_client(groq_server.api_key), clip, model="whisper-large-v3")
    assert result.model == "whisper-large-v3"
    assert result.text and not result.text.startswith(" ")  # the stand-in's phrase, stripped
    assert groq_server.audio_requests[-1]["model"] == "whisper-large-v3"
    assert groq_server.audio_requests[-1]["language"] is None


def test_translate_uses_translations_and_whisper_large_v3(groq_server: StandInGroq) -> None:
    groq_server.transcript = "Good morning."
    clip = audio.check_audio("bonjour.wav", make_wav(1.5))
    client = audio.groq_client(groq_server.api_key)
    result = audio.transcribe(client, clip, model="whisper-large-v3-turbo", language="fr", translate=True)
    assert result == audio.Transcript("Good morning.", 1.5, "whisper-large-v3", True)
    (request,) = groq_server.audio_requests
    assert request["path"] == "/openai/v1/audio/translations"
    assert request["model"] == "whisper-large-v3"


def test_a_renamed_mp3_is_sent_under_its_real_extension(groq_server: StandInGroq) -> None:
    clip = audio.check_audio("voice.wav", b"ID3\x04\x00" + bytes(4000))
    assert (clip.format, clip.duration_seconds, clip.upload_name) == ("mp3", None, "voice.mp3")
    result = audio.transcribe(audio.groq_client(groq_server.api_key), clip)
    assert result.seconds > 0  # the stand-in's estimate for a compressed file
    assert groq_server.audio_requests[-1]["filename"] == "voice.mp3"


def test_language_hint() -> None:
    assert audio.language_hint("en") == "en"
    assert audio.language_hint("zh-CN") == "zh"
    assert audio.language_hint(None) is None
    assert audio.language_hint("") is None
    assert all(audio.language_hint(language) for language in LANGUAGES)


# --------------------------------------------------------------------------- refused before any upload


def png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(100)


REFUSALS = {
    "empty": ("empty.wav", b"", "voice.empty"),
    "30 MB": ("long.mp3", b"ID3\x04\x00" + bytes(30 * 1024 * 1024), "voice.too_large"),
    "text renamed .wav": ("notes.wav", b"These are my notes, not a recording.\n" * 20, "voice.not_audio"),
    "silent WAV": ("quiet.wav", make_wav(1.0, amplitude=0), "voice.silent"),
    "silent 8-bit WAV": ("quiet8.wav", make_wav(0.5, amplitude=0, width=1), "voice.silent"),
    "PNG": ("photo.png", png(), "voice.not_audio"),
    "shorter than 0.01 s": ("blip.wav", make_wav(0.005), "voice.too_short"),
    "WAV header only": ("cut.wav", make_wav(1.0)[:20], "voice.unreadable"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_audio_is_refused_before_any_upload(groq_server: StandInGroq, case: str) -> None:
    name, data, key = REFUSALS[case]
    with pytest.raises(InvalidInput) as refused:
        clip = audio.check_audio(name, data)
        audio.transcribe(audio.groq_client(groq_server.api_key), clip)  # never reached
    error = refused.value
    assert error.key == key
    english, chinese = said(error, "en"), said(error, "zh-CN")
    assert english == catalogue("en")[key].format(**error.values)
    assert chinese == catalogue("zh-CN")[key].format(**error.values)
    assert english != chinese and "{" not in english + chinese
    if key == "voice.too_large":
        assert "25 MB" in english and "25 MB" in chinese and "30 MB" in english
    if key == "voice.not_audio":
        assert name in english and name in chinese
    assert audio_requests_seen(groq_server) == []
    assert groq_server.audio_requests == []


def test_a_quiet_but_not_silent_recording_is_accepted() -> None:
    assert audio.check_audio("soft.wav", make_wav(0.5, amplitude=200)).format == "wav"  # about -44 dBFS
    assert audio.check_audio("soft8.wav", make_wav(0.5, amplitude=20, width=1)).format == "wav"


def test_the_size_limit_is_said_in_words() -> None:
    assert audio.size_in_words(audio.MAX_AUDIO_BYTES) == "25 MB"
    assert audio.size_in_words(30 * 1024 * 1024) == "30 MB"
    assert audio.size_in_words(int(2.5 * 1024 * 1024)) == "2.5 MB"
    assert audio.size_in_words(300 * 1024) == "300 KB"


# --------------------------------------------------------------------------- errors from Groq


def test_a_413_from_groq_says_the_audio_is_too_large(groq_server: StandInGroq) -> None:
    client = audio.groq_client(groq_server.api_key)
    with pytest.raises(groq.APIStatusError) as answered:  # past our check, straight to the stand-in
        client.audio.transcriptions.create(file=("big.mp3", b"ID3" + bytes(26 * 1024 * 1024)), model="whisper-large-v3")
    assert answered.value.status_code == 413
    error = audio.translate_audio_error(answered.value, "whisper-large-v3")
    assert error.key == "voice.too_large_sent"
    assert "25 MB" in said(error, "en") and "25 MB" in said(error, "zh-CN")


def test_groq_refusing_the_media_is_a_voice_message(groq_server: StandInGroq) -> None:
    groq_server.audio_max_bytes = 10 * 1024 * 1024
    clip = audio.AudioClip("fake.wav", b"not audio at all", "wav", 1.0)  # as if the check were skipped
    with pytest.raises(ChatError) as refused:
        audio.transcribe(audio.groq_client(groq_server.api_key), clip)
    assert refused.value.key == "voice.rejected"


def test_a_wrong_key_is_the_chats_authentication_error(groq_server: StandInGroq) -> None:
    clip = audio.check_audio("a.wav", make_wav(0.5))
    with pytest.raises(ChatError) as refused:
        audio.transcribe(audio.groq_client("gsk_not_the_right_one"), clip)
    assert refused.value.key == "error.auth"
    assert refused.value.actions == ("settings",)


@pytest.mark.parametrize("key", [None, "", "   "])
def test_without_a_groq_key_voice_input_says_it_needs_one(key: str | None) -> None:
    with pytest.raises(VoiceNeedsKey) as refused:
        audio.groq_client(key)
    assert refused.value.key == "voice.needs_key"
    assert refused.value.actions == ("settings",)
    assert "Groq API key" in said(refused.value, "en")
    assert "Groq API 密钥" in said(refused.value, "zh-CN")


# --------------------------------------------------------------------------- seconds used


def test_audio_seconds_are_stored_per_user_and_summed_per_day(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    yesterday = now - timedelta(days=1)
    long_ago = now - timedelta(days=40)
    turbo = audio.Transcript("hi", 12.5, "whisper-large-v3-turbo")
    translated = audio.Transcript("hello", 3.25, "whisper-large-v3", translated=True)
    audio.record_audio_seconds(sessions, "alice", turbo, when=now)
    audio.record_audio_seconds(sessions, "alice", translated, when=now)
    audio.record_audio_seconds(sessions, "alice", turbo, when=yesterday)
    audio.record_audio_seconds(sessions, "alice", turbo, when=long_ago)  # outside the 30 days
    audio.record_audio_seconds(sessions, "bob", turbo, when=now)
    alice = audio.audio_seconds_by_day(sessions, "alice")
    assert alice == [
        audio.AudioDay(yesterday.date().isoformat(), 12.5, 1),
        audio.AudioDay(now.date().isoformat(), 15.75, 2),
    ]
    assert audio.audio_seconds_by_day(sessions, "bob") == [audio.AudioDay(now.date().isoformat(), 12.5, 1)]
    assert audio.audio_seconds_by_day(sessions, "") == []  # the single local user is someone else
    assert len(audio.audio_seconds_by_day(sessions, "alice", days=60)) == 3


def test_a_transcription_end_to_end_is_counted(groq_server: StandInGroq, sessions: sessionmaker[Session]) -> None:
    clip = audio.check_audio("r.wav", make_wav(4.0))
    result = audio.transcribe(audio.groq_client(groq_server.api_key), clip, language="en")
    audio.record_audio_seconds(sessions, "carol", result)
    (day,) = audio.audio_seconds_by_day(sessions, "carol")
    assert (day.seconds, day.transcriptions) == (4.0, 1)


def test_the_audio_usage_migration_upgrades_and_downgrades(db_url: str) -> None:
    from alembic import command

    from chatbot.store.db import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine, "0005")
    assert "audio_usage" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "audio_usage" in inspect(engine).get_table_names()
    assert "ix_audio_usage_owner_created" in {ix["name"] for ix in inspect(engine).get_indexes("audio_usage")}
    audio.record_audio_seconds(sessionmaker(engine), "dave", audio.Transcript("x", 1.0, "whisper-large-v3"))
    command.downgrade(alembic_config(engine), "0005")
    assert "audio_usage" not in inspect(engine).get_table_names()
    assert {"conversations", "messages"} <= set(inspect(engine).get_table_names())
    upgrade(engine)
    assert audio.audio_seconds_by_day(sessionmaker(engine), "dave") == []
    engine.dispose()
