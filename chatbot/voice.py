"""Voice input for one person: a recording or audio file checked, transcribed on Groq and
counted, as the user's settings say. The page only hands over the bytes and draws the result."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from chatbot import audio
from chatbot.providers import Providers
from chatbot.settings import AppSettings


@dataclass(frozen=True)
class Heard:
    """What to do with a transcript: the text to send or to put back in the input for review."""

    text: str
    review: bool
    seconds: float


def joined(typed: str, transcript: str) -> str:
    """What the person typed, then what they said (either may be empty)."""
    return "\n\n".join(part for part in (typed.strip(), transcript.strip()) if part)


class Voice:
    def __init__(self, sessions: sessionmaker[Session], owner: str, providers: Providers) -> None:
        self._sessions = sessions
        self._owner = owner
        self._providers = providers

    def hear(self, name: str, data: bytes, typed: str, settings: AppSettings, ui_language: str | None) -> Heard:
        """Transcribe ``data`` (refused with a ChatError before any upload when it cannot be
        audio Groq takes), record the audio seconds, and join it to what was typed.

        Translation into English needs whisper-large-v3 (audio.transcribe switches to it); the
        language hint is the app's language only when transcribing, since a hint in another
        language than the speech makes Whisper translate badly."""
        clip = audio.check_audio(name, data)
        client = audio.groq_client(self._providers.api_key, self._providers.base_url)
        translate = settings.voice_translate
        transcript = audio.transcribe(
            client,
            clip,
            model=settings.voice_model,
            language=None if translate else audio.language_hint(ui_language),
            translate=translate,
        )
        audio.record_audio_seconds(self._sessions, self._owner, transcript)
        return Heard(joined(typed, transcript.text), settings.voice_review, transcript.seconds)

    def seconds_by_day(self, days: int) -> list[audio.AudioDay]:
        """Audio seconds transcribed per day (UTC), for the Usage page."""
        return audio.audio_seconds_by_day(self._sessions, self._owner, days)
