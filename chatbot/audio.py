"""Voice input: check a recording or audio file, transcribe it with Groq's Whisper, count its seconds.

The checks run before anything is uploaded, so a file that is empty, too large, silent or not
audio costs no request and no wait, and gets a translated sentence (``voice.*`` keys). Whisper
runs on Groq only (the built-in model cannot listen): without a Groq key, ``VoiceNeedsKey``.
Seconds are what Groq meters audio in (ASH/ASD limits), so each transcription's seconds are
stored per person for the Usage page.

Never imports Streamlit.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import groq
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chatbot import config
from chatbot.config import ApiKey
from chatbot.database import database_errors
from chatbot.errors import ChatError, InvalidInput, VoiceNeedsKey
from chatbot.store.models import AudioUsage, utcnow

# Groq's stated limits for speech-to-text (reference groq-api.md §11.1): 25 MB a file on the
# free tier, at least 0.01 s of audio, these containers only.
MAX_AUDIO_BYTES = 25 * 1024 * 1024
MIN_AUDIO_SECONDS = 0.01
# A WAV whose every sample stays under this fraction of full scale (-60 dBFS) holds nothing a
# person said: a muted or unplugged microphone. A quiet room's noise floor is about there too,
# and speech peaks tens of dB above it.
SILENCE_PEAK = 0.001
FORMATS = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm")

TRANSCRIBE_MODEL = "whisper-large-v3-turbo"  # the default: fastest, transcribes only
TRANSLATE_MODEL = "whisper-large-v3"  # the only Whisper on Groq that translates into English
MODELS = (TRANSCRIBE_MODEL, TRANSLATE_MODEL)

Format = Literal["flac", "mp3", "mp4", "m4a", "mpeg", "ogg", "wav", "webm"]


@dataclass(frozen=True)
class AudioClip:
    """Audio that passed :func:`check_audio`: safe to upload."""

    name: str
    data: bytes
    format: Format
    duration_seconds: float | None  # known for WAV (its header); None for compressed formats

    @property
    def upload_name(self) -> str:
        """The name sent to Groq: the user's, with the extension of what the bytes really are."""
        stem = self.name.rsplit(".", 1)[0] if "." in self.name else self.name
        return f"{stem or 'audio'}.{self.format}"


@dataclass(frozen=True)
class Transcript:
    text: str  # stripped (Whisper starts with a space)
    seconds: float  # audio seconds Groq reported (the clip's own length when it reports none)
    model: str
    translated: bool = False  # into English (translations endpoint)


# --------------------------------------------------------------------------- checks


def is_audio_name(name: str) -> bool:
    """Whether a file attached to a message is to be heard (by its name; its bytes are checked
    by ``check_audio``)."""
    return name.rsplit(".", 1)[-1].lower() in FORMATS if "." in name else False


def size_in_words(size: int) -> str:
    """Bytes as people say them: "25 MB", "2.5 MB", "300 KB"."""
    if size >= 1024 * 1024:
        megabytes = size / (1024 * 1024)
        return f"{megabytes:.0f} MB" if megabytes >= 10 or megabytes.is_integer() else f"{megabytes:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def sniff_format(data: bytes) -> Format | None:
    """Which of Groq's formats the bytes are, by their magic bytes (never by the file's name)."""
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM (Matroska)
        return "webm"
    if data[4:8] == b"ftyp":  # ISO base media: MP4, M4A
        return "m4a" if data[8:11] == b"M4A" else "mp4"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"  # an ID3 tag, or an MPEG audio frame's sync word (mp3, mpga, mpeg audio)
    if data[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):  # MPEG program stream / video
        return "mpeg"
    return None


@dataclass(frozen=True)
class Wav:
    format_tag: int  # 1 PCM, 3 IEEE float
    channels: int
    rate: int
    bits: int
    samples: bytes


def read_wav(data: bytes) -> Wav | None:
    """The fmt and data chunks of a RIFF/WAVE file; None when they are missing or broken."""
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if chunk == b"fmt " and size >= 16:
            tag = int.from_bytes(data[body : body + 2], "little")
            channels = int.from_bytes(data[body + 2 : body + 4], "little")
            rate = int.from_bytes(data[body + 4 : body + 8], "little")
            bits = int.from_bytes(data[body + 14 : body + 16], "little")
            if tag == 0xFFFE and size >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
                tag = int.from_bytes(data[body + 24 : body + 26], "little")
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            if fmt is None:
                return None
            tag, channels, rate, bits = fmt
            if channels < 1 or rate < 1 or bits not in (8, 16, 24, 32, 64):
                return None
            # A recorder that never patched the size (streaming) writes 0 or 0xFFFFFFFF: to the end.
            end = len(data) if size in (0, 0xFFFFFFFF) and pos + 8 < len(data) else body + size
            return Wav(tag, channels, rate, bits, data[body:end])
        pos = body + size + (size & 1)
    return None


def _peak_over(wav: Wav, threshold: float) -> bool:
    """Whether any sample reaches ``threshold`` of full scale; stops at the first that does."""
    width = wav.bits // 8
    step = 65_536 * width
    samples = wav.samples[: len(wav.samples) // width * width]
    for start in range(0, len(samples), step):
        chunk = samples[start : start + step]
        if wav.bits == 8:  # unsigned, silence at 128
            if max(chunk) - 128 >= threshold * 128 or 128 - min(chunk) >= threshold * 128:
                return True
            continue
        values: array[Any]
        if wav.format_tag == 3:
            values, full = array("f" if wav.bits == 32 else "d", chunk), 1.0
        elif wav.bits == 24:  # widen each sample to 32 bits (low byte zero): sign and order kept
            wide = bytearray(len(chunk) // 3 * 4)
            wide[1::4], wide[2::4], wide[3::4] = chunk[0::3], chunk[1::3], chunk[2::3]
            values, full = array("i", bytes(wide)), float(2**31)
        else:
            values, full = array({16: "h", 32: "i", 64: "q"}[wav.bits], chunk), float(2 ** (wav.bits - 1))
        if sys.byteorder == "big":
            values.byteswap()
        if values and max(max(values), -min(values)) >= threshold * full:
            return True
    return False


def check_audio(name: str, data: bytes) -> AudioClip:
    """The clip to upload, or ``InvalidInput`` saying why not (before any request)."""
    if not data:
        raise InvalidInput("voice.empty")
    if len(data) > MAX_AUDIO_BYTES:
        raise InvalidInput("voice.too_large", size=size_in_words(len(data)), limit=size_in_words(MAX_AUDIO_BYTES))
    found = sniff_format(data)
    if found is None:
        raise InvalidInput("voice.not_audio", name=name)
    duration: float | None = None
    if found == "wav":
        wav = read_wav(data)
        if wav is None or wav.format_tag not in (1, 3):
            raise InvalidInput("voice.unreadable", name=name)
        duration = len(wav.samples) / (wav.rate * wav.channels * (wav.bits // 8))
        if duration < MIN_AUDIO_SECONDS:
            raise InvalidInput("voice.too_short", seconds=f"{duration:.3f}", minimum=f"{MIN_AUDIO_SECONDS:g}")
        if not _peak_over(wav, SILENCE_PEAK):
            raise InvalidInput("voice.silent")
    return AudioClip(name, data, found, duration)


def language_hint(ui_language: str | None) -> str | None:
    """The app's language ("en", "zh-CN") as Whisper's ISO-639-1 hint ("en", "zh")."""
    if not ui_language:
        return None
    code = ui_language.split("-")[0].split("_")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


# --------------------------------------------------------------------------- transcription


def groq_client(api_key: str | ApiKey | None, base_url: str | None = None) -> groq.Groq:
    """The SDK client for ``api_key``: the chat's own (kept per key, with its connections and its
    rule on 429 retries); ``VoiceNeedsKey`` without a key."""
    value = api_key.value if isinstance(api_key, ApiKey) else api_key
    if not value or not value.strip():
        raise VoiceNeedsKey()
    from chatbot.providers import groq_client as kept_client

    return kept_client(value.strip(), base_url if base_url is not None else config.groq_base_url())


def _error_code(exc: groq.APIStatusError) -> str:
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def translate_audio_error(exc: Exception, model: str) -> ChatError:
    """An SDK error from Whisper as the chat's errors, but said of audio where that is clearer."""
    from chatbot.providers.groq_api import translate_error

    if isinstance(exc, groq.APIStatusError):
        code = _error_code(exc)
        if exc.status_code == 413 and code != "rate_limit_exceeded":
            return InvalidInput("voice.too_large_sent", limit=size_in_words(MAX_AUDIO_BYTES))
        if isinstance(exc, groq.BadRequestError) and code not in ("model_decommissioned", "model_not_found"):
            return InvalidInput("voice.rejected")
    return translate_error(exc, model)


def transcribe(
    client: groq.Groq,
    clip: AudioClip,
    model: str = TRANSCRIBE_MODEL,
    language: str | None = None,
    translate: bool = False,
) -> Transcript:
    """The clip's words (``translate``: in English, with whisper-large-v3, the only one that can).

    ``language`` is an ISO-639-1 hint (see :func:`language_hint`); translations take none.
    SDK errors come out as ``ChatError`` values (:func:`translate_audio_error`).
    """
    if translate:
        model = TRANSLATE_MODEL
    upload = (clip.upload_name, clip.data)
    try:
        if translate:
            result: Any = client.audio.translations.create(file=upload, model=model, response_format="verbose_json")
        else:
            result = client.audio.transcriptions.create(
                file=upload,
                model=model,
                response_format="verbose_json",
                language=language or groq.omit,
            )
    except groq.APIError as exc:
        raise translate_audio_error(exc, model) from None
    extra: dict[str, Any] = getattr(result, "model_extra", None) or {}
    try:
        seconds = float(extra["duration"])
    except (KeyError, TypeError, ValueError):
        seconds = clip.duration_seconds or 0.0
    return Transcript(str(result.text).strip(), seconds, model, translate)


# --------------------------------------------------------------------------- usage


@dataclass(frozen=True)
class AudioDay:
    day: str  # YYYY-MM-DD (UTC)
    seconds: float
    transcriptions: int


@database_errors
def record_audio_seconds(
    sessions: sessionmaker[Session], owner: str, transcript: Transcript, when: datetime | None = None
) -> None:
    """Count one transcription's seconds for ``owner`` ("" = the single local user)."""
    with sessions.begin() as s:
        s.add(
            AudioUsage(
                owner=owner,
                model=transcript.model,
                task="translate" if transcript.translated else "transcribe",
                seconds=max(0.0, transcript.seconds),
                created_at=when or utcnow(),
            )
        )


@database_errors
def audio_seconds_by_day(sessions: sessionmaker[Session], owner: str, days: int = 30) -> list[AudioDay]:
    """``owner``'s audio seconds per day (UTC) over the last ``days`` days, oldest first."""
    day = func.date(AudioUsage.created_at)
    query = (
        select(day, func.coalesce(func.sum(AudioUsage.seconds), 0.0), func.count())
        .where(AudioUsage.owner == owner, AudioUsage.created_at >= utcnow() - timedelta(days=days))
        .group_by(day)
        .order_by(day)
    )
    with sessions() as s:
        return [AudioDay(str(d), float(total), int(n)) for d, total, n in s.execute(query)]
