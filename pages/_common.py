"""What every page needs: the service for this browser session, errors shown the same way.

Lives in ``pages/`` beside the pages it serves; Streamlit never lists it because the app's
navigation is built explicitly in ``app.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker
from streamlit.runtime.pages_manager import PagesManager

from chatbot import access, config, quota, spend
from chatbot.conversation import ConversationService
from chatbot.database import open_sessions
from chatbot.endpoints import Endpoints
from chatbot.errors import ChatError
from chatbot.history import HistoryService
from chatbot.i18n import current_language, pick_language, set_language, t, t_md
from chatbot.local_model import LocalModelSetting
from chatbot.preferences import Preferences
from chatbot.presets import Preset
from chatbot.providers import Catalogue, Providers
from chatbot.providers.base import ModelInfo
from chatbot.settings import AppSettings
from chatbot.speech import Speech
from chatbot.tool_switches import ToolSwitches
from chatbot.turns import Turns
from chatbot.voice import Voice
from pages import _conversations
from pages._state import API_KEY, CONTEXT, CONVERSATION, ICON_SET


@st.cache_resource(show_spinner=False)
def _sessions(url: str) -> sessionmaker[Session]:
    return open_sessions(url)


def _secrets() -> dict[str, object]:
    try:
        return dict(st.secrets)
    except Exception:  # no secrets.toml at all is the normal case
        return {}


def server_secrets() -> dict[str, object]:
    """secrets.toml's values ({} without one): where the Settings page finds the server's key."""
    return _secrets()


@dataclass
class Context:
    turns: Turns
    providers: Providers
    settings: AppSettings
    history: HistoryService
    conversations: ConversationService
    preferences: Preferences
    voice: Voice
    speech: Speech
    sessions: sessionmaker[Session]  # the database, for the services one page uses (votes, batches)
    actor: access.Actor = access.LOCAL  # who acts here: may they change the server for everyone?
    endpoints: Endpoints | None = None  # OpenAI-compatible servers (admins add them in Settings)
    local_model: LocalModelSetting | None = None  # the built-in model's GGUF file (admins choose it)
    tool_switches: ToolSwitches | None = None  # each conversation's "Search the web" / "Run code"

    def catalogue(self) -> Catalogue:
        return self.providers.catalogue()

    def default_model(self, catalogue: Catalogue) -> ModelInfo | None:
        return self.providers.default_model(catalogue, self.settings.default_model)


def sign_in_configured() -> bool:
    """Sign-in is on when .streamlit/secrets.toml has an [auth] section (st.login, OIDC)."""
    return isinstance(_secrets().get("auth"), Mapping)


def current_owner() -> str | None:
    """Whose data this session reaches: "" when single-user, None when sign-in is still needed.

    Keyed by the identity provider's issuer and subject, which never change for a person,
    unlike an email address.
    """
    if not sign_in_configured():
        return ""
    user = st.user
    if not user.get("is_logged_in") or not user.get("sub"):
        return None
    return f"{user.get('iss', '')}|{user.get('sub')}"


def current_actor() -> access.Actor | None:
    """Who acts in this session (None: sign-in needed); chatbot.access decides who is an admin."""
    if not sign_in_configured():
        return access.LOCAL
    return access.actor(_secrets(), st.user.to_dict())


def context(owner: str) -> Context:
    secrets = _secrets()
    key = config.api_key(st.session_state.get(API_KEY), secrets)
    key_base_url = config.groq_base_url()  # with the key, whose limits per model are kept (chatbot.spend)
    who = current_actor() or access.Actor(owner, admin=False, signed_in=True)
    try:
        sessions = _sessions(config.database_url())
        budget = quota.budget_for(who, key is not None and key.shared, secrets, sessions)
        endpoints = Endpoints(sessions, secrets)
        # Each endpoint with its key, looked up by its variable's name for this run only.
        local_model = LocalModelSetting(sessions)
        local = local_model.choice().path
        providers = Providers(key.value if key else None, config.groq_base_url(), budget, endpoints.reachable(), local)
        preferences = Preferences(sessions, owner)
        settings = preferences.load_settings()
    except ChatError as error:
        # Locked, read-only or damaged: say so and stop this run. Nothing is cached on failure,
        # so the next run (a reload) tries again; the file itself is never replaced.
        set_language(pick_language(None, st.context.locale))
        show_error(error)
        st.stop()
    return Context(
        spend.guarded(Turns(sessions, providers, owner=owner), sessions, key.value if key else None, key_base_url),
        providers,
        settings,
        HistoryService(sessions, owner=owner),
        ConversationService(sessions, owner),
        preferences,
        Voice(sessions, owner, providers),
        Speech(sessions, owner, providers),
        sessions,
        who,
        endpoints,
        local_model,
        ToolSwitches(sessions, owner),
    )


def sign_in_page() -> None:
    set_language(pick_language(None, st.context.locale))
    st.title("Groq Chat")
    st.write(t("auth.sign_in_needed"))
    st.button(t("auth.sign_in"), icon=":material/login:", type="primary", on_click=st.login)
    st.stop()


def preset_label(preset: Preset) -> str:
    key, values = preset.label_parts()
    return t(key, **values) if key else preset.name


def show_error(error: ChatError) -> None:
    st.error(t_md(error.key, **error.values), icon=":material/error:")  # values as written
    if "settings" in error.actions:
        st.page_link("pages/settings.py", label=t("action.open_settings"), icon=":material/key:")
    if "install_local" in error.actions:
        st.code("pip install -r requirements.txt", language="bash")


# Conversation titles read from the left; no shortcut hint on a touch screen (see the file).
SIDEBAR_CSS = Path(__file__).with_name("_sidebar.css")

# The tab's icon ships with the app: the browser fetches a ":material/..." icon (the page's own,
# when none is set before st.navigation) from Google's font CDN, which offline shows nothing.
ICON = Path(__file__).parent / "assets" / "icon.png"


def show_icon() -> None:
    """Set the tab's icon once the page is drawn: Streamlit reads an image icon with numpy and
    PIL, imports (up to a second on a busy machine) that the first page would otherwise wait for."""
    st.set_page_config(page_icon=ICON)
    ICON_SET.set(True)


def frame() -> st.Page:
    """Page setup, language, navigation and the shared sidebar; returns the page to run."""
    _leave_pages_directory_mode()
    # Until show_icon() has run, an emoji (drawn by the browser, no request) keeps the pages'
    # :material/ icons from becoming the tab's icon.
    st.set_page_config(page_title="Groq Chat", page_icon=None if ICON_SET.get(False) else "⚡")
    owner = current_owner()
    if owner is None:
        sign_in_page()
    ctx = context(owner or "")
    set_language(pick_language(ctx.settings.language, st.context.locale))
    st.session_state[CONTEXT] = ctx
    chat = st.Page("pages/chat.py", title=t("nav.chat"), icon=":material/chat:", url_path="chat", default=True)
    page = st.navigation(
        [
            chat,
            st.Page("pages/models.py", title=t("nav.models"), icon=":material/model_training:", url_path="models"),
            st.Page("pages/usage.py", title=t("nav.usage"), icon=":material/bar_chart:", url_path="usage"),
            st.Page("pages/history.py", title=t("nav.history"), icon=":material/history:", url_path="history"),
            st.Page(
                "pages/leaderboard.py",
                title=t("nav.leaderboard"),
                icon=":material/leaderboard:",
                url_path="leaderboard",
            ),
            st.Page("pages/batch.py", title=t("nav.batch"), icon=":material/dynamic_feed:", url_path="batch"),
            st.Page("pages/settings.py", title=t("nav.settings"), icon=":material/settings:", url_path="settings"),
        ],
        position="top",
    )
    _sidebar(ctx, chat)
    if owner:
        st.sidebar.button(t("auth.sign_out"), icon=":material/logout:", on_click=st.logout, key="sign_out")
    return page


def _sidebar(ctx: Context, chat: st.Page) -> None:
    if not CONVERSATION.present():
        # A fresh browser session (a reload, a shared ?c= link): the URL says which chat is open,
        # and the list is drawn before the chat page runs, so read it here for the highlight.
        CONVERSATION.set(st.query_params.get("c"))
        st.session_state[_conversations.OPEN_MESSAGE] = st.query_params.get("m")
    with st.sidebar:
        st.html(SIDEBAR_CSS)
        _conversations.close_drawer()
        if st.button(
            t("sidebar.new_chat"), icon=":material/add:", width="stretch", key="new_chat", shortcut="ctrl+shift+o"
        ):
            st.session_state[CONVERSATION] = None
            st.query_params.clear()
            st.switch_page(chat)
        _conversations.undo_banner(ctx.history)
        _conversations.conversation_panel(ctx.history, chat, current_language())


def _leave_pages_directory_mode() -> None:
    """Make the very first run after a server start use our navigation.

    Streamlit decides process-wide, at the first session, to list a folder named pages/ by
    itself (PagesManager.uses_pages_directory) until some st.navigation call turns that off.
    That first run would draw a second navigation, may run a page file without app.py, and
    gives widgets other ids than every later run (so the first message typed is lost).
    Nothing has been drawn yet: switch the mode off and start the run again, same URL.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_context() -> Context:
    _leave_pages_directory_mode()  # a page file run directly by that automatic mode
    context: Context = st.session_state[CONTEXT]
    return context
