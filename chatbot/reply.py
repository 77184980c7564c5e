"""One model reply as an object: iterate it for events, then ask how it ended and what comes next.

Like simonw/llm's ``Response`` and the groq SDK's ``Stream``: the page iterates a ``Reply`` for
typed events (text, reasoning, usage, rate limits) and draws them; nothing else. The reply is
saved as it streams and, whatever happens, when the iteration ends (``chatbot.turns``): a
closed iteration (Stop) is saved as 'stopped', a provider failure as 'interrupted' (some text)
or 'error' (none). A failure ends the iteration instead of escaping it, so every word received
is drawn first; ``error`` holds it and ``next_step`` says what the core advises (``decide``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chatbot.errors import ChatError, ModelUnavailable, RateLimited, RequestTooLarge
from chatbot.model_limits import Offer
from chatbot.providers.base import (
    ChatRequest,
    Finish,
    ModelInfo,
    RateLimits,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolRun,
    Usage,
)
from chatbot.settings import AppSettings

# A limit that resets within this many seconds is waited out (with a countdown) and retried;
# longer ones (per day) are explained and left to the user's Retry.
AUTO_RETRY_MAX_WAIT = 60.0

ReplyStatus = Literal["streaming", "complete", "stopped", "interrupted", "error"]
ReplyEvent = TextDelta | ReasoningDelta | Usage | RateLimits | ToolRun


@dataclass(frozen=True)
class WaitThenRetry:
    """A short rate limit: wait ``seconds``, then start the reply again (``Turns.retry``)."""

    seconds: float


@dataclass(frozen=True)
class ResendSmaller:
    """Over the tokens-per-minute limit (413): resend at once, the budget fitted to the newest
    limit, which leaves the oldest messages out (``Turns.retry``)."""


@dataclass(frozen=True)
class ContinueOn:
    """The model is retired: the conversation now uses ``model`` (already switched); the user's
    Retry asks it."""

    model: ModelInfo


@dataclass(frozen=True)
class FallBack:
    """The model's daily limit is reached and the user chose to go on by themselves (Settings):
    the same turn is resent at once on ``model``, the closest one with requests left."""

    model: ModelInfo


@dataclass(frozen=True)
class Nothing:
    """Done, stopped, or a failure only the user can act on (its error says how)."""


NextStep = WaitThenRetry | ResendSmaller | ContinueOn | FallBack | Nothing


def decide(error: ChatError | None, retries_left: int, model_key: str, fallbacks: Sequence[ModelInfo]) -> NextStep:
    """What to do after a reply ended with ``error`` (None: it did not fail).

    ``retries_left``: automatic retries this turn may still make; ``fallbacks``: the models a
    retired one's conversation may move to, best first.
    """
    if isinstance(error, RateLimited):
        wait = error.retry_after
        if retries_left > 0 and wait is not None and 0 < wait <= AUTO_RETRY_MAX_WAIT:
            return WaitThenRetry(wait)
    elif isinstance(error, RequestTooLarge):
        if retries_left > 0 and not error.single:  # the newest message alone: leaving out cannot help
            return ResendSmaller()
    elif isinstance(error, ModelUnavailable):
        replacement = next((m for m in fallbacks if m.key != model_key), None)
        if replacement is not None:
            return ContinueOn(replacement)
    return Nothing()


@dataclass(frozen=True)
class TurnSetup:
    """What a turn is sent with, as the page knows it on this run."""

    model: ModelInfo
    settings: AppSettings
    # The newest tokens-per-minute limit (from headers, 413s too), read anew for each attempt.
    tokens_per_minute: Callable[[], int | None] = lambda: None
    # Where a retired model's conversation moves to, best first (the default, then the rest).
    fallbacks: Sequence[ModelInfo] = ()
    fresh: bool = False  # the model is asked even when the answer cache holds an answer


@dataclass(frozen=True)
class NewChatOptions:
    """How a conversation starts when its first message is sent (e.g. from a preset)."""

    system_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PendingTurn:
    """A user message that is saved and waits for its reply."""

    conversation_id: str
    user_message_id: str
    provider: str
    model: str
    request: ChatRequest
    omitted: int = 0  # earlier messages left out to fit the context budget
    continue_message_id: str | None = None  # set when extending a cut reply in place
    cache_hours: float = 0.0  # > 0: an identical temperature-0 request is answered from the cache
    fresh: bool = False  # ask the model even when the cache holds an answer ("ask again")
    # The reply becomes the conversation's shown message; a comparison's replies do not (its
    # question stays shown, chatbot/compare.py).
    shown: bool = True

    @property
    def model_key(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass
class ReplyState:
    """What the stream produced so far; readable after a Stop (no Streamlit needed)."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    usage: Usage | None = None
    rate_limits: RateLimits | None = None
    finish_reason: str | None = None
    error: ChatError | None = None
    message_id: str | None = None
    tools: list[ToolRun] = field(default_factory=list)  # what Groq's built-in tools did (by index)
    status: ReplyStatus = "streaming"
    # ``usage`` is the app's estimate (the provider sent none: a Stop, a cut stream).
    tokens_estimated: bool = False


class Reply:
    """One reply being streamed: iterate it once; ``close()`` (or leaving ``with``) stops it.

    ``on_failure`` turns the failure into the next step (and switches a retired model's
    conversation); it runs in plain Python, so it works after a Stop, too.
    """

    def __init__(
        self,
        pending: PendingTurn,
        events: Iterator[StreamEvent],
        state: ReplyState,
        setup: TurnSetup,
        retries_left: int,
        on_failure: Callable[[Reply, ChatError], NextStep],
    ) -> None:
        self.pending = pending
        self.setup = setup
        self.retries_left = retries_left
        self.error: ChatError | None = None
        self.next_step: NextStep = Nothing()
        # A daily limit reached: the models to continue on, best first (chatbot.model_limits).
        self.offers: list[Offer] = []
        self._events = events
        self._state = state
        self._on_failure = on_failure
        self._iterator: Generator[ReplyEvent, None, None] | None = None

    # --- what the page reads --------------------------------------------------------------
    @property
    def conversation_id(self) -> str:
        return self.pending.conversation_id

    @property
    def user_message_id(self) -> str:
        return self.pending.user_message_id

    @property
    def omitted(self) -> int:
        """Earlier messages left out of the request to fit the budget."""
        return self.pending.omitted

    @property
    def message_id(self) -> str | None:
        """The reply's stored message (known once iteration has started)."""
        return self._state.message_id

    @property
    def status(self) -> ReplyStatus:
        return self._state.status

    @property
    def text(self) -> str:
        return "".join(self._state.text)

    @property
    def tools(self) -> list[ToolRun]:
        """What Groq's built-in tools did so far (searches, pages, code)."""
        return self._state.tools

    @property
    def complete(self) -> bool:
        return self._state.status == "complete"

    # --- iterating ------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ReplyEvent]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    def _run(self) -> Generator[ReplyEvent, None, None]:
        failure: ChatError | None = None
        try:
            for event in self._events:
                if not isinstance(event, Finish):  # kept on the stored reply, nothing to draw
                    yield event
        except ChatError as error:  # the database's too (DatabaseUnavailable): saved, then explained
            failure = error
        finally:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()  # a Stop: the stream's own finally saves the reply as 'stopped' now
        if failure is not None:
            self.error = failure
            self.next_step = self._on_failure(self, failure)

    def close(self) -> None:
        """End the reply now (a Stop): it is saved as it stands."""
        if self._iterator is not None:
            self._iterator.close()
        else:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Reply:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
