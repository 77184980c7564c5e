"""One translation function, ``t(key, **values)``, over complete en and zh-CN catalogues."""

from __future__ import annotations

import json
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from chatbot.safe_markdown import escape_markdown

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT_LANGUAGE = "en"

# Each Streamlit script run sets this for its own thread, so sessions never see each other's.
_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


@cache
def catalogue(language: str) -> dict[str, str]:
    entries: dict[str, str] = json.loads((LOCALES_DIR / f"{language}.json").read_text(encoding="utf-8"))
    return entries


def pick_language(preferred: str | None, browser_locale: str | None) -> str:
    """The user's choice, else the browser's locale (any zh → zh-CN), else English."""
    if preferred in LANGUAGES:
        return preferred
    if browser_locale and browser_locale.lower().startswith("zh"):
        return "zh-CN"
    return DEFAULT_LANGUAGE


def set_language(language: str) -> None:
    _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    return _language.get()


# CLDR plural categories each language uses for whole numbers: English tells one from the rest;
# Chinese has a single form.
PLURAL_FORMS = {"en": ("one", "other"), "zh-CN": ("other",)}


def plural_form(language: str, count: int) -> str:
    """The CLDR plural category of ``count`` in ``language``: the suffix of the key's form."""
    return "one" if count == 1 and "one" in PLURAL_FORMS.get(language, ()) else "other"


def _lookup(language: str, key: str, count: Any) -> str | None:
    entries = catalogue(language)
    if isinstance(count, int) and not isinstance(count, bool):
        # A count sentence is stored as "key.one" / "key.other" (as many forms as the language has).
        text = entries.get(f"{key}.{plural_form(language, count)}") or entries.get(f"{key}.other")
        if text:
            return text
    return entries.get(key)


def t(key: str, **values: Any) -> str:
    """The sentence ``key`` in the current language, formatted with ``values``; with an integer
    ``count`` the plural form that fits it ("1 conversation", "2 conversations")."""
    return _translate(key, values, values.get("count"))


def _translate(key: str, values: dict[str, Any], count: Any) -> str:
    text = _lookup(_language.get(), key, count) or _lookup(DEFAULT_LANGUAGE, key, count) or key
    return text.format(**values) if values else text


class _Shown:
    """A value that formats as itself, escaped: shown as written wherever the sentence is Markdown."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        return escape_markdown(format(self.value, spec))


def t_md(key: str, **values: Any) -> str:
    """``t`` for a sentence drawn as Markdown (st.markdown, st.caption, st.info, st.error,
    st.toast, labels): the sentence keeps its own Markdown, each value is shown as written, so
    a title, model name, query or error detail cannot draw an image, a link or formatting."""
    return _translate(key, {name: _Shown(value) for name, value in values.items()}, values.get("count"))
