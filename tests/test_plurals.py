"""Count sentences go through t() with ``count``: English tells one from many, Chinese has one form."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.i18n import catalogue, plural_form, set_language, t
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")


def test_plural_rules() -> None:
    assert [plural_form("en", n) for n in (0, 1, 2, 21)] == ["other", "one", "other", "other"]
    assert {plural_form("zh-CN", n) for n in (0, 1, 2)} == {"other"}
    set_language("en")
    assert t("history.count", count=1) == "1 conversation"
    assert t("history.count", count=1234) == "1,234 conversations"
    assert (
        t(
            "import.done",
            new=t("import.new_conversations", count=1),
            updated=t("import.conversations", count=0),
            messages=t("import.messages", count=1),
        )
        == "Imported 1 new conversation and added messages to 0 conversations: 1 message in all."
    )
    set_language("zh-CN")
    assert t("history.count", count=1) == "1 个对话" == catalogue("zh-CN")["history.count.other"].format(count=1)


@pytest.mark.parametrize(
    ("language", "one", "two"), [("en", "1 conversation", "2 conversations"), ("zh-CN", "1 个对话", "2 个对话")]
)
def test_the_history_page_counts_in_both_languages(
    app: AppTest, groq_server: StandInGroq, language: str, one: str, two: str
) -> None:
    app.context["locale"] = "zh-CN" if language == "zh-CN" else "en-US"
    set_language(language)  # AppTest reads widgets' labels in the test's own thread
    app.run()
    for text in ("First", "Second"):
        app.sidebar.button(key="new_chat").click().run()
        app.chat_input[0].set_value(text).run()
        assert not app.exception
        app.switch_page("pages/history.py").run()
        assert not app.exception
        captions = [c.value for c in app.caption]
        assert (one if text == "First" else two) in captions, captions
        app.switch_page("pages/chat.py").run()
