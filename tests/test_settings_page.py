"""The settings page: what persists, where the API key goes (and where it never goes), validation."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot import access, config
from chatbot.errors import InvalidInput
from chatbot.i18n import catalogue, set_language, t
from chatbot.preferences import Preferences
from chatbot.settings import AppSettings, validate
from tests.browser.harness import with_title
from tests.conftest import APP
from tests.stand_in_groq import StandInGroq

PLAIN = "llama-3.1-8b-instant"


def settings_page(at: AppTest | None = None) -> AppTest:
    at = at or AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    assert at.title[0].value == t("settings.title")
    return at


def form(at: AppTest, form_id: str) -> Any:
    return next(f for f in at.form if f.proto.form.form_id == form_id)


def widget(elements: Any, label_key: str) -> Any:
    return next(e for e in elements if e.label == t(label_key))


def submit(at: AppTest, form_id: str) -> AppTest:
    form(at, form_id).form_submit_button[0].click()
    at.run()
    assert not at.exception
    return at


def restart() -> None:
    """What a server restart forgets: every cached resource (the database engine among them)."""
    st.cache_resource.clear()


def stored_settings(sessions: sessionmaker[Session]) -> AppSettings:
    return Preferences(sessions).load_settings()


def files_under(path: Path) -> Iterator[Path]:
    return (p for p in path.rglob("*") if p.is_file())


@pytest.fixture
def keyless_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInGroq]:
    """The stand-in, reachable by the app, but no key anywhere: the user brings it."""
    with StandInGroq(reply="Using your key.") as server:
        monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
        yield server


# --------------------------------------------------------------------------- persistence


def test_settings_survive_a_restart_and_shape_the_next_request(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    at = settings_page(app)
    f = form(at, "settings_form")
    widget(f.selectbox, "settings.default_model").set_value(f"groq:{PLAIN}")
    widget(f.slider, "settings.temperature").set_value(0.3)
    widget(f.slider, "settings.top_p").set_value(0.9)
    widget(f.number_input, "settings.max_tokens").set_value(512)
    widget(f.text_area, "settings.system_prompt").set_value("Answer like a pirate.")
    submit(at, "settings_form")
    assert [x.value for x in at.toast] == [t("settings.saved")]

    saved = stored_settings(sessions)
    assert (saved.default_model, saved.temperature, saved.top_p, saved.max_tokens, saved.system_prompt) == (
        f"groq:{PLAIN}",
        0.3,
        0.9,
        512,
        "Answer like a pirate.",
    )

    restart()
    fresh = settings_page()
    f = form(fresh, "settings_form")
    assert widget(f.selectbox, "settings.default_model").value == f"groq:{PLAIN}"
    assert widget(f.slider, "settings.temperature").value == pytest.approx(0.3)
    assert widget(f.slider, "settings.top_p").value == pytest.approx(0.9)
    assert widget(f.number_input, "settings.max_tokens").value == 512
    assert widget(f.text_area, "settings.system_prompt").value == "Answer like a pirate."

    fresh.switch_page("pages/chat.py").run()
    fresh.chat_input[0].set_value("Ahoy?").run()
    assert not fresh.exception
    sent = groq_server.chat_requests[-1]["json"]
    assert sent["model"] == PLAIN
    assert (sent["temperature"], sent["top_p"], sent["max_completion_tokens"]) == (0.3, 0.9, 512)
    assert sent["messages"][0] == {"role": "system", "content": "Answer like a pirate."}


# --------------------------------------------------------------------------- API key


def test_a_key_entered_here_serves_this_session_only_and_is_never_stored(
    app: AppTest, keyless_server: StandInGroq, isolated_env: Path
) -> None:
    key = keyless_server.api_key
    at = settings_page(app)
    assert t("settings.no_key") in [c.value for c in at.caption]

    f = form(at, "api_key_form")
    widget(f.text_input, "settings.api_key_input").set_value(f"  {key}  ")
    assert widget(f.checkbox, "settings.save_env").value is False
    submit(at, "api_key_form")
    assert t("settings.key_in_use", masked=config.mask_key(key)) in [c.value for c in at.caption]
    assert key not in "".join(str(n.proto) for n in _nodes(at))  # shown masked only

    # The chat now reaches Groq with it.
    at.switch_page("pages/chat.py").run()
    at.selectbox(key="model_None").set_value("groq:openai/gpt-oss-20b").run()
    at.chat_input[0].set_value("Is my key working?").run()
    assert not at.exception
    assert at.chat_message[-1].markdown[0].value == "Using your key."
    assert keyless_server.chat_requests[-1]["headers"]["authorization"] == f"Bearer {key}"

    # Not in the database (nor its WAL), not in .env, not anywhere in the data directory.
    data_files = list(files_under(isolated_env))
    assert any(p.name.startswith("chat.db") for p in data_files)
    for path in data_files:
        assert key.encode() not in path.read_bytes(), path
    assert not config.env_file().exists()

    # Another browser session (or a restart) does not have it.
    other = settings_page()
    assert t("settings.no_key") in [c.value for c in other.caption]


def test_ticking_save_writes_the_key_to_env_for_the_owner_only(
    app: AppTest, keyless_server: StandInGroq, isolated_env: Path
) -> None:
    key = keyless_server.api_key
    env = config.env_file()
    env.write_text("OTHER_SETTING=kept\nGROQ_API_KEY=gsk_old_key_to_replace\n", encoding="utf-8")
    env.chmod(0o644)

    at = settings_page(app)
    f = form(at, "api_key_form")
    widget(f.text_input, "settings.api_key_input").set_value(key)
    widget(f.checkbox, "settings.save_env").check()
    submit(at, "api_key_form")

    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600
    lines = env.read_text(encoding="utf-8").splitlines()
    assert f"GROQ_API_KEY={key}" in lines
    assert "OTHER_SETTING=kept" in lines
    assert "gsk_old_key_to_replace" not in env.read_text(encoding="utf-8")
    for path in files_under(isolated_env):
        assert key.encode() not in path.read_bytes(), path

    # A new session (another browser, or after a restart) finds it in .env.
    restart()
    other = settings_page()
    assert t("settings.key_in_use", masked=config.mask_key(key)) in [c.value for c in other.caption]


def test_env_file_is_created_private(tmp_path: Path) -> None:
    path = config.save_api_key_to_env("gsk_brand_new_key_0123456789", access.LOCAL)
    assert path == config.env_file() and path.parent == tmp_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert config.resolve_api_key() == "gsk_brand_new_key_0123456789"
    assert config.resolve_api_key("  gsk_session_key_wins  ") == "gsk_session_key_wins"


# --------------------------------------------------------------------------- validation


def test_max_tokens_above_the_models_limit_is_rejected_with_a_message(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    limits = {m["id"]: m["max_completion_tokens"] for m in groq_server.models}
    small, large = "openai/gpt-oss-20b", PLAIN
    too_many = limits[small] + 1
    assert too_many <= limits[large]

    at = settings_page(app)
    f = form(at, "settings_form")
    widget(f.selectbox, "settings.default_model").set_value(f"groq:{small}")
    widget(f.number_input, "settings.max_tokens").set_value(too_many)
    submit(at, "settings_form")
    assert [e.value for e in at.error] == [t("settings.invalid_max_tokens", value=too_many, limit=limits[small])]
    assert not at.toast
    assert stored_settings(sessions) == AppSettings()  # nothing saved

    # The same number is fine for a model that can write that much.
    f = form(at, "settings_form")
    widget(f.selectbox, "settings.default_model").set_value(f"groq:{large}")
    widget(f.number_input, "settings.max_tokens").set_value(too_many)
    submit(at, "settings_form")
    assert not at.error
    assert stored_settings(sessions).max_tokens == too_many


def test_a_saved_max_tokens_is_capped_for_a_model_that_writes_less(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    limits = {m["id"]: m["max_completion_tokens"] for m in groq_server.models}
    small = "qwen/qwen3.8-27b"
    Preferences(sessions).save_settings(AppSettings(max_tokens=limits[small] + 1000))

    app.run()
    app.selectbox(key="model_None").set_value(f"groq:{small}").run()
    app.chat_input[0].set_value("Write a lot").run()
    assert not app.exception
    assert not app.error
    assert groq_server.chat_requests[-1]["json"]["max_completion_tokens"] == limits[small]


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"temperature": 2.5}, "settings.invalid_temperature"),
        ({"temperature": -0.1}, "settings.invalid_temperature"),
        ({"top_p": 0.0}, "settings.invalid_top_p"),
        ({"top_p": 1.5}, "settings.invalid_top_p"),
        ({"max_tokens": 0}, "settings.invalid_max_tokens"),
        ({"max_tokens": "lots"}, "settings.invalid_number"),
        ({"system_prompt": "x" * 20_001}, "settings.system_prompt_too_long"),
    ],
)
def test_out_of_range_values_are_rejected_with_a_translated_message(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate(AppSettings(**changes))
    error = info.value
    assert error.key == key
    for language in ("en", "zh-CN"):
        set_language(language)
        try:
            message = t(error.key, **error.values)
        finally:
            set_language("en")
        assert message == catalogue(language)[key].format(**error.values)
        if "value" in error.values:
            assert str(error.values["value"]) in message


def test_validate_caps_max_tokens_at_the_models_limit() -> None:
    assert validate(AppSettings(max_tokens=65536), model_max_tokens=65536).max_tokens == 65536
    with pytest.raises(InvalidInput) as info:
        validate(AppSettings(max_tokens=65537), model_max_tokens=65536)
    assert info.value.values == {"value": 65537, "limit": 65536}
    assert AppSettings(max_tokens=65537).params(model_max_tokens=16384).max_tokens == 16384
    assert AppSettings(max_tokens=512).params(model_max_tokens=16384).max_tokens == 512


def test_a_bad_stored_row_falls_back_to_defaults() -> None:
    assert AppSettings.from_stored({"temperature": 9, "top_p": 0.5}) == AppSettings()
    assert AppSettings.from_stored({"temperature": 0.2, "unknown": 1}).temperature == 0.2


def _nodes(at: AppTest) -> Iterator[Any]:
    def walk(node: Any) -> Iterator[Any]:
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    return (n for n in walk(at._tree) if getattr(n, "proto", None) is not None)


# --------------------------------------------------------------------------- automatic titles


def _sidebar_titles(at: AppTest) -> list[str]:
    return [b.label for b in at.sidebar.button if b.key and b.key.startswith("open_")]


def test_new_chats_are_named_by_the_model_until_switched_off_here(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROQ_CHAT_AUTO_TITLE")  # the default: on
    assert config.auto_titles()
    groq_server.reply = with_title("Pirate Greetings", "Ahoy, matey!")
    app.run()
    app.chat_input[0].set_value("Say hello like a pirate").run()
    assert not app.exception
    assert _sidebar_titles(app) == ["Pirate Greetings"]
    title_request = groq_server.chat_requests[-1]["json"]
    assert title_request["model"] == PLAIN and "Say hello like a pirate" in title_request["messages"][-1]["content"]
    assert len(groq_server.chat_requests) == 2  # the reply, then the title

    at = settings_page(app)
    toggle = widget(form(at, "settings_form").toggle, "settings.auto_titles")
    assert toggle.value is True and not toggle.disabled
    toggle.set_value(False)
    submit(at, "settings_form")
    assert stored_settings(sessions).auto_titles is False

    at.switch_page("pages/chat.py").run()
    at.sidebar.button(key="new_chat").click().run()
    at.chat_input[0].set_value("And goodbye like one").run()
    assert not at.exception
    assert _sidebar_titles(at) == ["And goodbye like one", "Pirate Greetings"]  # its first words
    assert len(groq_server.chat_requests) == 3  # no title request


def test_the_server_can_switch_titles_off_for_everyone(app: AppTest) -> None:
    assert not config.auto_titles()  # GROQ_CHAT_AUTO_TITLE=0 (tests/conftest.py)
    at = settings_page(app)
    toggle = widget(form(at, "settings_form").toggle, "settings.auto_titles")
    assert toggle.value is False and toggle.disabled
    assert toggle.help == t("settings.auto_titles_server_off")
