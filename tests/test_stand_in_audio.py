"""The stand-in's Whisper endpoints, driven by the real groq SDK: what tests of voice input rely on."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Iterator

import groq
import pytest

from tests.stand_in_groq import StandInGroq


def make_wav(seconds: float = 1.0, rate: int = 16_000, amplitude: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = int(seconds * rate)
        out.writeframes(b"".join(struct.pack("<h", int(amplitude * math.sin(i / 8))) for i in range(frames)))
    return buffer.getvalue()


@pytest.fixture
def server() -> Iterator[StandInGroq]:
    with StandInGroq() as stand_in:
        yield stand_in


@pytest.fixture
def client(server: StandInGroq) -> groq.Groq:
    return groq.Groq(api_key=server.api_key, base_url=server.base_url, max_retries=0)


def test_verbose_json_carries_text_duration_language_and_segments(server: StandInGroq, client: groq.Groq) -> None:
    server.transcript = "Bonjour tout le monde."
    result = client.audio.transcriptions.create(
        file=("hello.wav", make_wav(2.5)), model="whisper-large-v3-turbo", language="fr", response_format="verbose_json"
    )
    assert result.text == " Bonjour tout le monde."  # Whisper's leading space
    extra = result.model_extra or {}
    assert extra["duration"] == 2.5  # from the WAV header
    assert extra["language"] == "French"
    assert extra["task"] == "transcribe"
    assert extra["segments"][0]["text"] == " Bonjour tout le monde."
    assert server.audio_requests == [
        {
            "path": "/openai/v1/audio/transcriptions",
            "model": "whisper-large-v3-turbo",
            "language": "fr",
            "prompt": None,
            "response_format": "verbose_json",
            "temperature": None,
            "filename": "hello.wav",
            "size": len(make_wav(2.5)),
            "status": 200,
        }
    ]


def test_the_text_is_derived_from_the_audio(client: groq.Groq) -> None:
    def text(audio: bytes) -> str:
        return client.audio.transcriptions.create(file=("a.wav", audio), model="whisper-large-v3").text

    one, other = make_wav(1.0), make_wav(1.2)
    assert text(one) == text(one)
    assert text(one) != text(other)
    assert text(one).startswith(" ")


def test_json_and_text_formats(server: StandInGroq, client: groq.Groq) -> None:
    server.transcript = "Hi."
    as_json = client.audio.transcriptions.create(file=("a.wav", make_wav()), model="whisper-large-v3")
    assert as_json.text == " Hi."
    as_text = client.audio.transcriptions.create(
        file=("a.wav", make_wav()), model="whisper-large-v3", response_format="text"
    )
    assert as_text == " Hi."  # type: ignore[comparison-overlap]  # the SDK returns the plain body


def test_translation_uses_whisper_large_v3_only(server: StandInGroq, client: groq.Groq) -> None:
    server.transcript = "Good morning."
    done = client.audio.translations.create(
        file=("a.wav", make_wav()), model="whisper-large-v3", response_format="verbose_json"
    )
    assert done.text == " Good morning."
    assert (done.model_extra or {})["language"] == "english"
    with pytest.raises(groq.BadRequestError):
        client.audio.translations.create(file=("a.wav", make_wav()), model="whisper-large-v3-turbo")
    assert [r["status"] for r in server.audio_requests] == [200, 400]


def test_refusals_as_groq_answers_them(server: StandInGroq, client: groq.Groq) -> None:
    with pytest.raises(groq.BadRequestError) as not_audio:
        client.audio.transcriptions.create(file=("notes.wav", b"just some text, renamed"), model="whisper-large-v3")
    assert not_audio.value.status_code == 400
    with pytest.raises(groq.BadRequestError):
        client.audio.transcriptions.create(file=("a.wav", make_wav()), model="whisper-large-v3", response_format="srt")  # type: ignore[arg-type]
    with pytest.raises(groq.BadRequestError):
        client.audio.transcriptions.create(file=("a.wav", make_wav()), model="llama-3.1-8b-instant")
    with pytest.raises(groq.NotFoundError):
        client.audio.transcriptions.create(file=("a.wav", make_wav()), model="whisper-nope")
    server.audio_max_bytes = 1000
    with pytest.raises(groq.APIStatusError) as too_large:
        client.audio.transcriptions.create(file=("a.wav", make_wav()), model="whisper-large-v3")
    assert too_large.value.status_code == 413
    assert too_large.value.body == {
        "error": {"message": "Request Entity Too Large", "type": "invalid_request_error", "code": "request_too_large"}
    }
    with pytest.raises(groq.AuthenticationError):
        groq.Groq(api_key="gsk_wrong", base_url=server.base_url, max_retries=0).audio.transcriptions.create(
            file=("a.wav", make_wav()), model="whisper-large-v3"
        )


@pytest.mark.parametrize(
    "head",
    [
        b"fLaC\x00\x00",
        b"ID3\x04\x00",
        b"\xff\xfb\x90\x00",
        b"\x00\x00\x00\x20ftypM4A ",
        b"OggS\x00",
        b"\x1a\x45\xdf\xa3",
    ],
)
def test_every_listed_format_is_accepted(client: groq.Groq, head: bytes) -> None:
    result = client.audio.transcriptions.create(file=("clip", head + bytes(2000)), model="whisper-large-v3")
    assert result.text.strip()
