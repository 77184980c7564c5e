"""First run and the key in use: with no key the app says replies come from a tiny offline demo
model and links to Groq's key page; a key in use says where it was set and shows at most its
last four characters, in English and in 简体中文."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.i18n import set_language, t
from tests.conftest import APP
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")

SOURCES = {
    "session": "settings.key_from_session",
    "environment": "settings.key_from_environment",
    "env_file": "settings.key_from_env_file",
    "secrets": "settings.key_from_secrets",
}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInGroq]:
    with StandInGroq(reply="Hi.") as stand_in:
        monkeypatch.setenv("GROQ_BASE_URL", stand_in.base_url)
        yield stand_in


def in_language(at: AppTest, language: str) -> AppTest:
    at.context["locale"] = "zh-CN" if language == "zh-CN" else "en-US"  # no saved choice: the browser's
    set_language(language)
    return at


def wire(at: AppTest) -> str:
    def walk(node: object) -> Iterator[object]:
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    return "".join(str(getattr(n, "proto", "")) for n in walk(at._tree))


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_the_key_in_use_says_where_it_comes_from_and_shows_only_its_last_four(
    server: StandInGroq, monkeypatch: pytest.MonkeyPatch, source: str, language: str
) -> None:
    key = server.api_key
    at = in_language(AppTest.from_file(APP, default_timeout=30), language)
    if source == "environment":
        monkeypatch.setenv("GROQ_API_KEY", key)
    elif source == "env_file":
        Path(os.environ["GROQ_CHAT_ENV_FILE"]).write_text(f"GROQ_API_KEY={key}\n", encoding="utf-8")
    elif source == "secrets":
        at.secrets["GROQ_API_KEY"] = key
    at.run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    if source == "session":
        form = next(f for f in at.form if f.proto.form.form_id == "api_key_form")
        form.text_input[0].set_value(key)
        form.form_submit_button[0].click()
        at.run()
        assert not at.exception
    shown = captions(at)
    assert t("settings.key_in_use", masked="…" + key[-4:]) in shown
    assert t(SOURCES[source]) in shown
    assert [t(k) for k in SOURCES.values() if k != SOURCES[source] and t(k) in shown] == []
    assert key[:-4] not in wire(at) and key[-5:] not in wire(at)  # never more than the last four


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_with_no_key_the_chat_says_replies_come_from_the_demo_model_and_takes_a_key(
    server: StandInGroq, language: str
) -> None:
    at = in_language(AppTest.from_file(APP, default_timeout=30), language)
    at.run()
    assert not at.exception
    notes = [m.value for m in at.markdown] + [i.value for i in at.info]
    assert any(t("onboarding.demo_model") in n for n in notes), notes
    assert any("https://console.groq.com/keys" in n for n in notes)

    # The key pasted there is used at once, for this session only.
    at.text_input(key="onboarding_key").set_value(server.api_key)
    at.button(key="onboarding_use_key").click()
    at.run()
    assert not at.exception
    assert not [n for n in [i.value for i in at.info] if t("onboarding.demo_model") in n]
    at.switch_page("pages/settings.py").run()
    assert t("settings.key_from_session") in captions(at)


def test_settings_links_are_links(server: StandInGroq) -> None:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/settings.py").run()
    no_key = next(c for c in captions(at) if "console.groq.com" in c)
    assert "](https://console.groq.com/keys)" in no_key  # Markdown link, drawn as a link
