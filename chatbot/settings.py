"""User settings that persist across restarts (in the database), with their validation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from chatbot.errors import InvalidInput
from chatbot.providers.base import GenerationParams

SPEECH_VOICES = ("autumn", "diana", "hannah", "austin", "daniel", "troy")  # Orpheus English (chatbot.speech)
VOICE_MODELS = ("whisper-large-v3-turbo", "whisper-large-v3")  # Groq's Whisper models (chatbot.audio.MODELS)
SERVICE_TIERS = ("on_demand", "flex", "auto", "performance")  # Groq's (flex: paid plans; performance: enterprise)
MAX_CACHE_HOURS = 24 * 90
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
    # Spending and limits (chatbot/budgets.py, model_limits.py, answer_cache.py):
    service_tier: str = "on_demand"  # Groq's tier for chat requests (SERVICE_TIERS)
    auto_fallback: bool = False  # a model's daily limit reached: continue on the closest one by itself
    answer_cache: bool = False  # identical temperature-0 requests answered from a local cache
    answer_cache_hours: int = 24  # how long a kept answer is used (1 hour to 90 days)

    def spending_choices(self) -> dict[str, Any]:
        """The choices the Spending section of Settings saves, kept when another form saves."""
        return {
            "service_tier": self.service_tier,
            "auto_fallback": self.auto_fallback,
            "answer_cache": self.answer_cache,
            "answer_cache_hours": self.answer_cache_hours,
        }

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
    if settings.service_tier not in SERVICE_TIERS:
        raise InvalidInput("settings.invalid_service_tier", value=settings.service_tier)
    if not isinstance(settings.answer_cache_hours, int) or not 1 <= settings.answer_cache_hours <= MAX_CACHE_HOURS:
        raise InvalidInput("settings.invalid_cache_hours", value=settings.answer_cache_hours, limit=MAX_CACHE_HOURS)
    return replace(
        settings,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        auto_titles=bool(settings.auto_titles),
        voice_review=bool(settings.voice_review),
        voice_translate=bool(settings.voice_translate),
        auto_fallback=bool(settings.auto_fallback),
        answer_cache=bool(settings.answer_cache),
    )
