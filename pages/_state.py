"""The pages' session-state keys, each with the type of what it holds, and the chat's actions.

A key is a ``str`` (so ``st.session_state[KEY]`` and tests reading ``session_state["..."]`` keep
working) that also knows its value's type: ``CONVERSATION.get(None)`` is a ``str | None``. Every
page takes its keys from here, so no two pages spell one differently.

Actions (a button's callback records one, the next full run carries it out) are dataclasses,
dispatched with ``match`` and ``assert_never``: a new kind that a page forgets fails mypy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import streamlit as st
from streamlit.typing import ChatInputValue

from chatbot.attachments import FileText
from chatbot.conversation import Turn
from chatbot.errors import ChatError
from chatbot.reply import NewChatOptions

if TYPE_CHECKING:  # the importers load only when History imports something
    from chatbot.importing import ImportReport

T = TypeVar("T")


class Key(str, Generic[T]):
    """A session-state key whose value is a ``T``."""

    __slots__ = ()

    def get(self, default: T) -> T:
        return cast(T, st.session_state.get(str(self), default))

    def set(self, value: T) -> None:
        st.session_state[str(self)] = value

    def pop(self, default: T) -> T:
        return cast(T, st.session_state.pop(str(self), default))

    def setdefault(self, default: T) -> T:
        return cast(T, st.session_state.setdefault(str(self), default))

    def present(self) -> bool:
        return str(self) in st.session_state


@dataclass(frozen=True)
class Regenerate:
    """A new answer to the question of this reply (also a failed reply's Retry)."""

    message_id: str | None


@dataclass(frozen=True)
class Continue:
    """Extend a cut reply in place."""

    message_id: str | None


@dataclass(frozen=True)
class Show:
    """Page to another version of a message (and what followed it)."""

    message_id: str


@dataclass(frozen=True)
class Fork:
    """A new conversation up to this message."""

    message_id: str


@dataclass(frozen=True)
class Edit:
    """Send an earlier question again, changed, as a new branch."""

    message_id: str
    text: str


Action = Regenerate | Continue | Show | Fork | Edit

# --- every page -------------------------------------------------------------------------------
CONVERSATION = Key[str | None]("conversation_id")  # the open conversation; None: a new chat
NEW_CHAT_MODEL = Key[str]("new_chat_model")  # model key a new chat starts on, until it has an id
CONTEXT = Key[Any]("ctx")  # this run's pages._common.Context (set by app.py's frame)
API_KEY = Key[str]("api_key")  # kept in this browser session only, unless saved to .env
ICON_SET = Key[bool]("tab_icon_set")  # this session's browser tab shows pages._common.ICON

# --- the chat page ------------------------------------------------------------------------------
ACTION = Key[Action | None]("chat_action")  # set by button callbacks, carried out below the history
WINDOW = Key[dict[str, int]]("chat_window")  # conversation id -> how many recent messages are drawn
LIVE = Key[list[str]]("chat_live")  # ids of the messages the fragment drew since the last full run
LIVE_TURNS = Key[dict[str, Turn]]("chat_live_turns")  # their Turns: a fragment run redraws them from here
ACTIONS_SHOWN = Key[str | None]("chat_actions_shown")  # the message whose edit/fork actions are open
NEW_CHAT_PRESET = Key[NewChatOptions | None]("new_chat_preset")  # options a new chat starts with
MODEL_SWITCHES = Key[dict[str | None, int]]("model_switches")  # conversation -> models the core replaced
OPENED = Key[str | None]("chat_opened")  # the conversation last opened (and put at its newest message)
OPENS = Key[int]("chat_opens")  # how many times a conversation was opened in this session (see _chat_view.html)
# The chat input (set only to hand text back to it: refused, or a transcript to review).
PROMPT = Key[str | ChatInputValue | None]("prompt")
# What to send on this run instead of the input's text: a transcript sent at once, a message
# with its files' text, the first part of files that did not fit (the "Send the first part" button).
OUTGOING = Key[str | None]("chat_outgoing")
# Files that did not fit (what was typed, their text, the limit), for "Send the first part".
FILES_TOO_LONG = Key[tuple[str, list[FileText], int] | None]("chat_files_too_long")
REFUSED = Key[ChatError | None]("chat_refused")  # why the text handed back was not sent


# Each of these belongs to one page; kept here with the rest so no key is spelt twice
# (the comparison's own keys are in pages/_compare.py, beside the code that uses them).
HISTORY_VIEW = Key[tuple[str, object] | None]("history_view")  # the search and filters listed (a new one: page 1)
HISTORY_PAGES = Key[int]("history_pages")  # History's pages of conversations loaded so far
IMPORT_RESULT: Key[ImportReport | None] = Key("import_result")  # the last import's report, shown until the next
IMPORT_GENERATION = Key[int]("import_generation")  # a new number gives the import's uploader a new, empty box
SIDEBAR_PAGES = Key[int]("sidebar_pages")  # the sidebar's pages of conversations loaded so far
TRASH_PURGED = Key[bool]("trash_purged")  # old trash was emptied in this browser session
TAG_ERROR = Key[str | None]("tag_error")  # why the sidebar's tags were not saved (said on the next run)
BATCH_ERROR = Key[ChatError | None]("batch_error")  # a refused batch button (said on the next run)
BATCH_REFRESHING = Key[bool]("batch_refreshing")  # the Batch page drew its run as moving (refreshing itself)
