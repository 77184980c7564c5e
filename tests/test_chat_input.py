"""The chat input: a refused message stays in it (nothing lost), and it stays pinned at the bottom.

Through the page (AppTest, a real SQLite file, the stand-in Groq server): what a user sees and
what is kept, sent or stored.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.i18n import set_language, t
from chatbot.limits import MAX_MESSAGE_CHARS
from chatbot.preferences import Preferences
from chatbot.settings import AppSettings
from chatbot.store.models import Message
from tests.conftest import ROOT
from tests.stand_in_groq import StandInGroq

pytestmark = pytest.mark.usefixtures("english")


def stored_messages(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count(Message.id))) or 0


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_message_one_character_over_the_limit_stays_in_the_input_and_the_limit_is_said(
    app: AppTest, groq_server: StandInGroq, sessions: sessionmaker[Session], language: str
) -> None:
    Preferences(sessions).save_settings(AppSettings(language=language))
    app.run()
    typed = "长" * (MAX_MESSAGE_CHARS + 1)
    app.chat_input[0].set_value(typed).run()

    assert not app.exception
    set_language(language)
    said = t("input.too_long", limit=MAX_MESSAGE_CHARS, length=len(typed))
    assert [e.value for e in app.error] == [said]
    assert f"{MAX_MESSAGE_CHARS}" in said
    box = app.chat_input[0].proto
    assert box.set_value and box.value == typed  # handed back into the input, whole
    assert not app.chat_message and stored_messages(sessions) == 0 and groq_server.chat_requests == []

    app.run()  # the next run leaves the input to the user (no second hand-back), the notice gone
    assert not app.chat_input[0].proto.set_value
    assert not app.error

    app.chat_input[0].set_value(typed[:MAX_MESSAGE_CHARS]).run()  # shortened to the limit: taken
    assert not app.exception
    assert said not in [e.value for e in app.error]  # (the stand-in's TPM limit may refuse it: not ours)
    assert not app.chat_input[0].proto.set_value
    assert stored_messages(sessions) == 2 and len(groq_server.chat_requests) == 1


def test_a_blank_message_is_not_handed_back(app: AppTest, groq_server: StandInGroq) -> None:
    app.run()
    app.chat_input[0].set_value("   ").run()
    assert [e.value for e in app.error] == [t("input.empty")]
    assert not app.chat_input[0].proto.set_value
    assert groq_server.chat_requests == []


def test_the_chat_input_is_in_the_bottom_and_the_page_scrolls_by_its_own_script(
    app: AppTest, groq_server: StandInGroq
) -> None:
    """The chat input lives in st.bottom (no private call), where Streamlit does not steer the
    scrolling: the page's own script (pages/_chat_view.html) does, on every full run; the
    fragment's own run (a message sent) keeps the input there."""
    app.run()
    assert len(app.chat_input) == 1
    assert not app.chat_input[0].proto.is_auto_positioned_at_bottom
    script = (ROOT / "pages" / "_chat_view.html").read_text(encoding="utf-8")
    assert any(h.proto.body == script for h in app.get("html"))
    app.chat_input[0].set_value("Hello").run()
    assert not app.exception
    assert len(app.chat_input) == 1
