"""Providers by name, and the model catalogue across them."""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.errors import ChatError
from chatbot.providers.base import ModelInfo, Provider, RateLimits
from chatbot.providers.local import LocalProvider
from chatbot.providers.local import available as local_available

_local = LocalProvider()


@dataclass(frozen=True)
class Catalogue:
    models: list[ModelInfo]
    error: ChatError | None = None  # why Groq's list is missing, when it is

    def find(self, key: str) -> ModelInfo | None:
        return next((m for m in self.models if m.key == key), None)


class Providers:
    """Resolves provider names for one browser session (its API key)."""

    def __init__(self, api_key: str | None, base_url: str | None = None) -> None:
        self.api_key = api_key
        self._base_url = base_url
        self._groq: Provider | None = None

    @property
    def has_groq(self) -> bool:
        return bool(self.api_key)

    def __call__(self, name: str) -> Provider:
        if name == "local":
            return _local
        if name == "groq":
            if not self.api_key:
                from chatbot.errors import AuthenticationFailed

                raise AuthenticationFailed()
            if self._groq is None:
                from chatbot.providers.groq_api import GroqProvider

                self._groq = GroqProvider(self.api_key, self._base_url)
            return self._groq
        raise ChatError("error.unknown_provider", {"provider": name})

    def rate_limits(self) -> RateLimits | None:
        """The newest x-ratelimit-* headers seen for this session's key, if any."""
        if not self.has_groq:
            return None
        return self("groq").rate_limits()  # type: ignore[attr-defined]

    def catalogue(self) -> Catalogue:
        models: list[ModelInfo] = []
        error: ChatError | None = None
        if self.has_groq:
            try:
                models.extend(self("groq").list_models())
            except ChatError as exc:
                error = exc
        if local_available():
            models.extend(_local.list_models())
        return Catalogue(models, error)

    def default_model(self, catalogue: Catalogue, preferred: str = "") -> ModelInfo | None:
        """The user's default when offered; else Groq's recommended; else the local model."""
        if preferred and (found := catalogue.find(preferred)):
            return found
        for key in ("groq:openai/gpt-oss-120b", "groq:openai/gpt-oss-20b"):
            if found := catalogue.find(key):
                return found
        groq_models = [m for m in catalogue.models if m.provider == "groq"]
        if groq_models:
            return groq_models[0]
        return catalogue.models[0] if catalogue.models else None
