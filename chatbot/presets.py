"""Presets: a system prompt, a model and parameters, applied to a conversation in one click.

Built-ins live in code (so they are translated and improve with the app); the user's own are
stored per owner in the settings table under ``presets``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from chatbot.errors import InvalidInput

CODE_LANGUAGES = ("Python", "JavaScript", "TypeScript", "SQL", "Rust", "Go")
BUILTIN_PREFIX = "builtin:"  # the ids of built-ins; never stored as the user's own
# Where a conversation's params remember the preset applied to it (generation ignores the key).
PRESET_PARAM = "preset"


@dataclass(frozen=True)
class Preset:
    id: str
    name: str
    system_prompt: str
    model: str = ""  # provider-qualified key; "" = keep the conversation's model
    params: dict[str, Any] = field(default_factory=dict)
    builtin: bool = False  # built-ins carry a translation key as name (see label_parts)

    def label_parts(self) -> tuple[str, dict[str, str]]:
        """(translation key, values) for a built-in; the name itself for the user's own."""
        if not self.builtin:
            return "", {"name": self.name}
        key, _, language = self.name.partition(":")
        return key, ({"language": language} if language else {})

    def to_stored(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "builtin"}

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> Preset:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            system_prompt=str(data.get("system_prompt", "")),
            model=str(data.get("model", "")),
            params=dict(data.get("params") or {}),
        )


def builtin_presets() -> list[Preset]:
    presets = [
        Preset(
            f"{BUILTIN_PREFIX}concise",
            "preset.concise",
            "You are a concise assistant. Answer in as few words as a complete answer needs; "
            "use lists only when they help.",
            params={"temperature": 0.5},
            builtin=True,
        ),
        Preset(
            f"{BUILTIN_PREFIX}translator",
            "preset.translator",
            "You are a translator. If the user writes Chinese, translate it into natural English; "
            "if they write English (or anything else), translate it into Simplified Chinese. "
            "Reply with the translation only.",
            params={"temperature": 0.3},
            builtin=True,
        ),
    ]
    presets += [
        Preset(
            f"{BUILTIN_PREFIX}code-{lang.lower()}",
            f"preset.code:{lang}",
            f"You are an expert {lang} programmer. Write correct, idiomatic, well-structured {lang}. "
            "Show code in fenced code blocks, explain briefly, and point out edge cases.",
            params={"temperature": 0.2},
            builtin=True,
        )
        for lang in CODE_LANGUAGES
    ]
    return presets


def applied_preset(params: dict[str, Any]) -> str | None:
    """The id of the preset last applied to a conversation (kept in its params), if any."""
    value = params.get(PRESET_PARAM)
    return value if isinstance(value, str) and value else None


def with_preset(params: dict[str, Any], preset_id: str | None) -> dict[str, Any]:
    """``params`` remembering ``preset_id`` as the applied preset (None: no preset)."""
    kept = {k: v for k, v in params.items() if k != PRESET_PARAM}
    return {**kept, PRESET_PARAM: preset_id} if preset_id else kept


def new_preset(name: str, system_prompt: str, model: str = "", params: dict[str, Any] | None = None) -> Preset:
    return validate(Preset(uuid.uuid4().hex, name, system_prompt, model, dict(params or {})))


def validate(preset: Preset) -> Preset:
    name = preset.name.strip()
    if not name:
        raise InvalidInput("presets.name_required")
    if len(name) > 80 or len(preset.system_prompt) > 20_000:
        raise InvalidInput("presets.too_long")
    temperature = preset.params.get("temperature")
    if temperature is not None and not 0.0 <= float(temperature) <= 2.0:
        raise InvalidInput("settings.invalid_temperature", value=temperature)
    max_tokens = preset.params.get("max_tokens")
    # No model limit here: a preset may name none, and the chat caps it at the model's own.
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidInput("settings.invalid_max_tokens", value=max_tokens, limit="∞")
    return replace(preset, name=name)


def same_name(a: str, b: str) -> bool:
    """Names a user would take for the same preset in a list: case and outer spaces aside."""
    return a.strip().casefold() == b.strip().casefold()
