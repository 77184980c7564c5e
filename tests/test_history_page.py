"""The History page in AppTest: search, open a result, filter, select several and act on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.history import HistoryService
from chatbot.store import repo
from chatbot.store.repo import ConversationFilter
from tests.stand_in_groq import StandInGroq

NOW = datetime.now(UTC)


def seed(
    sessions: sessionmaker[Session],
    title: str,
    question: str,
    answer: str,
    minutes_ago: int = 0,
    model: str = "openai/gpt-oss-20b",
) -> tuple[str, str]:
    with sessions.begin() as s:
        conv = repo.create_conversation(s, "", "groq", model, title=title)
        conv.updated_at = NOW - timedelta(minutes=minutes_ago)
        q = repo.add_message(s, conv.id, role="user", content=question)
        a = repo.add_message(s, conv.id, role="assistant", content=answer, parent_id=q.id)
        conv.current_message_id = a.id
        return conv.id, a.id


def open_history(app: AppTest) -> AppTest:
    app.run()
    app.switch_page("pages/history.py").run()
    assert not app.exception, app.exception
    return app


def test_search_and_open_a_result(app: AppTest, sessions, groq_server: StandInGroq) -> None:  # type: ignore[no-untyped-def]
    seed(sessions, "Groceries", "What do I need for pancakes?", "Flour, eggs, milk.", 5)
    conv, answer = seed(sessions, "Wildlife", "Where do capybaras live?", "Capybaras live in South America.", 10)
    open_history(app)
    app.text_input(key="history_query").set_value("capybara").run()
    assert not app.exception
    texts = [m.value for m in app.main.markdown]
    assert "**Wildlife**" in texts and "**Groceries**" not in texts
    assert any(
        ":orange-background[**capybara**]" in t.lower() or ":orange-background[**Capybara**]" in t for t in texts
    )
    app.button(key=f"go_{conv}").click().run()
    assert not app.exception
    assert app.session_state["conversation_id"] == conv
    assert [m.markdown[0].value for m in app.chat_message] == [
        "Where do capybaras live?",
        "Capybaras live in South America.",
    ]


def test_filters_and_bulk_archive_delete_undo(app: AppTest, sessions, groq_server: StandInGroq) -> None:  # type: ignore[no-untyped-def]
    a, _ = seed(sessions, "Alpha", "q", "a", 1, model="llama-3.1-8b-instant")
    b, _ = seed(sessions, "Beta", "q", "a", 2)
    c, _ = seed(sessions, "Gamma", "q", "a", 3)
    history = HistoryService(sessions)
    open_history(app)
    shown = [k.key.removeprefix("pick_") for k in app.checkbox if k.key and k.key.startswith("pick_")]
    assert shown == [a, b, c]

    app.selectbox(key="history_model").set_value("llama-3.1-8b-instant").run()
    assert [k.key for k in app.checkbox if k.key and k.key.startswith("pick_")] == [f"pick_{a}"]
    app.selectbox(key="history_model").set_value(None).run()

    app.checkbox(key=f"pick_{a}").check().run()
    app.checkbox(key=f"pick_{b}").check().run()
    app.button(key="bulk_archive").click().run()
    assert not app.exception
    assert {x.id for x in history.page(ConversationFilter(archived=True)).items} == {a, b}
    assert [k.key for k in app.checkbox if k.key and k.key.startswith("pick_")] == [f"pick_{c}"]
    app.selectbox(key="history_status").set_value("archived").run()
    assert [k.key for k in app.checkbox if k.key and k.key.startswith("pick_")] == [f"pick_{a}", f"pick_{b}"]

    app.button(key="select_all").click().run()
    app.button(key="bulk_delete").click().run()
    assert not app.exception
    assert history.count(ConversationFilter(archived=None)) == 1
    assert "Deleted 2 conversations." in [x.value for x in app.sidebar.caption]
    app.sidebar.button(key="undo_delete_button").click().run()
    assert not app.exception
    assert history.count(ConversationFilter(archived=None)) == 3


def test_deleting_from_the_sidebar_menu_offers_undo(app: AppTest, sessions, groq_server: StandInGroq) -> None:  # type: ignore[no-untyped-def]
    conv, _ = seed(sessions, "Doomed", "q", "a")
    history = HistoryService(sessions)
    history.delete([conv])  # what the menu's Delete does, then the page remembers it:
    app.session_state["undo_delete"] = {"ids": [conv], "title": "Doomed"}
    app.run()
    assert "Deleted “Doomed”." in [x.value for x in app.sidebar.caption]
    assert f"open_{conv}" not in [b.key for b in app.sidebar.button]
    app.sidebar.button(key="undo_delete_button").click().run()
    assert f"open_{conv}" in [b.key for b in app.sidebar.button]
