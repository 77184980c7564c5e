"""Replies read aloud: a reply's Markdown made speakable, spoken by Groq's Orpheus, kept.

Orpheus (``canopylabs/orpheus-v1-english``, reference groq-api-more.md §5.2) takes at most 200
characters a request and answers WAV only, so :func:`script` turns the reply into plain text
(code blocks skipped, Markdown marks removed, links keep their words), refuses a reply that is
mostly not in Latin script (the voice speaks English only: it would be gibberish), reads at most
``MAX_READ_CHARS`` of it (saying so, in words, when it stops) and cuts it on sentence
boundaries into pieces of at most 200 characters. :class:`Speech` has each piece spoken through
the chat's Groq client and joins them into one WAV (the stdlib ``wave``), kept in the database
per person, message, voice and text, so replaying costs no request.

Never imports Streamlit.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import wave
from dataclasses import dataclass
from typing import Any

import groq
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chatbot import audio
from chatbot.database import database_errors
from chatbot.errors import ChatError, InvalidInput, SpeechNeedsKey
from chatbot.providers import Providers
from chatbot.settings import SPEECH_VOICES
from chatbot.store.models import Conversation, Message, SpeechClip, utcnow

MODEL = "canopylabs/orpheus-v1-english"
# Orpheus's English voices (groq-api-more.md §5.2); the first is the default.
VOICES = SPEECH_VOICES
DEFAULT_VOICE = VOICES[0]
MAX_PIECE_CHARS = 200  # Groq's limit on one request's input
# At most this much of a reply is read (about four minutes of speech, some 20 requests).
MAX_READ_CHARS = 4000
# Said at the end of a reply read only in part (in English: the voice speaks nothing else).
CUT_NOTICE = "The rest of this reply is not read aloud."
# A reply is refused when more than this share of its letters are not Latin script (weighed).
MAX_NON_LATIN_SHARE = 0.5
# WAVs kept per person; beyond it the least recently played go first.
MAX_CACHE_BYTES = 64 * 1024 * 1024


# --------------------------------------------------------------------------- speakable text

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<(?:https?|mailto):[^>\s]+>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_EMPHASIS = re.compile(r"(\*\*|__|~~|\*|(?<!\w)_)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+")


def _plain_line(line: str) -> str:
    """One line of Markdown as words: marks gone, links and images their text."""
    if _RULE.match(line) or _TABLE_RULE.match(line):
        return ""
    if heading := _HEADING.match(line):
        line = heading.group(1)
    line = _QUOTE.sub("", line)
    line = _LIST_MARK.sub("", line)
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _REFERENCE_LINK.sub(r"\1", line)
    line = _AUTOLINK.sub("", line)
    line = _HTML_TAG.sub("", line)
    line = _INLINE_CODE.sub(r"\2", line)
    for _ in range(3):  # nested marks: ***both***, **_this_**
        line = _EMPHASIS.sub(r"\2", line)
    if "|" in line:  # a table row: its cells, in order
        line = ", ".join(cell.strip() for cell in line.strip().strip("|").split("|") if cell.strip())
    return " ".join(line.split())


def plain_text(markdown: str) -> str:
    """The reply's Markdown as text to say: code blocks skipped, every line a sentence of its own
    (a heading or a list item without a full stop gets one, so the voice pauses after it)."""
    text = _FENCE.sub("\n", markdown.replace("\r\n", "\n"))
    sentences = []
    for raw in text.split("\n"):
        line = _plain_line(raw)
        if not line:
            continue
        if line[-1].isalnum():
            line += "."
        sentences.append(line)
    return " ".join(sentences)


def _is_latin(char: str) -> bool:
    return "LATIN" in unicodedata.name(char, "")


# Scripts written without spaces, a character a syllable: each weighs as much as about three
# Latin letters (a Chinese reply with an English name in it is still mostly Chinese).
_SYLLABIC = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")


def _weight(char: str) -> int:
    return 3 if unicodedata.name(char, "").startswith(_SYLLABIC) else 1


def mostly_latin(text: str) -> bool:
    """Whether at most ``MAX_NON_LATIN_SHARE`` of the text's letters, a Chinese, Japanese or
    Korean character counted as three, are of a script other than Latin."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    other = sum(_weight(c) for c in letters if not _is_latin(c))
    latin = sum(1 for c in letters if _is_latin(c))
    return other <= MAX_NON_LATIN_SHARE * (other + latin)


def _split_long(sentence: str, limit: int) -> list[str]:
    """A sentence longer than ``limit`` cut after commas and the like, else between words; only a
    single word longer than ``limit`` (a long URL) is cut inside."""
    parts: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        words = clause.split(" ")
        current = ""
        for word in words:
            while len(word) > limit:
                if current:
                    parts.append(current)
                    current = ""
                parts.append(word[:limit])
                word = word[limit:]
            if not word:
                continue
            if current and len(current) + 1 + len(word) > limit:
                parts.append(current)
                current = word
            else:
                current = f"{current} {word}" if current else word
        if current:
            parts.append(current)
    return _packed(parts, limit)


def _packed(parts: list[str], limit: int) -> list[str]:
    """Consecutive parts joined while they fit: fewer requests, the same pauses."""
    pieces: list[str] = []
    for part in parts:
        if pieces and len(pieces[-1]) + 1 + len(part) <= limit:
            pieces[-1] = f"{pieces[-1]} {part}"
        else:
            pieces.append(part)
    return pieces


@dataclass(frozen=True)
class Script:
    """What is read of a reply: its pieces (each at most 200 characters), and whether the reply
    was longer than ``MAX_READ_CHARS`` and read only in part (the last piece then says so)."""

    pieces: tuple[str, ...]
    cut: bool

    @property
    def text(self) -> str:
        return " ".join(self.pieces)


def script(text: str, limit: int = MAX_READ_CHARS) -> Script:
    """The reply ``text`` (Markdown) as pieces to speak; ``InvalidInput`` when there is nothing
    to say (``speech.nothing``: empty, or only code) or it is mostly not Latin script
    (``speech.not_english``). Nothing is requested."""
    plain = plain_text(text)
    if not any(c.isalnum() for c in plain):
        raise InvalidInput("speech.nothing")
    if not mostly_latin(plain):
        raise InvalidInput("speech.not_english")
    sentences = [s for s in _SENTENCE_END.split(plain) if s.strip()]
    parts: list[str] = []
    total = 0
    cut = False
    for sentence in sentences:
        for part in _split_long(sentence.strip(), MAX_PIECE_CHARS) if len(sentence) > MAX_PIECE_CHARS else [sentence]:
            if total + len(part) > limit:
                cut = True
                break
            parts.append(part)
            total += len(part) + 1
        if cut:
            break
    pieces = _packed(parts, MAX_PIECE_CHARS)
    if cut:
        pieces.append(CUT_NOTICE)
    return Script(tuple(pieces), cut)


def pieces(text: str) -> list[str]:
    """The reply ``text`` (Markdown) as plain-text pieces of at most 200 characters, split on
    sentence boundaries (see :func:`script`, which also says whether the reply was cut)."""
    return list(script(text).pieces)


# --------------------------------------------------------------------------- WAV


@dataclass(frozen=True)
class _Pcm:
    channels: int
    width: int  # bytes a sample
    rate: int
    frames: bytes


def _read_pcm(data: bytes) -> _Pcm:
    """The format and samples of a PCM WAV (chatbot.audio reads its chunks; a streamed one runs
    to the end of the bytes), cut to whole frames."""
    wav = audio.read_wav(data) if data[:4] == b"RIFF" and data[8:12] == b"WAVE" else None
    if wav is None or wav.format_tag != 1 or wav.bits not in (8, 16, 24, 32):
        raise ChatError("speech.unreadable")
    frame = wav.channels * wav.bits // 8
    return _Pcm(wav.channels, wav.bits // 8, wav.rate, wav.samples[: len(wav.samples) // frame * frame])


def join_wavs(parts: list[bytes]) -> bytes:
    """One WAV of the parts one after another (all of one format, as one voice answers)."""
    read = [_read_pcm(part) for part in parts]
    first = read[0]
    if any((p.channels, p.width, p.rate) != (first.channels, first.width, first.rate) for p in read):
        raise ChatError("speech.unreadable")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(first.channels)
        out.setsampwidth(first.width)
        out.setframerate(first.rate)
        for p in read:
            out.writeframes(p.frames)
    return buffer.getvalue()


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as clip:
        return float(clip.getnframes() / clip.getframerate())


# --------------------------------------------------------------------------- Groq


def synthesize(client: groq.Groq, text: str, voice: str = DEFAULT_VOICE, model: str = MODEL) -> bytes:
    """One piece (at most 200 characters) spoken: Groq's WAV. SDK errors as ChatError values."""
    try:
        response: Any = client.audio.speech.create(model=model, voice=voice, input=text, response_format="wav")
        return bytes(response.read())
    except groq.APIError as exc:
        from chatbot.providers.groq_api import translate_error

        raise translate_error(exc, model) from None


def text_hash(text: str, voice: str, model: str = MODEL) -> str:
    return hashlib.sha256(f"{model}\n{voice}\n{text}".encode()).hexdigest()


# --------------------------------------------------------------------------- cache


@database_errors
def _owns(sessions: sessionmaker[Session], owner: str, message_id: str) -> bool:
    query = (
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id == message_id, Conversation.owner == owner)
    )
    with sessions() as s:
        return s.execute(query).first() is not None


@database_errors
def cached(sessions: sessionmaker[Session], owner: str, message_id: str, voice: str, digest: str) -> bytes | None:
    """The WAV kept for this reply, voice and text (marked as just played), or None."""
    where = (
        SpeechClip.owner == owner,
        SpeechClip.message_id == message_id,
        SpeechClip.voice == voice,
        SpeechClip.text_hash == digest,
    )
    with sessions.begin() as s:
        found = s.execute(select(SpeechClip.id, SpeechClip.audio).where(*where)).first()
        if found is None:
            return None
        s.execute(update(SpeechClip).where(SpeechClip.id == found.id).values(used_at=utcnow()))
        return bytes(found.audio)


@database_errors
def keep(
    sessions: sessionmaker[Session],
    owner: str,
    message_id: str,
    voice: str,
    digest: str,
    wav: bytes,
    limit: int = MAX_CACHE_BYTES,
    characters: int | None = None,
) -> None:
    """Keep ``wav`` for this reply and voice (replacing one of an older text of it), with the
    ``characters`` sent for it (Groq prices speech per million), then forget the least recently
    played of ``owner``'s beyond ``limit`` bytes."""
    try:
        with sessions.begin() as s:
            s.execute(
                delete(SpeechClip).where(
                    SpeechClip.owner == owner, SpeechClip.message_id == message_id, SpeechClip.voice == voice
                )
            )
            s.add(
                SpeechClip(
                    owner=owner,
                    message_id=message_id,
                    voice=voice,
                    text_hash=digest,
                    audio=wav,
                    size=len(wav),
                    seconds=wav_seconds(wav),
                    characters=characters,
                )
            )
    except IntegrityError:  # kept at the same moment by another tab, or the reply just deleted
        return
    with sessions.begin() as s:
        rows = s.execute(
            select(SpeechClip.id, SpeechClip.size)
            .where(SpeechClip.owner == owner)
            .order_by(SpeechClip.used_at.desc(), SpeechClip.created_at.desc())
        ).all()
        total = 0
        stale = []
        for row in rows:
            total += row.size
            if total > limit:
                stale.append(row.id)
        if stale:
            s.execute(delete(SpeechClip).where(SpeechClip.id.in_(stale)))


@database_errors
def cache_bytes(sessions: sessionmaker[Session], owner: str) -> int:
    """How many bytes of WAV are kept for ``owner``."""
    with sessions() as s:
        return sum(s.execute(select(SpeechClip.size).where(SpeechClip.owner == owner)).scalars())


# --------------------------------------------------------------------------- the service


class Speech:
    """Replies read aloud for one person (``owner``), with the chat's Groq key."""

    def __init__(self, sessions: sessionmaker[Session], owner: str, providers: Providers) -> None:
        self._sessions = sessions
        self._owner = owner
        self._providers = providers

    def read_aloud(self, message_id: str, text: str, voice: str = DEFAULT_VOICE) -> bytes:
        """The reply ``text`` of message ``message_id`` spoken in ``voice``: one WAV.

        Kept per message, voice and text, so a replay costs no request. Refused with a
        ChatError before any request: nothing to say or not English (``speech.*``), an unknown
        voice, no Groq key (``SpeechNeedsKey``), a message that is not this person's."""
        if voice not in VOICES:
            raise InvalidInput("speech.unknown_voice", voice=voice)
        said = script(text)
        digest = text_hash(said.text, voice)
        kept = cached(self._sessions, self._owner, message_id, voice, digest)
        if kept is not None:
            return kept
        if not _owns(self._sessions, self._owner, message_id):
            raise InvalidInput("speech.gone")
        key = self._providers.api_key
        if not key or not key.strip():
            raise SpeechNeedsKey()
        client = audio.groq_client(key, self._providers.base_url)
        wav = join_wavs([synthesize(client, piece, voice) for piece in said.pieces])
        keep(self._sessions, self._owner, message_id, voice, digest, wav, characters=sum(map(len, said.pieces)))
        return wav

    def is_cut(self, text: str) -> bool:
        """Whether only part of ``text`` is read (``MAX_READ_CHARS``); False when it cannot be read."""
        try:
            return script(text).cut
        except ChatError:
            return False
