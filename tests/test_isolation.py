"""Two signed-in people on one database see and change only their own data, ids guessed or not.

- service layer, on SQLite and PostgreSQL: Bob calls every Turns/ConversationService/HistoryService/
  Preferences method that takes a conversation, message or preset id with Alice's ids, and every
  listing, search, export, import, settings and presets call; he gets nothing of hers, and her rows are byte-for-byte
  the same afterwards. A guard fails when a new id-taking method appears without a check here.
- the app, through AppTest with sign-in configured (a dummy OIDC provider) and ``at.user``:
  Bob opening ``?c=<Alice's id>``, his sidebar, sidebar search, History page, History search,
  Settings page and the new-chat presets show nothing of Alice's; Alice sees her own (so the
  checks can fail); nobody signed out reaches any data.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from chatbot.conversation import ConversationService
from chatbot.errors import InvalidInput
from chatbot.history import ConversationFilter, HistoryService
from chatbot.importing import Upload
from chatbot.preferences import Preferences
from chatbot.presets import new_preset
from chatbot.providers.base import ChatRequest, Finish, ModelInfo, TextDelta
from chatbot.reply import TurnSetup
from chatbot.settings import AppSettings
from chatbot.store.models import Conversation, ConversationTag, Message, Setting
from chatbot.turns import Turns
from tests.pages import ISSUER, new_app, sign_in, wire
from tests.stand_in_groq import StandInGroq

ALICE_SUB, BOB_SUB = "alice-0001", "bob-0002"
ALICE, BOB = f"{ISSUER}|{ALICE_SUB}", f"{ISSUER}|{BOB_SUB}"  # pages/_common.current_owner()
SECRET = "okapi"  # in Alice's titles, messages, tags, settings and presets; in nothing of Bob's
MARK = "zanzibar"  # next to it in her titles and messages; Bob never types it (his search is echoed)
MODEL = ModelInfo(id="openai/gpt-oss-20b", provider="groq", context_window=131072, max_completion_tokens=65536)
SETTINGS = AppSettings(system_prompt="")
SETUP = TurnSetup(MODEL, SETTINGS)


class Answer:
    """A provider that answers every request with one fixed text."""

    name = "groq"

    def __init__(self, text: str) -> None:
        self.text = text
        self.requests: list[ChatRequest] = []

    def list_models(self) -> list[ModelInfo]:
        return [MODEL]

    def stream_chat(self, request: ChatRequest) -> Iterator[Any]:
        self.requests.append(request)
        yield TextDelta(self.text)
        yield Finish("stop")


def snapshot(sessions: sessionmaker[Session], owner: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``owner``: conversations, their messages and tags, settings (presets too)."""

    def row(obj: Any) -> dict[str, Any]:
        return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}

    with sessions() as s:
        convs = s.scalars(select(Conversation).where(Conversation.owner == owner).order_by(Conversation.id)).all()
        ids = [c.id for c in convs]
        return {
            "conversations": [row(c) for c in convs],
            "messages": [
                row(m) for m in s.scalars(select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.id))
            ],
            "tags": [
                row(t)
                for t in s.scalars(
                    select(ConversationTag)
                    .where(ConversationTag.conversation_id.in_(ids))
                    .order_by(ConversationTag.conversation_id, ConversationTag.tag)
                )
            ],
            "settings": [
                row(x) for x in s.scalars(select(Setting).where(Setting.owner == owner).order_by(Setting.key))
            ],
        }


def seed_alice(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Alice's history: a conversation with a regenerated answer (two branches), tags, a pinned
    and an archived one, one in the trash, her settings and a preset of her own."""
    chat = Turns(sessions, lambda name: Answer(f"The {SECRET} lives in the Congo, not {MARK}."), owner=ALICE)
    history = HistoryService(sessions, owner=ALICE)
    pending = chat.start_turn(None, f"Tell me about the {SECRET}", MODEL, SETTINGS)
    list(chat.stream_reply(pending))
    regenerated = chat.regenerate_turn(pending.conversation_id, MODEL, SETTINGS)
    list(chat.stream_reply(regenerated))
    cid = pending.conversation_id
    turns = ConversationService(sessions, ALICE).recent_messages(cid).turns
    history.rename(cid, f"{SECRET} research {MARK}")
    history.set_tags(cid, [f"{SECRET}-tag"])
    history.set_pinned([cid], True)

    archived = chat.start_turn(None, f"Archived {SECRET} notes", MODEL, SETTINGS)
    list(chat.stream_reply(archived))
    history.set_archived([archived.conversation_id], True)
    trashed = chat.start_turn(None, f"Trashed {SECRET} draft", MODEL, SETTINGS)
    list(chat.stream_reply(trashed))
    history.delete([trashed.conversation_id])

    preferences = Preferences(sessions, ALICE)
    preferences.save_settings(AppSettings(system_prompt=f"Alice's {SECRET} prompt", temperature=0.2, language="en"))
    preset = new_preset(f"{SECRET} preset", f"Talk about the {SECRET}.")
    preferences.save_preset(preset)
    return {
        "cid": cid,
        "user_mid": turns[0].id,
        "reply_mid": turns[-1].id,
        "first_reply_mid": turns[-1].alternatives[0],
        "archived": archived.conversation_id,
        "trashed": trashed.conversation_id,
        "preset": preset.id,
    }


# Every public method taking a conversation or message id, and the test below that calls it
# with Alice's ids as Bob. A new such method must be added here (and checked below).
ID_METHODS = {
    Turns: {
        "send",
        "edit",
        "regenerate",
        "continue_reply",
        "start_turn",
        "edit_turn",
        "regenerate_turn",
        "continue_turn",
    },
    ConversationService: {
        "recent_messages",
        "turns",
        "set_model",
        "update_options",
        "show_alternative",
        "set_feedback",
        "fork",
    },
    HistoryService: {
        "summary",
        "summaries",
        "message_counts",
        "rename",
        "set_pinned",
        "set_archived",
        "set_tags",
        "delete",
        "undo_delete",
        "open_at",
        "records",
        "export",
        "auto_title",
    },
    Preferences: {
        "save_preset",
        "delete_preset",
    },
}
ID_PARAMETERS = {"conversation_id", "conversation_ids", "message_id", "preset", "preset_id"}


def test_every_method_taking_an_id_is_checked_here() -> None:
    for cls, checked in ID_METHODS.items():
        taking_ids = {
            name
            for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and ID_PARAMETERS & set(inspect.signature(fn).parameters)
        }
        assert taking_ids == checked, f"{cls.__name__}: check {taking_ids - checked} for owner isolation"


@pytest.fixture
def alice(sessions: sessionmaker[Session]) -> dict[str, Any]:
    return seed_alice(sessions)


@pytest.fixture
def bob_chat(sessions: sessionmaker[Session]) -> Turns:
    return Turns(sessions, lambda name: Answer("Bob's answer"), owner=BOB)


@pytest.fixture
def bob_history(sessions: sessionmaker[Session]) -> HistoryService:
    return HistoryService(sessions, owner=BOB)


@pytest.fixture
def bob_conversations(sessions: sessionmaker[Session]) -> ConversationService:
    return ConversationService(sessions, owner=BOB)


@pytest.fixture
def bob_preferences(sessions: sessionmaker[Session]) -> Preferences:
    return Preferences(sessions, owner=BOB)


def test_alice_sees_her_own(sessions: sessionmaker[Session], alice: dict[str, Any]) -> None:
    """The control: the same calls as Alice find everything (so the checks below can fail)."""
    history, preferences = HistoryService(sessions, owner=ALICE), Preferences(sessions, owner=ALICE)
    conversations = ConversationService(sessions, owner=ALICE)
    assert history.summary(alice["cid"]) is not None
    assert len(conversations.recent_messages(alice["cid"]).turns) == 2
    assert [c.id for c in history.pinned()] == [alice["cid"]]
    assert history.count(ConversationFilter(archived=None, pinned=None)) == 2
    assert {g.conversation_id for g in history.search(SECRET, ConversationFilter(archived=None))} == {
        alice["cid"],
        alice["archived"],
    }
    assert history.all_tags() == [f"{SECRET}-tag"]
    assert history.message_counts([alice["cid"]]) == {alice["cid"]: 3}
    assert SECRET.encode() in history.export([alice["cid"]], "json").data
    assert any(p.id == alice["preset"] for p in preferences.presets())
    assert SECRET in preferences.load_settings().system_prompt


def test_bob_lists_and_searches_nothing_of_alices(
    sessions: sessionmaker[Session], alice: dict[str, Any], bob_preferences: Preferences, bob_history: HistoryService
) -> None:
    everything = ConversationFilter(archived=None, pinned=None)
    assert bob_history.page().items == [] and bob_history.pinned() == []
    assert bob_history.pages(3, everything).items == []
    assert bob_history.page(ConversationFilter(archived=True)).items == []
    assert bob_history.count(everything) == 0
    assert bob_history.all_tags() == [] and bob_history.models_used() == []
    for query in (SECRET, f"{SECRET} research", MARK, "Congo", f'"{SECRET} lives"', "oka*", "ok"):
        assert bob_history.search(query, everything) == [], query
        assert bob_history.search(query) == [], query
    assert bob_preferences.usage() == []


def test_bob_cannot_open_or_export_alices_conversations_by_id(
    alice: dict[str, Any], bob_conversations: ConversationService, bob_history: HistoryService
) -> None:
    cid, mids = alice["cid"], [alice["user_mid"], alice["reply_mid"], alice["first_reply_mid"]]
    for conv in (cid, alice["archived"], alice["trashed"]):
        assert bob_conversations.recent_messages(conv).turns == []
        window = bob_conversations.recent_messages(conv, 50)
        assert (window.turns, window.total) == ([], 0)
        assert bob_conversations.turns(conv, mids) == []
        assert bob_history.summary(conv) is None
        assert bob_history.summaries([conv]) == {}
        assert bob_history.message_counts([conv]) == {}
        assert bob_history.records([conv]) == []
        for fmt in ("json", "md", "txt", "csv", "html", "zip"):
            with pytest.raises(InvalidInput):
                bob_history.export([conv], fmt)
        for mid in mids:
            assert bob_history.open_at(conv, mid) is False
    assert SECRET.encode() not in bob_history.export_everything().data


def test_bob_cannot_change_alices_conversations_by_id(
    sessions: sessionmaker[Session],
    alice: dict[str, Any],
    bob_chat: Turns,
    bob_conversations: ConversationService,
    bob_history: HistoryService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GROQ_CHAT_AUTO_TITLE", "1")  # titles on, so auto_title is refused, not skipped
    before = snapshot(sessions, ALICE)
    cid, reply, user = alice["cid"], alice["reply_mid"], alice["user_mid"]
    ids = [cid, alice["archived"], alice["trashed"]]

    with pytest.raises(InvalidInput):
        bob_history.rename(cid, "Bob was here")
    with pytest.raises(InvalidInput):
        bob_history.set_tags(cid, ["bob"])
    assert bob_history.set_pinned(ids, False) == 0
    assert bob_history.set_archived(ids, False) == 0 and bob_history.set_archived(ids, True) == 0
    assert bob_history.delete(ids) == 0
    assert bob_history.undo_delete([alice["trashed"]]) == 0
    assert bob_history.purge_trash(older_than=timedelta(0)) == 0
    assert bob_history.auto_title(cid, lambda name: Answer("Stolen title"), [MODEL]) is None

    bob_conversations.set_model(cid, "groq:llama-3.1-8b-instant")
    bob_conversations.update_options(cid, "Bob's prompt", {"temperature": 1.5})
    bob_conversations.show_alternative(cid, alice["first_reply_mid"])
    bob_conversations.set_feedback(cid, reply, -1)
    for call in (
        lambda: bob_conversations.fork(cid, reply),
        lambda: bob_chat.edit_turn(cid, user, "Bob's edit", MODEL, SETTINGS),
        lambda: bob_chat.regenerate_turn(cid, MODEL, SETTINGS),
        lambda: bob_chat.continue_turn(cid, MODEL, SETTINGS),
        lambda: bob_chat.edit(cid, user, "Bob's edit", SETUP),
        lambda: bob_chat.regenerate(cid, SETUP),
        lambda: bob_chat.continue_reply(cid, SETUP),
    ):
        with pytest.raises(InvalidInput):
            call()
    # Writing "into" Alice's conversation starts one of Bob's own, holding nothing of hers.
    provider = Answer("Bob's answer")
    bob = Turns(sessions, lambda name: provider, owner=BOB)
    pending = bob.start_turn(cid, "Bob's question", MODEL, SETTINGS)
    list(bob.stream_reply(pending))
    assert pending.conversation_id != cid
    shown = bob_conversations.recent_messages(pending.conversation_id).turns
    assert [t.content for t in shown] == ["Bob's question", "Bob's answer"]
    with bob.send(cid, "Bob's second question", SETUP) as sent:
        assert "".join(e.text for e in sent if isinstance(e, TextDelta)) == "Bob's answer"
    assert sent.complete and sent.conversation_id not in (cid, pending.conversation_id)
    assert all(SECRET not in m.content for r in provider.requests for m in r.messages)

    # Alice's message ids used on Bob's own conversation reach nothing of hers either.
    own = pending.conversation_id
    with pytest.raises(InvalidInput):
        bob.edit_turn(own, user, "edit of hers", MODEL, SETTINGS)
    bob_conversations.show_alternative(own, alice["first_reply_mid"])
    bob_conversations.set_feedback(own, reply, 1)  # her reply's id, on his own conversation
    assert bob_history.open_at(own, reply) is False
    assert bob_conversations.turns(own, [user, reply, alice["first_reply_mid"]]) == []
    fork = bob_conversations.fork(own, reply)
    assert all(SECRET not in t.content for t in bob_conversations.recent_messages(fork).turns)

    assert snapshot(sessions, ALICE) == before  # not one field of hers changed


def test_importing_alices_export_gives_bob_a_copy_and_leaves_hers_alone(
    sessions: sessionmaker[Session], alice: dict[str, Any], bob_history: HistoryService
) -> None:
    exported = HistoryService(sessions, owner=ALICE).export_everything()
    before = snapshot(sessions, ALICE)
    report = bob_history.import_uploads([Upload(exported.name, exported.data)])
    assert report is not None
    assert snapshot(sessions, ALICE) == before
    mine = bob_history.page(ConversationFilter(archived=None, pinned=None)).items
    assert mine and not {c.id for c in mine} & {alice["cid"], alice["archived"]}  # new ids, his own
    # Importing again changes nothing, for either of them.
    bob_before = snapshot(sessions, BOB)
    bob_history.import_uploads([Upload(exported.name, exported.data)])
    assert snapshot(sessions, BOB) == bob_before and snapshot(sessions, ALICE) == before


def test_settings_and_presets_are_per_person(
    sessions: sessionmaker[Session], alice: dict[str, Any], bob_preferences: Preferences
) -> None:
    before = snapshot(sessions, ALICE)
    assert bob_preferences.load_settings() == AppSettings()
    assert all(p.builtin for p in bob_preferences.presets())
    bob_preferences.delete_preset(alice["preset"])
    bob_preferences.save_preset(replace(new_preset("Bob's copy", "Talk like Bob."), id=alice["preset"]))
    bob_preferences.save_settings(AppSettings(system_prompt="Bob's prompt", temperature=1.1))
    bob_preferences.save_preset(new_preset("Bob's preset", "Talk like Bob."))
    assert snapshot(sessions, ALICE) == before
    alice_preferences = Preferences(sessions, owner=ALICE)
    assert alice_preferences.load_settings().system_prompt == f"Alice's {SECRET} prompt"
    assert [p.name for p in alice_preferences.presets() if not p.builtin] == [f"{SECRET} preset"]
    assert [p.name for p in bob_preferences.presets() if not p.builtin] == ["Bob's copy", "Bob's preset"]


# --------------------------------------------------------------------------- the app (AppTest)


def signed_in(app: AppTest, sub: str | None) -> AppTest:
    if sub is None:
        return sign_in(app, {"is_logged_in": False})
    return sign_in(app, {"is_logged_in": True, "sub": sub, "iss": ISSUER, "email": f"{sub}@example.com"})


def sidebar_conversations(app: AppTest) -> list[str]:
    return [b.key.removeprefix("open_") for b in app.sidebar.button if b.key and b.key.startswith("open_")]


@pytest.fixture
def seeded(sessions: sessionmaker[Session], groq_server: StandInGroq) -> dict[str, Any]:
    return seed_alice(sessions)


def test_app_control_alice_sees_her_conversation(app: AppTest, seeded: dict[str, Any]) -> None:
    signed_in(app, ALICE_SUB)
    app.query_params["c"] = seeded["cid"]
    app.run()
    assert not app.exception, app.exception
    assert [m.markdown[0].value for m in app.chat_message][0] == f"Tell me about the {SECRET}"
    assert seeded["cid"] in sidebar_conversations(app)
    assert SECRET in wire(app)
    app.sidebar.text_input(key="sidebar_search").set_value(SECRET).run()
    assert [b for b in app.sidebar.button if b.key and b.key.startswith("hit_")] and MARK in wire(app)
    app.sidebar.text_input(key="sidebar_search").set_value("").run()
    app.switch_page("pages/history.py").run()
    assert {k.key for k in app.checkbox if k.key and k.key.startswith("pick_")} == {f"pick_{seeded['cid']}"}
    app.text_input(key="history_query").set_value(SECRET).run()
    assert f"go_{seeded['cid']}" in [b.key for b in app.button] and MARK in wire(app)


def test_app_bob_opening_alices_url_sees_nothing_of_hers(app: AppTest, seeded: dict[str, Any]) -> None:
    signed_in(app, BOB_SUB)
    app.query_params["c"] = seeded["cid"]
    app.run()
    assert not app.exception, app.exception
    assert list(app.chat_message) == []
    assert app.session_state["conversation_id"] is None and "c" not in app.query_params
    assert sidebar_conversations(app) == []
    assert SECRET not in wire(app)
    # The sidebar's search.
    app.sidebar.text_input(key="sidebar_search").set_value(SECRET).run()
    assert not app.exception
    assert not [b for b in app.sidebar.button if b.key and b.key.startswith("hit_")]
    assert MARK not in wire(app)  # (his own query "okapi" is echoed back)


def test_app_bob_history_page_and_its_search_show_nothing_of_alices(app: AppTest, seeded: dict[str, Any]) -> None:
    signed_in(app, BOB_SUB)
    app.run()
    app.switch_page("pages/history.py").run()
    assert not app.exception, app.exception
    assert not [k for k in app.checkbox if k.key and k.key.startswith("pick_")]
    assert SECRET not in wire(app)
    app.text_input(key="history_query").set_value(SECRET).run()
    assert not app.exception
    assert not [b for b in app.button if b.key and b.key.startswith("go_")]
    assert MARK not in wire(app)  # (his own query "okapi" is echoed back)
    app.selectbox(key="history_status").set_value("archived").run()
    assert not [k for k in app.checkbox if k.key and k.key.startswith("pick_")]


def test_app_settings_and_presets_are_per_person(app: AppTest, seeded: dict[str, Any]) -> None:
    signed_in(app, BOB_SUB)
    app.run()
    assert SECRET not in wire(app)  # the chat page's preset choice for a new chat
    app.switch_page("pages/settings.py").run()
    assert not app.exception, app.exception
    assert SECRET not in wire(app)  # neither her system prompt nor her preset
    alice_app = signed_in(new_app(), ALICE_SUB)
    alice_app.run()
    alice_app.switch_page("pages/settings.py").run()
    assert SECRET in wire(alice_app)


def test_app_signed_out_reaches_no_data(app: AppTest, seeded: dict[str, Any]) -> None:
    signed_in(app, None)
    app.query_params["c"] = seeded["cid"]
    app.run()
    assert not app.exception, app.exception
    assert SECRET not in wire(app)
    assert list(app.chat_message) == [] and sidebar_conversations(app) == []
    assert [b.label for b in app.button] == ["Sign in"]  # the sign-in page, and only that
