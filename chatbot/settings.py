"""User settings that persist across restarts (in the database), with their validation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from chatbot.errors import InvalidInput
from chatbot.providers.base import GenerationParams

SPEECH_VOICES = ("autumn", "diana", "hannah", "austin", "daniel", "troy")  # Orpheus English (chatbot.speech)
VOICE_MODELS = ("whisper-large-v3-turbo", "whisper-large-v3")  # Groq's Whisper models (chatbot.audio.MODELS)
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and concisely."


@dataclass(frozen=True)
class AppSettings:
    default_model: str = ""  # provider-qualified ("groq:openai/gpt-oss-20b"); "" = best available
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1024
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    language: str = ""  # "" = from the browser
    auto_titles: bool = True  # a new Groq chat is named by a short extra request (config.auto_titles too)
    voice_review: bool = True  # a transcript goes into the input to be read first; False: sent at once
    voice_model: str = "whisper-large-v3-turbo"  # or "whisper-large-v3", which can also translate
    voice_translate: bool = False  # into English (whisper-large-v3 only)
    speech_voice: str = "autumn"  # the voice replies are read aloud in (chatbot.speech.VOICES)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> AppSettings:
        known = {f.name for f in fields(cls)}
        base = cls()
        values = {k: v for k, v in stored.items() if k in known}
        try:
            return validate(replace(base, **values))
        except (InvalidInput, TypeError, ValueError):
            return base  # a hand-edited or older row never breaks the app

    def params(self, model_max_tokens: int | None = None) -> GenerationParams:
        max_tokens = self.max_tokens
        if model_max_tokens:
            max_tokens = min(max_tokens, model_max_tokens)
        return GenerationParams(temperature=self.temperature, top_p=self.top_p, max_tokens=max_tokens)

    def to_stored(self) -> dict[str, Any]:
        return asdict(self)


def validate(settings: AppSettings, model_max_tokens: int | None = None) -> AppSettings:
    """Reject out-of-range values with a translatable message instead of sending them on."""
    try:
        temperature = float(settings.temperature)
        top_p = float(settings.top_p)
        max_tokens = int(settings.max_tokens)
    except (TypeError, ValueError):
        raise InvalidInput("settings.invalid_number") from None
    if not 0.0 <= temperature <= 2.0:
        raise InvalidInput("settings.invalid_temperature", value=temperature)
    if not 0.0 < top_p <= 1.0:
        raise InvalidInput("settings.invalid_top_p", value=top_p)
    if max_tokens < 1 or (model_max_tokens is not None and max_tokens > model_max_tokens):
        raise InvalidInput("settings.invalid_max_tokens", value=max_tokens, limit=model_max_tokens or "∞")
    if len(settings.system_prompt) > 20_000:
        raise InvalidInput("settings.system_prompt_too_long")
    if settings.speech_voice not in SPEECH_VOICES:
        raise InvalidInput("settings.invalid_speech_voice", value=settings.speech_voice)
    if settings.voice_model not in VOICE_MODELS:
        raise InvalidInput("settings.invalid_voice_model", value=settings.voice_model)
    return replace(
        settings,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        auto_titles=bool(settings.auto_titles),
        voice_review=bool(settings.voice_review),
        voice_translate=bool(settings.voice_translate),
    )
