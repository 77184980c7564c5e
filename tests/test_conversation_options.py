"""Conversation settings: the applied preset is remembered (by the core, in the conversation) and
shown when the settings dialog opens again, and in the chip at the top of the chat, in English
and in Simplified Chinese. (Applying through the dialog itself: tests/browser/test_options_in_browser.py;
AppTest does not run a dialog's body after the run that opened it.)"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.conversation import ConversationService
from chatbot.history import ConversationFilter, HistoryService
from chatbot.i18n import set_language, t
from chatbot.preferences import Preferences
from chatbot.presets import new_preset
from chatbot.settings import AppSettings
from tests.pages import send
from tests.stand_in_groq import StandInGroq


def only_conversation(sessions: sessionmaker[Session]) -> str:
    (conv,) = HistoryService(sessions).page(ConversationFilter(pinned=None)).items
    return conv.id


def open_dialog(app: AppTest, conversation_id: str | None) -> None:
    app.sidebar.button(key=f"options_open_{conversation_id}").click().run()
    assert not app.exception, [e.value for e in app.exception]


def chip(app: AppTest) -> list[str]:
    """The badges at the top of the chat (st.badge is drawn as Markdown ":color-badge[...]")."""
    return [m.value for m in app.main.markdown if "-badge[" in m.value]


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_applied_preset_is_shown_when_the_dialog_opens_again(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], language: str
) -> None:
    Preferences(sessions).save_settings(AppSettings(language=language))
    app.run()
    send(app, "Sort a list in Python")
    conv = only_conversation(sessions)
    ConversationService(sessions).update_options(conv, "Answer briefly.", {"temperature": 0.5}, "builtin:concise")

    app.run()
    open_dialog(app, conv)
    set_language(language)
    preset = app.selectbox(key=f"preset_{conv}")
    assert preset.value == "builtin:concise"
    assert preset.format_func(preset.value) == t("preset.concise") != t("chat.no_preset")
    # The conversation's own values (changed since the preset was applied), not the preset's.
    assert [a.value for a in app.text_area] == ["Answer briefly."]
    assert app.slider[0].value == 0.5
    assert t("preset.concise") in " ".join(chip(app))


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_ones_own_preset_and_no_preset_are_shown_as_applied(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], language: str
) -> None:
    preferences = Preferences(sessions)
    preferences.save_settings(AppSettings(language=language))
    mine = preferences.save_preset(new_preset("Reviewer", "Review my code.", params={"temperature": 0.3}))
    app.run()
    send(app, "Look at this")
    conv = only_conversation(sessions)
    service = ConversationService(sessions)
    service.update_options(conv, mine.system_prompt, {"temperature": 0.3}, mine.id)
    app.run()
    open_dialog(app, conv)
    assert app.selectbox(key=f"preset_{conv}").value == mine.id
    assert "Reviewer" in " ".join(chip(app))

    service.update_options(conv, "Plain.", {"temperature": 1.0}, None)  # applied without a preset
    app.run()
    open_dialog(app, conv)
    set_language(language)
    preset = app.selectbox(key=f"preset_{conv}")
    assert preset.value == "" and preset.format_func("") == t("chat.no_preset")
    assert "Reviewer" not in " ".join(chip(app))
    assert service_params(sessions, conv) == {"temperature": 1.0}  # nothing left of the old preset


def service_params(sessions: sessionmaker[Session], conversation_id: str) -> dict[str, object]:
    summary = HistoryService(sessions).summary(conversation_id)
    assert summary is not None
    return summary.params
