"""Providers by name, and the model catalogue across them."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.errors import ChatError
from chatbot.providers.base import ModelInfo, Provider, RateLimits
from chatbot.providers.local import LocalProvider
from chatbot.providers.local import available as local_available

if TYPE_CHECKING:  # chatbot.quota imports chatbot.providers.base, hence this package
    import groq

    from chatbot.endpoints import Reachable
    from chatbot.quota import Budget

_local = LocalProvider()

# One Groq client per key, base URL and timeout for the whole process, not one per page run:
# building an SDK client builds an SSL context (~40 ms, a third of a chat page run), and a
# kept client keeps its HTTP connections, so a reply does not start with a new TLS handshake.
# httpx clients are thread-safe; nothing per user is kept in them (the key is the user's own).
_GROQ_CLIENTS_MAX = 16
_groq_clients: OrderedDict[tuple[str, str, float], Provider] = OrderedDict()
_groq_lock = threading.Lock()


def _groq_provider(api_key: str, base_url: str | None) -> Provider:
    from chatbot import config
    from chatbot.providers.groq_api import GroqProvider

    timeout = config.groq_timeout()
    key = (hashlib.sha256(api_key.encode()).hexdigest(), base_url or "", timeout)
    with _groq_lock:
        found = _groq_clients.get(key)
        if found is not None:
            _groq_clients.move_to_end(key)
            return found
    provider: Provider = GroqProvider(api_key, base_url, timeout)
    with _groq_lock:
        provider = _groq_clients.setdefault(key, provider)
        while len(_groq_clients) > _GROQ_CLIENTS_MAX:
            _groq_clients.popitem(last=False)  # still usable by whoever holds it; closed when unused
    return provider


def groq_client(api_key: str, base_url: str | None) -> groq.Groq:
    """The kept SDK client for this key, the chat's own (for Groq's audio endpoints)."""
    from chatbot.providers.groq_api import GroqProvider

    provider = _groq_provider(api_key, base_url)
    assert isinstance(provider, GroqProvider)  # what _groq_provider builds
    return provider.client


_endpoint_clients: OrderedDict[tuple[str, str, str, float], Provider] = OrderedDict()


def _endpoint_provider(reachable: Reachable) -> Provider:
    """One kept client per endpoint, URL and key, as for Groq (connections stay open)."""
    from chatbot import config
    from chatbot.providers.openai_compat import OpenAICompatProvider

    endpoint = reachable.endpoint
    timeout = config.groq_timeout()
    digest = hashlib.sha256((reachable.api_key or "").encode()).hexdigest()
    key = (endpoint.name, endpoint.base_url, digest, timeout)
    with _groq_lock:
        found = _endpoint_clients.get(key)
        if found is not None and getattr(found, "endpoint", None) == endpoint:
            _endpoint_clients.move_to_end(key)
            return found
        provider: Provider = OpenAICompatProvider(endpoint, reachable.api_key, timeout)
        _endpoint_clients[key] = provider
        while len(_endpoint_clients) > _GROQ_CLIENTS_MAX:
            _endpoint_clients.popitem(last=False)
    return provider


@dataclass(frozen=True)
class Catalogue:
    models: list[ModelInfo]
    error: ChatError | None = None  # why Groq's list is missing, when it is
    # Why an endpoint's list is missing, by provider name ("endpoint.<name>").
    endpoint_errors: dict[str, ChatError] = field(default_factory=dict)

    def find(self, key: str) -> ModelInfo | None:
        return next((m for m in self.models if m.key == key), None)

    def unknown(self, key: str) -> bool:
        """Whether this model's provider could not list its models (so it may still exist)."""
        provider = key.partition(":")[0]
        return (provider == "groq" and self.error is not None) or provider in self.endpoint_errors


class Providers:
    """Resolves provider names for one browser session (its API key, and with ``budget`` the
    person's budget on a shared key: every Groq request passes it first)."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        budget: Budget | None = None,
        endpoints: Sequence[Reachable] = (),
        local_model: Path | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.budget = budget
        self.endpoints = list(endpoints)
        # The built-in provider's GGUF file (chatbot.local_model); None: the SmolLM2 demo.
        self.local = _local if local_model is None else LocalProvider(local_model)
        self._groq: Provider | None = None

    @property
    def has_groq(self) -> bool:
        return bool(self.api_key)

    def __call__(self, name: str) -> Provider:
        if name == "local":
            return self.local
        if name == "groq":
            if not self.api_key:
                from chatbot.errors import AuthenticationFailed

                raise AuthenticationFailed()
            if self._groq is None:
                self._groq = _groq_provider(self.api_key, self.base_url)
                if self.budget is not None:
                    from chatbot.quota import Metered

                    self._groq = Metered(self._groq, self.budget)
            return self._groq
        for reachable in self.endpoints:
            if reachable.endpoint.provider == name:
                return _endpoint_provider(reachable)
        raise ChatError("error.unknown_provider", {"provider": name})

    def rate_limits(self) -> RateLimits | None:
        """The newest x-ratelimit-* headers seen for this session's key, if any."""
        if not self.has_groq:
            return None
        # GroqProvider and its Metered wrapper have it; the Provider protocol does not need it.
        read: Callable[[], RateLimits | None] | None = getattr(self("groq"), "rate_limits", None)
        return read() if read else None

    def catalogue(self) -> Catalogue:
        models: list[ModelInfo] = []
        error: ChatError | None = None
        if self.has_groq:
            try:
                models.extend(self("groq").list_models())
            except ChatError as exc:
                error = exc
        endpoint_errors: dict[str, ChatError] = {}
        for reachable in self.endpoints:
            provider = reachable.endpoint.provider
            try:
                models.extend(self(provider).list_models())
            except ChatError as exc:
                endpoint_errors[provider] = exc
                # Typed ids stay pickable while the server is away; a reply then says why it failed.
                models.extend(ModelInfo(id=m, provider=provider) for m in reachable.endpoint.models)
        if local_available() if self.local.custom is None else local_available(self.local.custom):
            models.extend(self.local.list_models())
        return Catalogue(models, error, endpoint_errors)

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
