"""One translation function, ``t(key, **values)``, over complete en and zh-CN catalogues."""

from __future__ import annotations

import json
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT_LANGUAGE = "en"

# Each Streamlit script run sets this for its own thread, so sessions never see each other's.
_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


@cache
def catalogue(language: str) -> dict[str, str]:
    return json.loads((LOCALES_DIR / f"{language}.json").read_text(encoding="utf-8"))


def pick_language(preferred: str | None, browser_locale: str | None) -> str:
    """The user's choice, else the browser's locale (any zh → zh-CN), else English."""
    if preferred in LANGUAGES:
        return preferred  # type: ignore[return-value]
    if browser_locale and browser_locale.lower().startswith("zh"):
        return "zh-CN"
    return DEFAULT_LANGUAGE


def set_language(language: str) -> None:
    _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    return _language.get()


def t(key: str, **values: Any) -> str:
    text = catalogue(_language.get()).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**values) if values else text
