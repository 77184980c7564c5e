"""The en and zh-CN catalogues: complete, consistent, covering every key the code uses."""

from __future__ import annotations

import json
import re
import string
import typing
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from chatbot import errors
from chatbot.i18n import LANGUAGES, LOCALES_DIR, PLURAL_FORMS, catalogue, pick_language
from chatbot.providers import groq_api
from chatbot.providers.groq_api import GroqProvider
from chatbot.providers.local import LocalProvider
from tests.conftest import ROOT
from tests.stand_in_groq import StandInGroq

SOURCES = sorted([*(ROOT / "chatbot").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"])
FILE_SUFFIXES = {"py", "db", "json", "md", "toml", "txt", "gguf", "env", "csv", "html"}


def raw_catalogue(language: str) -> dict[str, str]:
    # Read the file itself (not the cached loader), and refuse duplicate keys: JSON keeps the last.
    def no_duplicates(pairs: list[tuple[str, str]]) -> dict[str, str]:
        keys = [k for k, _ in pairs]
        duplicates = {k for k in keys if keys.count(k) > 1}
        assert not duplicates, f"{language}.json repeats {sorted(duplicates)}"
        return dict(pairs)

    return json.loads((LOCALES_DIR / f"{language}.json").read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def source_text() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in SOURCES}


# --------------------------------------------------------------------------- catalogues


def test_every_language_has_a_catalogue() -> None:
    assert {p.stem for p in LOCALES_DIR.glob("*.json")} == set(LANGUAGES)


PLURAL_SUFFIX = re.compile(r"\.(zero|one|two|few|many|other)$")


def sentences(language: str) -> set[str]:
    """The catalogue's keys, a count sentence ("key.one", "key.other") as its one key."""
    return {PLURAL_SUFFIX.sub("", k) for k in raw_catalogue(language)}


def test_catalogues_have_the_same_keys() -> None:
    assert sorted(sentences("en") - sentences("zh-CN")) == []
    assert sorted(sentences("zh-CN") - sentences("en")) == []


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_count_sentences_have_every_plural_form_of_their_language(language: str) -> None:
    entries = raw_catalogue(language)
    counted = {PLURAL_SUFFIX.sub("", k) for k in entries if PLURAL_SUFFIX.search(k)}
    assert counted, "the scan found no count sentences"
    missing = sorted(f"{k}.{form}" for k in counted for form in PLURAL_FORMS[language] if f"{k}.{form}" not in entries)
    assert missing == []
    # A form the language does not have is never picked: it would be dead text.
    extra = sorted(k for k in entries if (m := PLURAL_SUFFIX.search(k)) and m.group(1) not in PLURAL_FORMS[language])
    assert extra == []
    # Not both a plain sentence and count forms under one key.
    assert sorted(counted & set(entries)) == []


def test_catalogues_have_the_same_placeholders_per_key() -> None:
    en, zh = raw_catalogue("en"), raw_catalogue("zh-CN")
    mismatched = {
        k: (placeholders(en[k]), placeholders(zh[k]))
        for k in en
        if k in zh and placeholders(en[k]) != placeholders(zh[k])
    }
    assert mismatched == {}


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_no_empty_or_untranslated_values(language: str) -> None:
    entries = raw_catalogue(language)
    assert [k for k, v in entries.items() if not isinstance(v, str) or not v.strip()] == []
    # Every text formats with its own placeholders (no stray braces).
    for _key, text in entries.items():
        # (A number: "{count:,}" formats numbers, and any value formats without a spec.)
        text.format(**{name: 1234 for name in placeholders(text)})
    if language != "en":
        # A Chinese catalogue entry with no Chinese in it was most likely copied, not translated.
        en = raw_catalogue("en")
        # (Names such as "Groq", "Markdown" or "Groq API" may be the same in both; sentences not.)
        latin_only = [
            k
            for k, v in entries.items()
            if not re.search(r"[\u4e00-\u9fff]", v)
            and v == en.get(k)
            and len(re.findall(r"[A-Za-z]{3,}", re.sub(r"\{\w+\}", "", v))) >= 3
        ]
        assert latin_only == []


# --------------------------------------------------------------------------- keys used in code


def literal_keys() -> dict[str, set[str]]:
    """Every string literal in the code shaped like a catalogue key ("namespace.name")."""
    namespaces = sorted({k.split(".", 1)[0] for k in raw_catalogue("en")})
    pattern = re.compile(r"""(?<![\w/.\-])["']((?:{})\.[a-z0-9_]+(?:\.[a-z0-9_]+)*)["']""".format("|".join(namespaces)))
    found: dict[str, set[str]] = {}
    for path, text in source_text().items():
        for match in pattern.finditer(text):
            key = match.group(1)
            if key.rsplit(".", 1)[1] in FILE_SUFFIXES:
                continue  # "chat.db", "settings.py": file names, not keys
            found.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return found


def call_keys() -> set[str]:
    """Keys passed literally to t(...), ChatError(...), InvalidInput(...), whatever their namespace."""
    pattern = re.compile(r"""\b(?:t|ChatError|InvalidInput)\(\s*["']([\w.\-]+)["']""")
    return {m.group(1) for text in source_text().values() for m in pattern.finditer(text)}


def statuses() -> set[str]:
    """Message statuses the service writes or the page tests for."""
    found: set[str] = set()
    for path in (ROOT / "chatbot" / "turns.py", ROOT / "chatbot" / "store" / "models.py", ROOT / "pages" / "chat.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"""status\s*=\s*["'](\w+)["']""", text))
        for group in re.findall(r"""status\s+in\s+\(([^)]*)\)""", text):
            found |= set(re.findall(r"""["'](\w+)["']""", group))
        for comment in re.findall(r"#\s*((?:\w+\s*\|\s*)+\w+)", text):
            found |= {s.strip() for s in comment.split("|")}
    return found


def f_string_families() -> dict[str, set[str]]:
    """Prefixes of keys built at run time: f"status.{...}", f"error.db_{...}", ..."""
    pattern = re.compile(r"""\bf["']([a-z_]+\.[a-z_]*)\{""")
    # Only the catalogue's namespaces: f"messages.{column}" in SQL is not a translation key.
    namespaces = {key.split(".", 1)[0] for key in raw_catalogue("en")}
    families: dict[str, set[str]] = {}
    for path, text in source_text().items():
        for match in pattern.finditer(text):
            if match.group(1).split(".", 1)[0] in namespaces:
                families.setdefault(match.group(1), set()).add(str(path.relative_to(ROOT)))
    return families


def literal_args(function: object, parameter: str) -> set[str]:
    return set(typing.get_args(typing.get_type_hints(function)[parameter]))


def rate_limit_windows() -> set[str]:
    """The windows the Groq provider can read out of a 429 message (its own regex)."""
    alternatives = re.search(r"\(([A-Z|]+)\)", groq_api._WINDOW.pattern)
    assert alternatives is not None
    return set(alternatives.group(1).split("|"))


def family_keys() -> dict[str, set[str]]:
    """The keys each f-string family in the code can produce, from the code's own types."""
    known = {
        "status.": {f"status.{s}" for s in statuses() - {"complete"}},
        "provider.": {f"provider.{cls.name}" for cls in (GroqProvider, LocalProvider)},
        "error.": {f"error.{k}" for k in literal_args(errors.ProviderUnavailable.__init__, "kind")},
    }
    efforts = re.search(
        r"REASONING_EFFORTS\s*=\s*\(([^)]*)\)",
        (ROOT / "pages" / "_conversation_options.py").read_text(encoding="utf-8"),
    )
    if efforts:  # t(f"chat.effort_{e}") for the reasoning-effort choices
        known["chat.effort_"] = {f"chat.effort_{e}" for e in re.findall(r"[\"'](\w+)[\"']", efforts.group(1))}
    if hasattr(errors, "DatabaseUnavailable"):
        known["error.db_"] = {f"error.db_{k}" for k in literal_args(errors.DatabaseUnavailable.__init__, "kind")}
    if hasattr(errors, "LimitName"):
        known["limit."] = {f"limit.{w}" for w in rate_limit_windows()}
    known.update(spending_families())
    known.update(batch_families())
    return known


def batch_families() -> dict[str, set[str]]:
    """pages/batch.py: each row's status, the run's state and its Groq batch's status, from
    chatbot.batch's and chatbot.groq_batch's types."""
    from chatbot.batch import RowStatus, RunState
    from chatbot.groq_batch import GroqStatus

    return {
        "batch.status.": {f"batch.status.{s}" for s in typing.get_args(RowStatus)},
        "batch.state.": {f"batch.state.{s}" for s in typing.get_args(RunState)},
        "batch.groq.status.": {f"batch.groq.status.{s}" for s in typing.get_args(GroqStatus)},
    }


def spending_families() -> dict[str, set[str]]:
    """pages/_cost.py and chatbot/budgets.py: budget periods, price fields, service tiers."""
    from chatbot.budgets import Period
    from chatbot.pricing import PRICE_FIELDS
    from chatbot.settings import SERVICE_TIERS

    periods = typing.get_args(Period)
    return {
        "budget.": {f"budget.{p}_{state}" for p in periods for state in ("warn", "reached")},
        "error.budget_": {f"error.budget_{p}" for p in periods},
        "price.": {f"price.{name}" for name in PRICE_FIELDS},
        "spending.tier.": {f"spending.tier.{tier}" for tier in SERVICE_TIERS},
    }


def test_the_scan_finds_what_it_should() -> None:
    # Guard the regexes themselves: a scan that finds nothing would pass any catalogue.
    found = literal_keys()
    assert {"error.auth", "input.empty", "nav.chat", "settings.invalid_max_tokens"} <= set(found)
    assert "chat.db" not in found
    assert {"error.unknown", "input.empty"} <= call_keys()
    assert {"streaming", "stopped", "interrupted", "error", "complete"} <= statuses()
    assert {"status.", "provider.", "error."} <= set(f_string_families())


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_literal_key_in_the_code_exists(language: str) -> None:
    entries = raw_catalogue(language)
    # A count sentence is found by its key alone: t(key, count=n) picks "key.one" or "key.other".
    present = set(entries) | sentences(language)
    missing = {k: sorted(where) for k, where in literal_keys().items() if k not in present}
    missing.update({k: ["t/ChatError/InvalidInput call"] for k in call_keys() if k not in present})
    assert missing == {}


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_key_an_f_string_family_can_produce_exists(language: str) -> None:
    families = f_string_families()
    known = family_keys()
    unhandled = sorted(set(families) - set(known))
    assert unhandled == [], (
        f"new f-string key families {unhandled} in {[families[f] for f in unhandled]}: cover them here"
    )
    entries = raw_catalogue(language)
    missing = sorted(k for keys in known.values() for k in keys if k not in entries)
    assert missing == []


def test_error_classes_use_existing_keys() -> None:
    en = catalogue("en")
    samples = [
        errors.AuthenticationFailed(),
        errors.RateLimited("TPM", 12.5),
        errors.RateLimited("RPD", None),
        errors.RequestTooLarge(8000, 11881),
        errors.RequestTooLarge(),
        errors.ContextTooLong(),
        errors.ModelUnavailable("m", decommissioned=True),
        errors.ModelUnavailable("m", decommissioned=False),
        errors.StreamInterrupted(),
        errors.LocalModelMissing("llama-cpp-python"),
        errors.ChatError(),
    ]
    for error in samples:
        assert error.key in en
        assert placeholders(en[error.key]) <= set(error.values), error.key
        for language in LANGUAGES:
            assert placeholders(catalogue(language)[error.key]) <= set(error.values), (language, error.key)


# --------------------------------------------------------------------------- choosing the language


def test_pick_language() -> None:
    assert pick_language("zh-CN", "en-US") == "zh-CN"
    assert pick_language("en", "zh-TW") == "en"
    assert pick_language("", "zh-TW") == "zh-CN"
    assert pick_language(None, "fr-FR") == "en"
    assert pick_language("klingon", None) == "en"


def test_switching_language_in_settings_changes_the_ui(app: AppTest, groq_server: StandInGroq) -> None:
    en, zh = catalogue("en"), catalogue("zh-CN")
    app.run()
    assert app.sidebar.button(key="new_chat").label == en["sidebar.new_chat"]
    app.switch_page("pages/settings.py").run()
    settings_form = next(f for f in app.form if f.proto.form.form_id == "settings_form")
    next(s for s in settings_form.selectbox if s.label == en["settings.language"]).set_value("zh-CN")
    settings_form.form_submit_button[0].click()
    app.run()
    assert not app.exception

    assert app.title[0].value == zh["settings.title"]
    assert app.sidebar.button(key="new_chat").label == zh["sidebar.new_chat"]
    assert zh["sidebar.recent"] in [c.value for c in app.sidebar.caption]

    # It is a saved setting: a new browser session opens in Chinese too, whatever its locale.
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    other.context["locale"] = "en-US"
    other.run()
    assert not other.exception
    assert other.sidebar.button(key="new_chat").label == zh["sidebar.new_chat"]
    assert other.title[0].value == zh["chat.empty_title"]
    assert other.chat_input[0].placeholder == zh["chat.placeholder"]


def test_the_browser_locale_decides_until_a_language_is_chosen(groq_server: StandInGroq) -> None:
    zh = catalogue("zh-CN")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.context["locale"] = "zh-TW"
    at.run()
    assert not at.exception
    assert at.sidebar.button(key="new_chat").label == zh["sidebar.new_chat"]
