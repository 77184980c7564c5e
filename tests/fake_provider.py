"""A scripted provider for service-level tests, like simonw/llm's ``MockModel.enqueue``.

It is a real peer behind ``chatbot.providers.base.Provider`` (the same protocol Groq and the
local model implement), handed to the service through the same resolver the app uses. Each
``enqueue`` scripts one reply, in order: ``str`` is answer text, ``Reasoning`` thinking,
``Usage``/``RateLimits``/``Finish`` as the provider would send them, and a ``ChatError`` is
raised at that point of the stream (before any text: a refused request; after: a cut stream).

The loopback Groq stand-in (tests/stand_in_groq.py) stays for what needs the real SDK and
wire format; this is for deciding what the service does with a reply.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from chatbot.errors import ChatError
from chatbot.providers.base import (
    ChatRequest,
    Finish,
    ModelInfo,
    RateLimits,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    Usage,
)


@dataclass(frozen=True)
class Reasoning:
    text: str


Step = str | Reasoning | Usage | RateLimits | Finish | ChatError


class FakeProvider:
    """Replies as scripted; an unscripted request answers "ok"."""

    def __init__(self, name: str = "fake", models: tuple[str, ...] = ("small", "large")) -> None:
        self.name = name
        self.models = [ModelInfo(id=m, provider=name, context_window=8192, max_completion_tokens=1024) for m in models]
        self.requests: list[ChatRequest] = []
        self.closed = 0  # streams closed (ended, stopped or failed): the upstream connection let go
        self._script: deque[list[Step]] = deque()

    def enqueue(self, *steps: Step) -> FakeProvider:
        self._script.append(list(steps))
        return self

    def list_models(self) -> list[ModelInfo]:
        return list(self.models)

    def stream_chat(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self.requests.append(request)
        steps = self._script.popleft() if self._script else ["ok"]
        try:
            for step in steps:
                if isinstance(step, ChatError):
                    raise step
                if isinstance(step, str):
                    yield TextDelta(step)
                elif isinstance(step, Reasoning):
                    yield ReasoningDelta(step.text)
                else:
                    yield step
            if not any(isinstance(s, Finish) for s in steps):
                yield Finish("stop")
        finally:
            self.closed += 1
