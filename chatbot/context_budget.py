"""Fit a conversation into the model's context window and the tokens-per-minute limit.

Groq's free tier allows as little as 6,000–8,000 tokens per minute, so a long history alone
gets "Request too large" (413). Before each request the oldest turns are left out (never the
system prompt or the newest message) and the user is told how many.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.providers.base import ChatMessage

PER_MESSAGE_OVERHEAD = 4  # role markers and separators of the chat template
SAFETY = 0.9  # estimates are rough; leave a margin rather than hit a 413


def estimate_tokens(text: str) -> int:
    """About 4 characters per token for ASCII, about 1 per character for CJK and the like."""
    # Counted in C (str.isascii, bytes): a per-character Python loop took ~0.2 s per 100k
    # characters, and the budget estimates the whole history before every request.
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    return (ascii_chars + 3) // 4 + (len(text) - ascii_chars)


def image_tokens(width: int, height: int) -> int:
    """What an image costs, roughly: vision models take a token per 28 x 28 pixel patch."""
    return max(1, (width * height) // (28 * 28)) + 4


def _raw_estimates(messages: list[ChatMessage]) -> list[int]:
    return [
        estimate_tokens(m.content) + PER_MESSAGE_OVERHEAD + sum(image_tokens(i.width, i.height) for i in m.images)
        for m in messages
    ]


def estimate_messages(messages: list[ChatMessage], ratio: float = 1.0) -> int:
    return int(sum(_raw_estimates(messages)) * ratio)


def calibration(messages: list[ChatMessage], reported_prompt_tokens: int | None) -> float:
    """Reported/estimated for a request the provider already counted (1.0 when unknown)."""
    if not reported_prompt_tokens:
        return 1.0
    estimated = estimate_messages(messages)
    return min(4.0, max(0.25, reported_prompt_tokens / estimated)) if estimated else 1.0


@dataclass(frozen=True)
class Budget:
    context_window: int | None
    tokens_per_minute: int | None
    max_output: int

    def prompt_tokens(self) -> int | None:
        limits = [x for x in (self.context_window, self.tokens_per_minute) if x]
        if not limits:
            return None
        return max(0, int(min(limits) * SAFETY) - self.max_output)


@dataclass(frozen=True)
class Fitted:
    messages: list[ChatMessage]
    omitted: int  # how many earlier messages were left out


def fit(messages: list[ChatMessage], budget: Budget, ratio: float = 1.0) -> Fitted:
    """Drop the oldest non-system messages until the estimate fits (the newest always stays)."""
    limit = budget.prompt_tokens()
    if limit is None or estimate_messages(messages, ratio) <= limit:
        return Fitted(messages, 0)
    system = [m for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    # Each message is estimated once and the total kept as the oldest ones go: linear in the
    # history's length (re-estimating the rest after each drop made 1,000 messages take seconds).
    sizes = _raw_estimates(rest)
    total = sum(_raw_estimates(system)) + sum(sizes)
    start = 0
    while len(rest) - start > 1 and int(total * ratio) > limit:
        total -= sizes[start]
        start += 1
    # Never start the history with a lone assistant reply: its question was left out.
    while len(rest) - start > 1 and rest[start].role == "assistant":
        start += 1
    return Fitted(system + rest[start:], start)
