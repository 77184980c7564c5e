"""What a reply costs, worked out here from Groq's published prices per million tokens (the
figures in chatbot/prices.json), so a test's expected cost does not come from the code it checks."""

from __future__ import annotations

from decimal import Decimal

# input, cached input, output: US dollars per million tokens
PER_MILLION = {
    "openai/gpt-oss-120b": (Decimal("0.15"), Decimal("0.075"), Decimal("0.60")),
    "openai/gpt-oss-20b": (Decimal("0.075"), Decimal("0.0375"), Decimal("0.30")),
}


def by_hand(model: str | None, prompt: int | None, completion: int | None, cached: int | None = 0) -> Decimal:
    """The cost of one reply: uncached prompt tokens at the input price, cached ones at the
    cached-input price, completion tokens at the output price."""
    assert model in PER_MILLION and prompt and completion, (model, prompt, completion)
    input_price, cached_price, output_price = PER_MILLION[model]
    cached = cached or 0
    return ((prompt - cached) * input_price + cached * cached_price + completion * output_price) / 1_000_000
