"""Which models see images: Groq's models endpoint does not say, so it is kept here.

Extend it without a code change through the environment: ``GROQ_VISION_MODELS`` is a
comma-separated list of model ids added to the table (e.g. ``GROQ_VISION_MODELS=vendor/new-vl``).
When a model gains vision for good, add it to ``VISION_MODELS`` below, newest first: the first
one the catalogue offers is the one the chat page proposes for a message with images.

A conversation holding images that continues on a text-only model sends their place as a note
(``OMITTED_NOTE``) instead: Groq answers 400 "message[1].content must be a string" to image parts
sent to a model without vision.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from chatbot.providers.base import ModelInfo

# From the reference's models page (groq-api.md §9), newest first; gone ones kept so old
# conversations on them are still known to have seen their images.
VISION_MODELS: tuple[str, ...] = (
    "qwen/qwen3.8-27b",
    "qwen/qwen3.6-27b",
    "meta-llama/llama-4-scout-17b-16e-instruct",
    "meta-llama/llama-4-maverick-17b-128e-instruct",
    "llama-3.2-90b-vision-preview",
    "llama-3.2-11b-vision-preview",
)
ENV_VAR = "GROQ_VISION_MODELS"
OMITTED_NOTE = "[image omitted: this model does not take images]"
# Beyond Groq's per-request limit the oldest images are left out, each said with this note.
EARLIER_NOTE = "[image omitted: only the newest images are sent]"


def vision_models() -> tuple[str, ...]:
    """The table, with the models the environment adds first."""
    extra = [m.strip() for m in os.environ.get(ENV_VAR, "").split(",") if m.strip()]
    return tuple(dict.fromkeys([*extra, *VISION_MODELS]))


def sees_images(model: ModelInfo | str) -> bool:
    """Whether the model takes image parts (only Groq's models do; the built-in one reads text)."""
    if isinstance(model, ModelInfo):
        if model.provider != "groq":
            return False
        model = model.id
    return model in vision_models()


def vision_model(models: Iterable[ModelInfo]) -> ModelInfo | None:
    """The model to offer for a message with images: the table's first the catalogue has."""
    offered = {m.id: m for m in models if m.provider == "groq"}
    return next((offered[m] for m in vision_models() if m in offered), None)
