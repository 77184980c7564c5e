"""The provider interface: list models, stream one chat turn as events.

Every provider (Groq, the embedded local model, a test peer) speaks only these types, so the
service and the pages never know which one they are talking to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ModelInfo:
    id: str
    provider: str
    owned_by: str = ""
    context_window: int | None = None
    max_completion_tokens: int | None = None
    reasoning: bool = False

    @property
    def key(self) -> str:
        """Provider-qualified id, unique across providers."""
        return f"{self.provider}:{self.id}"


@dataclass(frozen=True)
class ImagePart:
    """An image sent with a message (stored bytes, already within the provider's limits)."""

    mime: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str
    # Only for a model that sees images (chatbot/vision.py); others get a note in ``content``.
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True)
class GenerationParams:
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    # Groq's service tier ("flex", "auto", "performance"); None = its default, on_demand.
    service_tier: str | None = None

    def as_dict(self) -> dict[str, float | int | str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    queue_time: float | None = None
    completion_time: float | None = None
    total_time: float | None = None
    # Prompt tokens served from the provider's prompt cache (priced at its discount).
    cached_tokens: int | None = None


@dataclass(frozen=True)
class RateLimits:
    """The x-ratelimit-* headers: requests are per day, tokens per minute (Groq's convention)."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: str | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: str | None = None


@dataclass(frozen=True)
class Finish:
    reason: str | None  # "stop", "length", ... ; None = the stream ended without saying why


@dataclass(frozen=True)
class Source:
    """One search result a built-in tool found (numbered in the order the model saw them)."""

    title: str
    url: str
    snippet: str = ""


@dataclass(frozen=True)
class ToolRun:
    """What one of Groq's built-in tools did (web search, page visit, Python), as far as known:
    the provider sends each run twice, first announced, then again whole with its output, and
    the newer one with the same ``index`` replaces the older (chatbot.tools)."""

    index: int
    kind: str  # "search", "visit", "python", ... as Groq names it
    arguments: str = ""  # the query, the URL or the code, as the tool received it (JSON text)
    output: str | None = None  # None: still running
    sources: tuple[Source, ...] = ()
    images: tuple[str, ...] = ()  # PNGs (base64) the code drew


StreamEvent = TextDelta | ReasoningDelta | Usage | RateLimits | ToolRun | Finish


@dataclass
class ChatRequest:
    model: str
    messages: list[ChatMessage]
    params: GenerationParams = field(default_factory=GenerationParams)
    # Groq's built-in tools to offer the model ("browser_search", "code_interpreter"); chatbot.tools.
    tools: tuple[str, ...] = ()


@runtime_checkable
class Provider(Protocol):
    name: str

    def list_models(self) -> list[ModelInfo]:
        """Chat models this provider offers now."""
        ...

    def stream_chat(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Stream one reply. Closing the iterator must close the upstream connection."""
        ...
