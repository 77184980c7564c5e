"""Deterministic conversation data shared by the benchmarks (ours and the baseline's)."""

from __future__ import annotations

import random

_WORDS = [
    "groq",
    "stream",
    "token",
    "latency",
    "model",
    "reply",
    "markdown",
    "history",
    "window",
    "fragment",
    "sqlite",
    "index",
    "query",
    "browser",
    "render",
    "python",
    "async",
    "cache",
    "budget",
    "context",
    "answer",
    "question",
    "example",
    "value",
    "result",
]


def paragraph(rng: random.Random, chars: int = 800) -> str:
    words: list[str] = []
    length = 0
    while length < chars:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    text = " ".join(words)
    # Some Markdown, as real replies have: bold, a list, inline code.
    return f"**{words[0]}** {text[: chars // 2]}\n\n- `{words[1]}` {text[chars // 2 :]}"


def history_messages(count: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": paragraph(rng, 200 if i % 2 == 0 else 800)}
        for i in range(count)
    ]
