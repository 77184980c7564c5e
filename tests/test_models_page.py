"""The models page: chat models only, their limits, the selected one; what to do with none."""

from __future__ import annotations

import json
import sys

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.i18n import t
from chatbot.providers import Providers, local
from chatbot.providers.local import available as local_available
from tests.stand_in_groq import StandInGroq

NOT_CHAT = ("whisper", "orpheus", "guard")


def models_table(at: AppTest) -> list[dict[str, object]]:
    assert len(at.dataframe) == 1
    return at.dataframe[0].value.to_dict("records")


def open_models_page(at: AppTest) -> AppTest:
    at.run()
    at.switch_page("pages/models.py").run()
    assert not at.exception
    assert at.title[0].value == t("models.title")
    return at


def test_lists_only_chat_models_with_owner_and_limits(app: AppTest, groq_server: StandInGroq) -> None:
    rows = models_table(open_models_page(app))
    by_id = {row[t("models.id")]: row for row in rows}

    listed = {m["id"]: m for m in groq_server.models}
    chat_models = {i for i in listed if not any(word in i for word in NOT_CHAT)}
    groq_rows = {i for i, row in by_id.items() if row[t("models.provider")] == t("provider.groq")}
    assert groq_rows == chat_models
    assert not any(word in i for i in by_id for word in NOT_CHAT)
    for model_id in chat_models:
        row = by_id[model_id]
        assert row[t("models.owner")] == listed[model_id]["owned_by"]
        assert row[t("models.context")] == listed[model_id]["context_window"]
        assert row[t("models.max_output")] == listed[model_id]["max_completion_tokens"]

    if local_available():  # the built-in model is offered beside Groq's
        assert by_id[local.MODEL_ID][t("models.provider")] == t("provider.local")


def test_marks_the_model_the_chat_uses(app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session]) -> None:
    rows = models_table(open_models_page(app))
    selected = [row[t("models.id")] for row in rows if row[t("models.selected")]]
    providers = Providers(groq_server.api_key, groq_server.base_url)
    default = providers.default_model(providers.catalogue())
    assert default is not None and default.provider == "groq"
    assert selected == [default.id]  # a new chat's model, as the chat page picks it

    # Pick another model for a chat: the page follows.
    app.switch_page("pages/chat.py").run()
    app.chat_input[0].set_value("Hi").run()
    conv_id = app.session_state["conversation_id"]
    app.selectbox(key=f"model_{conv_id}").set_value("groq:llama-3.1-8b-instant").run()
    app.switch_page("pages/models.py").run()
    selected = [row[t("models.id")] for row in models_table(app) if row[t("models.selected")]]
    assert selected == ["llama-3.1-8b-instant"]


def test_without_a_key_or_the_local_model_it_says_what_to_do(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    # The built-in model's engine is not installed: importing it fails, as after a bare pip install.
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    assert not local_available()

    app.run()
    assert not app.exception
    assert t("error.no_models") in [e.value for e in app.error]  # the chat page says it too
    assert any("pip install" in c.value for c in app.code)

    app.switch_page("pages/models.py").run()
    assert not app.exception
    assert len(app.dataframe) == 0
    assert [i.value for i in app.info] == [t("models.none")]
    # The explanation names both ways out: a key in Settings or the built-in model.
    assert t("nav.settings") in t("models.none")


def test_a_rejected_key_is_explained_on_the_models_page(
    app: AppTest, groq_server: StandInGroq, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_not_the_right_key_0123456789")
    open_models_page(app)
    errors = [e.value for e in app.error]
    assert errors == [t("error.auth")]
    assert "gsk_not_the_right_key_0123456789" not in "".join(errors)
    rows = models_table(app) if len(app.dataframe) else []
    assert all(row[t("models.provider")] != t("provider.groq") for row in rows)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_page_offers_the_picker_itself_and_a_link_to_the_chat(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], language: str
) -> None:
    from chatbot.history import HistoryService
    from chatbot.i18n import set_language

    app.context["locale"] = "zh-CN" if language == "zh-CN" else "en-US"
    set_language(language)
    try:
        open_models_page(app)
        # Not "in the sidebar": this page has no such picker. It has its own, and a link.
        assert not any("sidebar" in c.value or "侧边栏" in c.value for c in app.caption)
        links = [p.proto for p in app.get("page_link")]
        assert [link.label for link in links] == [t("models.open_chat")] and links[0].page_script_hash
        picker = app.selectbox[0]
        assert picker.label == t("models.pick_for_new_chat")
        picker.set_value("groq:llama-3.1-8b-instant").run()
        assert not app.exception
        selected = [row[t("models.id")] for row in models_table(app) if row[t("models.selected")]]
        assert selected == ["llama-3.1-8b-instant"]

        # A new chat starts on it, and the open chat's model is changed here too.
        app.switch_page("pages/chat.py").run()
        app.chat_input[0].set_value("Hi").run()
        conv_id = app.session_state["conversation_id"]
        assert groq_server.chat_requests[-1]["json"]["model"] == "llama-3.1-8b-instant"
        app.switch_page("pages/models.py").run()
        picker = app.selectbox[0]
        assert picker.label == t("models.pick_for_chat", title="Hi")
        picker.set_value("groq:openai/gpt-oss-20b").run()
        summary = HistoryService(sessions).summary(conv_id)
        assert summary is not None and summary.model == "openai/gpt-oss-20b"
    finally:
        set_language("en")


def test_numbers_have_thousands_separators_and_columns_fit_their_headings(
    app: AppTest, groq_server: StandInGroq
) -> None:
    open_models_page(app)
    config = json.loads(app.dataframe[0].proto.columns)
    assert config[t("models.context")]["type_config"]["format"] == "localized"
    assert config[t("models.max_output")]["type_config"]["format"] == "localized"
    assert config[t("models.context")]["width"] == "medium"
